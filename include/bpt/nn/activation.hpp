#pragma once
#include <cmath>
#include <string>
#include <string_view>

#include "bpt/core/matrix.hpp"

namespace bpt {

enum class Activation { Identity, Relu, LeakyRelu, Tanh, Sigmoid };

inline constexpr float kLeakySlope = 0.01f;  // PyTorch's nn.LeakyReLU default

Activation parse_activation(std::string_view name);  // throws Error on an unknown name
std::string to_string(Activation a);

// f(z) and f'(z); f'(z) is given a = f(z) too, since tanh and sigmoid are cheaper from a.
template <class T>
inline T activate(Activation f, T z) {
  switch (f) {
    case Activation::Identity: return z;
    case Activation::Relu: return z > T(0) ? z : T(0);
    case Activation::LeakyRelu: return z > T(0) ? z : T(kLeakySlope) * z;
    case Activation::Tanh: return std::tanh(z);
    case Activation::Sigmoid: return T(1) / (T(1) + std::exp(-z));
  }
  return z;
}

template <class T>
inline T activate_grad(Activation f, T z, T a) {
  switch (f) {
    case Activation::Identity: return T(1);
    case Activation::Relu: return z > T(0) ? T(1) : T(0);
    case Activation::LeakyRelu: return z > T(0) ? T(1) : T(kLeakySlope);
    case Activation::Tanh: return T(1) - a * a;
    case Activation::Sigmoid: return a * (T(1) - a);
  }
  return T(1);
}

// delta *= f'(z), row by row (a = f(z)); nothing for Identity. z, a, delta: [B, n].
template <class T>
void activation_backward(Activation f, ConstMatView<T> z, ConstMatView<T> a, MatView<T> delta);

}  // namespace bpt
