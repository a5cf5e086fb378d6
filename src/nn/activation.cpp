#include "bpt/nn/activation.hpp"

#include "bpt/core/error.hpp"

namespace bpt {

Activation parse_activation(std::string_view name) {
  if (name == "identity" || name == "linear") return Activation::Identity;
  if (name == "relu") return Activation::Relu;
  if (name == "leaky_relu") return Activation::LeakyRelu;
  if (name == "tanh") return Activation::Tanh;
  if (name == "sigmoid") return Activation::Sigmoid;
  throw Error("unknown activation '" + std::string(name) + "' (expected relu, leaky_relu, tanh, sigmoid, identity)");
}

std::string to_string(Activation a) {
  switch (a) {
    case Activation::Identity: return "identity";
    case Activation::Relu: return "relu";
    case Activation::LeakyRelu: return "leaky_relu";
    case Activation::Tanh: return "tanh";
    case Activation::Sigmoid: return "sigmoid";
  }
  return "?";
}

}  // namespace bpt
