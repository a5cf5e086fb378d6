#include "bpt/nn/activation.hpp"

#include "bpt/core/names.hpp"

namespace bpt {

namespace {
constexpr NameOf<Activation> kActivations[] = {{Activation::Relu, "relu"},       {Activation::LeakyRelu, "leaky_relu"},
                                               {Activation::Tanh, "tanh"},       {Activation::Sigmoid, "sigmoid"},
                                               {Activation::Identity, "identity"}, {Activation::Identity, "linear"}};
}  // namespace

Activation parse_activation(std::string_view name) { return parse_name(kActivations, name, "activation"); }
std::string to_string(Activation a) { return name_of(kActivations, a); }

}  // namespace bpt
