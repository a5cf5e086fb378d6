#include "bpt/comm/comm.hpp"

#include <mpi.h>

#include "handle.hpp"
#include "watch.hpp"

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "bpt/core/error.hpp"
#include "bpt/core/hash.hpp"

namespace bpt {
namespace {

MPI_Comm mpi(std::uintptr_t h) { return to_comm(h); }

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    throw Error(std::string(what) + " failed: " + std::string(msg, static_cast<std::size_t>(len)));
  }
}

constexpr std::size_t kChunk = static_cast<std::size_t>(INT_MAX);

// One collective: the blocking call, or under a stall watch its non-blocking twin and a watched wait.
template <class Blocking, class NonBlocking>
void collective(const Comm& comm, const char* what, Blocking blocking, NonBlocking nonblocking) {
  if (!comm.watch()) {
    check(blocking(), what);
    return;
  }
  MPI_Request r = MPI_REQUEST_NULL;
  check(nonblocking(&r), what);
  wait_all(comm, 1, &r, what);
}

template <class T>
void chunked_allreduce(const Comm& comm, std::span<T> v, MPI_Datatype type) {
  const MPI_Comm c = mpi(comm.handle());
  for (std::size_t at = 0; at < v.size(); at += kChunk) {
    int n = static_cast<int>(std::min(kChunk, v.size() - at));
    collective(
        comm, "MPI_Allreduce", [&] { return MPI_Allreduce(MPI_IN_PLACE, v.data() + at, n, type, MPI_SUM, c); },
        [&](MPI_Request* r) { return MPI_Iallreduce(MPI_IN_PLACE, v.data() + at, n, type, MPI_SUM, c, r); });
  }
}

template <class T>
void chunked_broadcast(const Comm& comm, std::span<T> v, MPI_Datatype type, int root) {
  const MPI_Comm c = mpi(comm.handle());
  for (std::size_t at = 0; at < v.size(); at += kChunk) {
    int n = static_cast<int>(std::min(kChunk, v.size() - at));
    collective(
        comm, "MPI_Bcast", [&] { return MPI_Bcast(v.data() + at, n, type, root, c); },
        [&](MPI_Request* r) { return MPI_Ibcast(v.data() + at, n, type, root, c, r); });
  }
}

}  // namespace

MpiEnv::MpiEnv(int* argc, char*** argv) {
  // Started alone (no launcher), Open MPI 4.1 forks a helper daemon (orted) for the one process. Its
  // "isolated" singletons (OMPI_MCA_ess_singleton_isolated=1, 0.2 s quicker) are not used: they all
  // take the same name and so the same session folder (/tmp/ompi.HOST.UID/jf.0/1/0), which the first
  // of them to finish removes under the others (seen: a singleton's MPI_Finalize removed a running
  // one's folder); three fresh-clone test runs had a one-process run end with exit 1 and no line.
  int provided = 0;
  check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  // Errors come back as codes, which check() turns into bpt::Error with a message.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
}

MpiEnv::~MpiEnv() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

Comm Comm::world() {
  int r = 0, s = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return Comm(to_handle(MPI_COMM_WORLD), r, s);
}

Comm Comm::self() { return Comm(to_handle(MPI_COMM_SELF), 0, 1); }

void Comm::barrier() const {
  const MPI_Comm c = mpi(handle_);
  collective(*this, "MPI_Barrier", [&] { return MPI_Barrier(c); }, [&](MPI_Request* r) { return MPI_Ibarrier(c, r); });
}

void Comm::allreduce_sum(std::span<float> v) const { chunked_allreduce(*this, v, MPI_FLOAT); }
void Comm::allreduce_sum(std::span<double> v) const { chunked_allreduce(*this, v, MPI_DOUBLE); }
void Comm::broadcast(std::span<float> v, int root) const { chunked_broadcast(*this, v, MPI_FLOAT, root); }
void Comm::broadcast(std::span<std::uint8_t> v, int root) const { chunked_broadcast(*this, v, MPI_BYTE, root); }

std::vector<std::uint64_t> Comm::allgather(std::uint64_t v) const {
  std::vector<std::uint64_t> all(static_cast<std::size_t>(size_));
  const MPI_Comm c = mpi(handle_);
  collective(
      *this, "MPI_Allgather", [&] { return MPI_Allgather(&v, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, c); },
      [&](MPI_Request* r) { return MPI_Iallgather(&v, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, c, r); });
  return all;
}

