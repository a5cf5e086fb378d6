#pragma once
// Losses return the SUM of per-sample losses over the rows and write scale * dLoss_i/dlogits,
// so a caller averaging over a global batch of G samples passes scale = 1/G.
#include <cstdint>
#include <string>
#include <string_view>

#include "bpt/core/matrix.hpp"

namespace bpt {

enum class Loss { SoftmaxCrossEntropy, Mse };
Loss parse_loss(std::string_view name);  // "cross_entropy" | "mse"; throws Error otherwise
std::string to_string(Loss l);

// Fused, stable (log-sum-exp) softmax + cross-entropy. logits, grad: [B, K]; labels in [0, K). grad may alias logits.
// smoothing e: the target is (1 - e) one-hot + e / K (PyTorch's CrossEntropyLoss(label_smoothing=e)).
template <class T>
double softmax_cross_entropy(ConstMatView<T> logits, const std::int32_t* labels, MatView<T> grad, T scale,
                             T smoothing = T(0));

// Per-sample loss mean_k (y_k - t_k)^2 (PyTorch MSELoss 'mean' over a batch of one).
// targets: [B, K], or nullptr with labels given: one-hot targets. grad may be empty (data == nullptr).
template <class T>
double mse(ConstMatView<T> out, const T* targets, const std::int32_t* labels, MatView<T> grad, T scale);

// Rows whose arg-max equals the label (first maximum on ties).
template <class T>
std::size_t count_correct(ConstMatView<T> logits, const std::int32_t* labels);

}  // namespace bpt
