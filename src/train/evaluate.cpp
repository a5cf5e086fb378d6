#include "bpt/train/evaluate.hpp"

#include <algorithm>
#include <cmath>

#include "bpt/core/buffer.hpp"
#include "bpt/nn/loss.hpp"

namespace bpt {

EvalResult evaluate_model(Model& model, const Dataset& ds, const std::vector<std::uint32_t>* rows, const Comm& comm,
                          std::size_t batch, EvalExtras* ex) {
  // The samples are cut into blocks of `batch` by position, the same blocks whatever the rank count;
  // each rank evaluates a contiguous run of blocks. A block's figures are the same bits on any rank,
  // each block is one rank's, and the blocks are added up in order (on rank 0): the metrics do not
  // depend on the rank count.
  const std::size_t total = rows ? rows->size() : ds.n;
  // A block larger than the set is the set in one block (the same blocks, so the same figures).
  batch = std::max<std::size_t>(1, std::min(batch, total));
  const std::size_t nblocks = (total + batch - 1) / batch;
  const Range mine = shard(nblocks, static_cast<std::size_t>(comm.rank()), static_cast<std::size_t>(comm.size()));
  const std::size_t k = ds.target_dim, outs = model.out(model.num_layers() - 1);
  std::vector<std::uint32_t> idx(batch);
  std::vector<std::int32_t> labels(batch);
  Buffer<float> x(batch * ds.d), t(batch * std::max<std::size_t>(1, k));
  if (ex && ex->want_confusion) ex->confusion.assign(ds.regression() ? 0 : outs * outs, 0.0);
  const std::size_t pw = ds.regression() ? k : 1;
  const bool scaled = ds.regression() && !ds.target_tf.offset.empty();  // --normalize-targets
  if (ex && ex->want_predictions) ex->predictions.assign(total * pw, 0.0f);
  if (ex && ex->want_probabilities) ex->probabilities.assign(ds.regression() ? 0 : total * outs, 0.0f);
  // This rank's blocks' figures, padded to the longest share: loss sums, then (after `share`) hits.
  const auto ranks = static_cast<std::size_t>(comm.size());
  const std::size_t share = (nblocks + ranks - 1) / ranks;
  std::vector<double> fig(2 * share, 0.0);
  double* loss = fig.data();
  double* correct = fig.data() + share;
  for (std::size_t b = mine.begin; b < mine.end; ++b) {
    const std::size_t at = b * batch, count = std::min(batch, total - at), i = b - mine.begin;
    for (std::size_t r = 0; r < count; ++r) {
      idx[r] = rows ? (*rows)[at + r] : static_cast<std::uint32_t>(at + r);
      if (ds.unlabeled) continue;  // predictions only
      if (ds.regression())
        ds.target_row(idx[r], t.data() + r * k);
      else
        labels[r] = ds.label(idx[r]);
    }
    ds.gather(idx.data(), count, x.data());
    ConstMatView<float> y = model.forward(ConstMatView<float>(x.data(), count, ds.d));
    if (!ds.unlabeled)
      loss[i] = model.loss_of_last(ds.regression() ? Targets<float>{nullptr, t.data()} : Targets<float>{labels.data(), nullptr});
    if (!ds.regression() && !ds.unlabeled) correct[i] = static_cast<double>(count_correct(y, labels.data()));
    // Regression: the outputs in the targets' units (as they are without --normalize-targets), for the
    // predictions and, with the targets scaled for the model, the squared error in their units.
    if (ds.regression() && (scaled || (ex && ex->want_predictions))) {
      std::vector<float> p(k);
      for (std::size_t r = 0; r < count; ++r) {
        std::copy_n(y.row(r), k, p.data());
        ds.untransform_targets(p.data());
        if (scaled && !ds.unlabeled)
          for (std::size_t j = 0; j < k; ++j) {
            const double e = double(p[j]) - double(ds.targets[std::size_t(idx[r]) * k + j]);
            correct[i] += e * e;
          }
        if (ex && ex->want_predictions) std::copy_n(p.data(), k, ex->predictions.data() + (at + r) * k);
      }
    }
    if (!ex || ds.regression()) continue;
    for (std::size_t r = 0; r < count; ++r) {
      const float* yr = y.row(r);
      const auto pred = static_cast<std::size_t>(std::max_element(yr, yr + outs) - yr);
      if (ex->want_confusion && !ds.unlabeled) ex->confusion[static_cast<std::size_t>(labels[r]) * outs + pred] += 1;
      if (ex->want_predictions) ex->predictions[at + r] = static_cast<float>(pred);
      if (ex->want_probabilities) {  // softmax in double, shifted by the largest output (no overflow)
        double sum = 0;
        for (std::size_t c = 0; c < outs; ++c) sum += std::exp(double(yr[c]) - double(yr[pred]));
        float* p = ex->probabilities.data() + (at + r) * outs;
        for (std::size_t c = 0; c < outs; ++c) p[c] = static_cast<float>(std::exp(double(yr[c]) - double(yr[pred])) / sum);
      }
    }
  }
  // Every rank's blocks on rank 0, added there in block order (rank by rank, each rank's blocks in
  // order), then broadcast: the same bits at any rank count. (An allreduce of every block's figures,
  // each block filled by one rank, added the same values; memory per rank grew with the blocks, which
  // a simulation of thousands of ranks with a block each made ranks^2 on one host.)
  const std::vector<double> all = comm.gather(fig, 0);
  double sums[2] = {0, 0};  // loss, hits
  for (std::size_t r = 0; share > 0 && r < all.size() / (2 * share); ++r) {
    const std::size_t blocks = shard(nblocks, r, ranks).size();
    const double* from = all.data() + r * 2 * share;
    for (std::size_t j = 0; j < blocks; ++j) sums[0] += from[j];
    for (std::size_t j = 0; j < blocks; ++j) sums[1] += from[share + j];
  }
  comm.broadcast(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(sums), sizeof sums), 0);
  if (ex) {  // each entry was filled by exactly one rank, so the sums are exact
    comm.allreduce_sum(std::span<double>(ex->confusion));
    comm.allreduce_sum(std::span<float>(ex->predictions));
    comm.allreduce_sum(std::span<float>(ex->probabilities));
  }
  const double loss_sum = sums[0], hits = sums[1];
  EvalResult e;
  e.samples = total;
  e.loss = total ? loss_sum / double(total) : 0;
  e.accuracy = total && !ds.regression() ? hits / double(total) : 0;
  // MSE's per-sample loss is the mean squared error over the outputs, so this is the RMSE over all; with
  // the targets scaled for the model, the RMSE is the one in the targets' own units (their sum above).
  e.rmse = scaled ? (total ? std::sqrt(hits / double(total * k)) : 0.0) : std::sqrt(e.loss);
  return e;
}

}  // namespace bpt
