#pragma once
// Typed wrappers over MPI. The header is MPI-free: modules that use comm never see mpi.h.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace bpt {

// RAII MPI environment: MPI_Init_thread(FUNNELED) in the constructor, MPI_Finalize in the destructor.
class MpiEnv {
 public:
  MpiEnv(int* argc, char*** argv);
  ~MpiEnv();
  MpiEnv(const MpiEnv&) = delete;
  MpiEnv& operator=(const MpiEnv&) = delete;
};

// What a rank is doing, for the stall watch's heartbeat and its verdict (and the timeline's tracks).
enum class Phase : std::uint8_t { Startup, Data, Forward, Backward, Sum, Vote, Optimizer, Gather, Check, Evaluate, Checkpoint, Report, Done };
// "backward", "bucket 3's sum" (detail: the bucket), "the vote", ...
std::string phase_text(Phase p, int detail = -1);

struct Watch;  // the stall watch (comm/watch.cpp)

class Comm {
 public:
  static Comm world();  // MPI_COMM_WORLD
  static Comm self();   // MPI_COMM_SELF: this rank alone (a single-process reference inside an MPI job)
  int rank() const { return rank_; }
  int size() const { return size_; }

  void barrier() const;
  // In-place sums over all ranks; counts above INT_MAX are chunked.
  void allreduce_sum(std::span<float> v) const;
  void allreduce_sum(std::span<double> v) const;
  void broadcast(std::span<float> v, int root) const;
  void broadcast(std::span<std::uint8_t> v, int root) const;
  std::vector<std::uint64_t> allgather(std::uint64_t v) const;
  // Concatenation of every rank's equally long `mine`, on every rank.
  std::vector<std::uint64_t> allgather(std::span<const std::uint64_t> mine) const;
  long allreduce_max(long v) const;
  // Concatenation of every rank's equally long `mine`, on root (empty elsewhere).
  std::vector<double> gather(const std::vector<double>& mine, int root) const;
  // Concatenation of every rank's text, in rank order, on root (empty elsewhere). Below 2 GiB in all.
  std::string gather_text(const std::string& mine, int root) const;
  // Exchange equal-sized buffers with a partner rank (send mine, receive theirs).
  void sendrecv(std::span<const float> mine, std::span<float> theirs, int partner) const;
  // Ends every rank of the job. Never returns.
  [[noreturn]] void abort(int code) const;

  // Stall detection (--stall-timeout). Collective; a no-op with one rank, a timeout of 0, or under a
  // simulator. From then on every wait of this Comm's collectives and of the gradient reducer built on
  // it polls instead of blocking, and each rank tells rank 0 (and rank 0 tells rank 1) where it is, at
  // most every timeout/40 s, in one small non-blocking message. A wait that outlasts timeout_s ends
  // the job: rank 0 prints one line naming the ranks it has not heard from lately, their hosts and
  // what they were last doing, and calls MPI_Abort(exit_code); if rank 0 is the silent one, rank 1
  // does, a little later. At half the timeout rank 0 warns (unless quiet).
  void watch_stalls(double timeout_s, int exit_code, bool quiet);
  // Where this rank is now (cheap: a few stores; at most every timeout/40 s a heartbeat). step < 0
  // keeps the step last given.
  void phase(Phase p, int detail = -1, std::int64_t step = -1) const;

  // The MPI_Comm, as an opaque integer handle for the comm module's own implementation files.
  std::uintptr_t handle() const { return handle_; }
  Watch* watch() const { return watch_.get(); }  // for the comm module's waits; null when off

 private:
  Comm(std::uintptr_t h, int rank, int size) : handle_(h), rank_(rank), size_(size) {}
  std::uintptr_t handle_;
  int rank_, size_;
  std::shared_ptr<Watch> watch_;  // shared by copies: one watch per communicator
};

// Where the ranks sit: the ranks that share this rank's node (MPI_COMM_TYPE_SHARED) and its place
// among them, for the hierarchical gradient sum.
struct NodeLayout {
  int node = 0, nodes = 1;      // this rank's node, in the order of the nodes' lowest ranks
  int local = 0, per_node = 1;  // this rank's index on its node; ranks on its node
  bool uniform = true;          // every node has per_node ranks
  std::vector<int> node_group;  // the world ranks on this node, in local order
  std::vector<int> cross_group; // the world ranks with this local index, one per node, in node order
};
// Collective. Under SMPI, a node is a simulated host.
NodeLayout node_layout(const Comm& comm);
// The layout of ranks placed node by node, per_node to a node (for tests of the hierarchical sum on
// one machine). Requires per_node to divide size.
NodeLayout block_layout(int rank, int size, int per_node);

// Runs f on every rank, then compares the outcomes in one collective: if f threw on any rank, every
// rank throws an agreed CollectiveError, its where() grouping the ranks by their message ("(all 1024
// ranks)", "on ranks 3, 17-19 (4 of 1024)"), so each distinct message is printed once, by the first
// rank of its group. Its exit code is the largest any rank had
// (an Error: 1; a CollectiveError: its own). f must not call collectives.
void agree_on_errors(const Comm& comm, const std::function<void()>& f);
// Runs f on rank 0 alone (a check of shared state, such as the file system, that a thousand ranks
// should not repeat) and gives its outcome to every rank: if f threw, every rank throws the same
// agreed CollectiveError, printed once by rank 0. f must not call collectives.
void agree_on_root(const Comm& comm, const std::function<void()>& f);
// Every rank's settings (name, value: e.g. every flag of the command line) compared with rank 0's in
// one small collective (two more only when they differ). Where they differ, every rank throws an agreed
// CollectiveError (exit 2, printed by rank 0) naming each setting, rank 0's value and the ranks that
// differ. Call it before any collective that a setting decides, so that ranks started with different
// flags are named instead of waiting in different collectives.
void agree_on_settings(const Comm& comm, const std::vector<std::pair<std::string, std::string>>& settings);
// "0-3, 7, 9-10" for ascending ranks.
std::string rank_list(const std::vector<int>& ranks);

// This rank's host (MPI_Get_processor_name; a simulated host under SMPI).
std::string host_name();

// Seconds from MPI_Wtime: the one clock behind every time bptrain reports, so that under a simulator
// (SimGrid's SMPI) the figures are simulated time, not the host's.
double wall_time();

// Ranks whose value differs from rank 0's, e.g. "1, 3" (empty when all agree).
std::string ranks_differing(const std::vector<std::uint64_t>& values);

}  // namespace bpt
