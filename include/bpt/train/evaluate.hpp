#pragma once
// Evaluation split across ranks, counts summed: no sample is counted twice or missed.
#include <cstdint>
#include <vector>

#include "bpt/data/dataset.hpp"
#include "bpt/comm/comm.hpp"
#include "bpt/model/model.hpp"

namespace bpt {

struct EvalResult {
  double loss = 0;      // mean per-sample loss
  double accuracy = 0;  // classification: fraction of arg-max hits
  double rmse = 0;      // regression: root mean squared error over all outputs
  std::size_t samples = 0;
};

struct EvalExtras {
  std::vector<double> confusion;     // classification: [K, K], row = true class, column = predicted
  std::vector<float> predictions;    // [samples, 1] predicted class, or [samples, K] regression outputs
  std::vector<float> probabilities;  // classification: [samples, K], the softmax of the outputs
  bool want_confusion = false, want_predictions = false, want_probabilities = false;
};

// rows: a subset of ds (nullptr: all of it). Collective over comm; extras are complete on every rank.
EvalResult evaluate_model(Model& model, const Dataset& ds, const std::vector<std::uint32_t>* rows, const Comm& comm,
                          std::size_t batch, EvalExtras* extras = nullptr);

}  // namespace bpt