std::vector<std::uint64_t> Comm::allgather(std::span<const std::uint64_t> mine) const {
  std::vector<std::uint64_t> all(static_cast<std::size_t>(size_) * mine.size());
  require(mine.size() <= static_cast<std::size_t>(INT_MAX), "allgather: more than INT_MAX values per rank");
  const int n = static_cast<int>(mine.size());
  const MPI_Comm c = mpi(handle_);
  collective(
      *this, "MPI_Allgather", [&] { return MPI_Allgather(mine.data(), n, MPI_UINT64_T, all.data(), n, MPI_UINT64_T, c); },
      [&](MPI_Request* r) { return MPI_Iallgather(mine.data(), n, MPI_UINT64_T, all.data(), n, MPI_UINT64_T, c, r); });
  return all;
}

long Comm::allreduce_max(long v) const {
  long out = 0;
  const MPI_Comm c = mpi(handle_);
  collective(
      *this, "MPI_Allreduce", [&] { return MPI_Allreduce(&v, &out, 1, MPI_LONG, MPI_MAX, c); },
      [&](MPI_Request* r) { return MPI_Iallreduce(&v, &out, 1, MPI_LONG, MPI_MAX, c, r); });
  return out;
}

std::vector<double> Comm::gather(const std::vector<double>& mine, int root) const {
  require(mine.size() <= kChunk, "gather: more than INT_MAX values per rank");
  std::vector<double> all(rank_ == root ? mine.size() * static_cast<std::size_t>(size_) : 0);
  const MPI_Comm c = mpi(handle_);
  const int n = static_cast<int>(mine.size());
  collective(
      *this, "MPI_Gather",
      [&] { return MPI_Gather(mine.data(), n, MPI_DOUBLE, all.data(), n, MPI_DOUBLE, root, c); },
      [&](MPI_Request* r) { return MPI_Igather(mine.data(), n, MPI_DOUBLE, all.data(), n, MPI_DOUBLE, root, c, r); });
  return all;
}

std::string Comm::gather_text(const std::string& mine, int root) const {
  require(mine.size() < kChunk, "gather_text: a rank's text is over 2 GiB");
  const MPI_Comm c = mpi(handle_);
  int len = static_cast<int>(mine.size());
  std::vector<int> lens(rank_ == root ? static_cast<std::size_t>(size_) : 0), at;
  collective(
      *this, "MPI_Gather", [&] { return MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, root, c); },
      [&](MPI_Request* r) { return MPI_Igather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, root, c, r); });
  std::string all;
  if (rank_ == root) {
    std::size_t total = 0;
    for (int l : lens) {
      at.push_back(static_cast<int>(total));
      total += static_cast<std::size_t>(l);
      require(total < kChunk, "gather_text: the ranks' texts are over 2 GiB together");
    }
    all.resize(total);
  }
  collective(
      *this, "MPI_Gatherv",
      [&] { return MPI_Gatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), at.data(), MPI_CHAR, root, c); },
      [&](MPI_Request* r) {
        return MPI_Igatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), at.data(), MPI_CHAR, root, c, r);
      });
  return all;
}

