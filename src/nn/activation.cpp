#include "bpt/nn/activation.hpp"

#include "bpt/core/names.hpp"
#include "bpt/core/sim_cost.hpp"

namespace bpt {

namespace {
constexpr NameOf<Activation> kActivations[] = {{Activation::Relu, "relu"},       {Activation::LeakyRelu, "leaky_relu"},
                                               {Activation::Tanh, "tanh"},       {Activation::Sigmoid, "sigmoid"},
                                               {Activation::Identity, "identity"}, {Activation::Identity, "linear"}};
}  // namespace

Activation parse_activation(std::string_view name) { return parse_name(kActivations, name, "activation"); }
std::string to_string(Activation a) { return name_of(kActivations, a); }

template <class T>
void activation_backward(Activation f, ConstMatView<T> z, ConstMatView<T> a, MatView<T> delta) {
  if (f == Activation::Identity) return;
  const std::size_t n = delta.cols;
  sim::Kernel kernel("act_back", delta.rows, n, 1 + static_cast<std::size_t>(f));
  if (kernel.skip()) return;
  for (std::size_t r = 0; r < delta.rows; ++r) {
    T* dr = delta.row(r);
    const T* zr = z.row(r);
    const T* ar = a.row(r);
    if (f == Activation::Relu) {  // the branch outside the inner loop lets it vectorise
      for (std::size_t c = 0; c < n; ++c) dr[c] = zr[c] > T(0) ? dr[c] : T(0);
    } else {
      for (std::size_t c = 0; c < n; ++c) dr[c] *= activate_grad(f, zr[c], ar[c]);
    }
  }
}

template void activation_backward<float>(Activation, ConstMatView<float>, ConstMatView<float>, MatView<float>);
template void activation_backward<double>(Activation, ConstMatView<double>, ConstMatView<double>, MatView<double>);

}  // namespace bpt