void Comm::sendrecv(std::span<const float> mine, std::span<float> theirs, int partner) const {
  require(mine.size() == theirs.size(), "sendrecv: buffer sizes differ");
  const MPI_Comm c = mpi(handle_);
  for (std::size_t at = 0; at < mine.size(); at += kChunk) {
    int n = static_cast<int>(std::min(kChunk, mine.size() - at));
    if (!watch_) {
      check(MPI_Sendrecv(mine.data() + at, n, MPI_FLOAT, partner, 17, theirs.data() + at, n, MPI_FLOAT, partner, 17, c,
                         MPI_STATUS_IGNORE),
            "MPI_Sendrecv");
      continue;
    }
    MPI_Request r[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
    check(MPI_Irecv(theirs.data() + at, n, MPI_FLOAT, partner, 17, c, &r[0]), "MPI_Irecv");
    check(MPI_Isend(mine.data() + at, n, MPI_FLOAT, partner, 17, c, &r[1]), "MPI_Isend");
    wait_all(*this, 2, r, "MPI_Sendrecv");
  }
}

void Comm::abort(int code) const {
  MPI_Abort(mpi(handle_), code);
  std::abort();
}

double wall_time() { return MPI_Wtime(); }

std::string host_name() {
  char name[MPI_MAX_PROCESSOR_NAME] = {};
  int len = 0;
  MPI_Get_processor_name(name, &len);
  return std::string(name, static_cast<std::size_t>(len > 0 ? len : 0));
}

NodeLayout block_layout(int rank, int size, int per_node) {
  require(per_node >= 1 && size % per_node == 0, "block_layout: ranks per node must divide the rank count");
  NodeLayout l;
  l.per_node = per_node;
  l.nodes = size / per_node;
  l.node = rank / per_node;
  l.local = rank % per_node;
  for (int i = 0; i < per_node; ++i) l.node_group.push_back(l.node * per_node + i);
  for (int i = l.local; i < size; i += per_node) l.cross_group.push_back(i);
  return l;
}

NodeLayout node_layout(const Comm& comm) {
  MPI_Comm node = MPI_COMM_NULL;
  check(MPI_Comm_split_type(mpi(comm.handle()), MPI_COMM_TYPE_SHARED, comm.rank(), MPI_INFO_NULL, &node),
        "MPI_Comm_split_type");
  NodeLayout l;
  MPI_Comm_rank(node, &l.local);
  MPI_Comm_size(node, &l.per_node);
  l.node_group.resize(static_cast<std::size_t>(l.per_node));
  const int me = comm.rank();
  check(MPI_Allgather(&me, 1, MPI_INT, l.node_group.data(), 1, MPI_INT, node), "MPI_Allgather");
  MPI_Comm_free(&node);
  // Every rank: its node's lowest rank, its local index and its node's size, in one word.
  const std::uint64_t word = (static_cast<std::uint64_t>(l.node_group.front()) << 32) |
                             (static_cast<std::uint64_t>(l.local) << 16) | static_cast<std::uint64_t>(l.per_node);
  const std::vector<std::uint64_t> all = comm.allgather(word);
  // The nodes' leaders, ascending: each node's lowest rank is its own leader. (One pass: every rank
  // does this over all ranks, which on a simulator's one host is ranks^2 in all; a sort made it
  // ranks^2 log ranks.)
  std::vector<int> leaders;
  for (std::size_t r = 0; r < all.size(); ++r) {
    if (static_cast<std::size_t>(all[r] >> 32) == r) leaders.push_back(static_cast<int>(r));
    if (static_cast<int>(all[r] & 0xffff) != l.per_node) l.uniform = false;
  }
  l.nodes = static_cast<int>(leaders.size());
  l.node = static_cast<int>(std::lower_bound(leaders.begin(), leaders.end(), l.node_group.front()) - leaders.begin());
  if (!l.uniform) return l;
  l.cross_group.assign(leaders.size(), -1);
  for (std::size_t r = 0; r < all.size(); ++r)
    if (static_cast<int>((all[r] >> 16) & 0xffff) == l.local) {
      const auto n = std::lower_bound(leaders.begin(), leaders.end(), static_cast<int>(all[r] >> 32)) - leaders.begin();
      l.cross_group[static_cast<std::size_t>(n)] = static_cast<int>(r);
    }
  return l;
}

std::string rank_list(const std::vector<int>& ranks) {
  std::string out;
  for (std::size_t i = 0; i < ranks.size();) {
    std::size_t j = i;
    while (j + 1 < ranks.size() && ranks[j + 1] == ranks[j] + 1) ++j;
    if (!out.empty()) out += ", ";
    out += std::to_string(ranks[i]);
    if (j > i) out += (j == i + 1 ? ", " : "-") + std::to_string(ranks[j]);
    i = j + 1;
  }
  return out;
}

namespace {

// Runs f; returns 0, or the exit code of what it threw, with the message in `what`.
int outcome(const std::function<void()>& f, std::string& what) {
  try {
    f();
  } catch (const CollectiveError& e) {
    what = e.what();
    return e.exit_code();
  } catch (const std::exception& e) {
    what = e.what();
    return 1;
  }
  return 0;
}

}  // namespace

void agree_on_errors(const Comm& comm, const std::function<void()>& f) {
  std::string what;
  const int code = outcome(f, what);
  // One word per rank: 0 for success, else the message's hash with the exit code in its low byte.
  const std::uint64_t mine = code == 0 ? 0 : ((fnv1a(what) | 0x100) & ~std::uint64_t{0xff}) | static_cast<std::uint8_t>(code);
  const std::vector<std::uint64_t> all = comm.allgather(mine);
  int worst = 0;
  for (std::uint64_t v : all) worst = std::max(worst, static_cast<int>(v & 0xff));
  if (worst == 0) return;
  if (mine == 0) throw CollectiveError("", worst).agreed_as(false, "");  // another rank speaks
  std::vector<int> group;
  for (std::size_t r = 0; r < all.size(); ++r)
    if (all[r] == mine) group.push_back(static_cast<int>(r));
  const int n = comm.size();
  std::string where;
  if (static_cast<int>(group.size()) == n)
    where = CollectiveError::all_ranks(n);
  else if (group.size() == 1)
    where = "on rank " + std::to_string(group[0]) + " (of " + std::to_string(n) + ")";
  else
    where = "on ranks " + rank_list(group) + " (" + std::to_string(group.size()) + " of " + std::to_string(n) + ")";
  throw CollectiveError(what, worst).agreed_as(group.front() == comm.rank(), where);
}

void agree_on_root(const Comm& comm, const std::function<void()>& f) {
  std::string what;
  const int code = comm.rank() == 0 ? outcome(f, what) : 0;
  // The code and the message's length, then the message.
  std::uint64_t head[2] = {static_cast<std::uint64_t>(code), what.size()};
  std::span<std::uint8_t> hb(reinterpret_cast<std::uint8_t*>(head), sizeof head);
  comm.broadcast(hb, 0);
  if (head[0] == 0) return;
  what.resize(head[1]);
  comm.broadcast(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(what.data()), what.size()), 0);
  const int n = comm.size();
  throw CollectiveError(what, static_cast<int>(head[0]))
      .agreed_as(comm.rank() == 0, n > 1 ? "(checked on rank 0 for all " + std::to_string(n) + " ranks)" : "");
}

void agree_on_settings(const Comm& comm, const std::vector<std::pair<std::string, std::string>>& settings) {
  std::vector<std::uint64_t> mine;
  std::uint64_t whole = fnv1a_word(settings.size());
  for (const auto& [name, value] : settings) {
    mine.push_back(fnv1a(value, fnv1a(name + '\0')));
    whole = fnv1a_word(mine.back(), whole);
  }
  if (ranks_differing(comm.allgather(whole)).empty()) return;
  // Another build of bptrain can have other settings altogether: compare their names first.
  std::uint64_t names = fnv1a_word(settings.size());
  for (const auto& s : settings) names = fnv1a(s.first + '\0', names);
  const std::string other_build = ranks_differing(comm.allgather(names));
  const auto fail = [&](const std::string& what) {
    throw CollectiveError(what + "; start every rank with the same command line").agreed_by_all(comm.rank(), comm.size());
  };
  if (!other_build.empty()) fail("ranks " + other_build + " run a program with other settings than rank 0's");
  const std::vector<std::uint64_t> all = comm.allgather(std::span<const std::uint64_t>(mine));
  std::string out;
  for (std::size_t k = 0; k < settings.size(); ++k) {
    std::vector<int> differ;
    for (std::size_t r = 1; r < static_cast<std::size_t>(comm.size()); ++r)
      if (all[r * settings.size() + k] != all[k]) differ.push_back(static_cast<int>(r));
    if (differ.empty()) continue;
    if (!out.empty()) out += ", ";
    // Only rank 0 speaks, with its own value.
    out += settings[k].first + " on " + (differ.size() == 1 ? "rank " : "ranks ") + rank_list(differ) + " (rank 0: " +
           (settings[k].second.empty() ? "''" : settings[k].second) + ")";
  }
  fail("ranks disagree with rank 0 on " + out);
}

std::string ranks_differing(const std::vector<std::uint64_t>& values) {
  std::string out;
  for (std::size_t r = 1; r < values.size(); ++r) {
    if (values[r] == values[0]) continue;
    if (!out.empty()) out += ", ";
    out += std::to_string(r);
  }
  return out;
}

}  // namespace bpt
