// The stall watch: a heartbeat to rank 0, and waits that give up.
//
// Rules. Only the main thread calls MPI (MPI_THREAD_FUNNELED), so nothing here runs on its own: the
// watch advances when the rank says where it is (Comm::phase) and while it waits (wait_all,
// wait_any). A rank that stops making progress (stopped, swapped out, stuck in a file system, or in a
// collective the others never reach) stops sending; every other rank soon waits for it in some
// collective or bucket sum. Rank 0, waiting, names the ranks it has not heard from lately. Each
// heartbeat is one 24-byte MPI_Isend (tag kTag) to rank 0, at most every `interval` seconds (timeout/40), skipped
// while the previous one is still in flight; rank 0 sends its own to rank 1, the deputy that speaks
// when rank 0 is the silent one. Rank 0 and rank 1 keep one MPI_Irecv(ANY_SOURCE, kTag) posted and
// drain it as they go.
#include "watch.hpp"

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "bpt/core/error.hpp"
#include "bpt/core/text.hpp"
#include "handle.hpp"
#include "tags.hpp"

namespace bpt {

namespace {
constexpr int kTag = kHeartbeatTag;  // tags.hpp: above every bucket tag of the reducer
constexpr int kHost = 64;    // bytes of a host name kept
}  // namespace

struct Watch {
  // A heartbeat. Nested, not in the anonymous namespace: Watch is declared in watch.hpp, and a member
  // of an anonymous-namespace type would give it internal linkage in a unity build (-Wsubobject-linkage).
  struct Beat {
    std::int64_t step = 0;
    std::int32_t phase = 0, detail = -1;
    std::int32_t waiting = 0, pad = 0;
  };

  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0, size = 1;
  double timeout = 0, interval = 0, stale = 0, grace = 0;
  int code = 4;
  bool quiet = false;
  Beat mine;               // where this rank is
  double last_sent = -1e300;
  Beat out;                // the heartbeat in flight (the send buffer)
  MPI_Request out_req = MPI_REQUEST_NULL;
  Beat in;                 // the receive buffer (ranks 0 and 1)
  MPI_Request in_req = MPI_REQUEST_NULL;
  std::vector<Beat> last;       // rank 0: every rank's last heartbeat; rank 1: rank 0's (index 0)
  std::vector<double> heard;    // when it arrived (this rank's clock)
  std::vector<std::string> hosts;  // rank 0: every rank's host; rank 1: rank 0's (index 0)

  ~Watch() {
    if (in_req != MPI_REQUEST_NULL) {
      MPI_Cancel(&in_req);
      MPI_Wait(&in_req, MPI_STATUS_IGNORE);
    }
    if (out_req != MPI_REQUEST_NULL) MPI_Request_free(&out_req);  // a small eager send: it completes
  }

  void beat(double now) {
    if (now - last_sent < interval) return;
    if (out_req != MPI_REQUEST_NULL) {
      int done = 0;
      MPI_Test(&out_req, &done, MPI_STATUS_IGNORE);
      if (!done) return;  // the last one is still on its way
    }
    const int to = rank == 0 ? 1 : 0;
    out = mine;
    if (MPI_Isend(&out, sizeof out, MPI_BYTE, to, kTag, comm, &out_req) != MPI_SUCCESS) out_req = MPI_REQUEST_NULL;
    last_sent = now;
  }

  void drain(double now) {
    while (in_req != MPI_REQUEST_NULL) {
      int done = 0;
      MPI_Status st;
      if (MPI_Test(&in_req, &done, &st) != MPI_SUCCESS || !done) return;
      const auto from = static_cast<std::size_t>(rank == 0 ? st.MPI_SOURCE : 0);
      if (from < last.size()) {
        last[from] = in;
        heard[from] = now;
      }
      MPI_Irecv(&in, sizeof in, MPI_BYTE, MPI_ANY_SOURCE, kTag, comm, &in_req);
    }
  }

  void service(double now) {
    beat(now);
    drain(now);
  }

  static std::string where(const Beat& b) {
    return (b.waiting ? "waiting in " : "in ") + phase_text(static_cast<Phase>(b.phase), b.detail) + " of step " +
           std::to_string(b.step);
  }

  // Rank 0: the ranks not heard from for `stale` seconds, grouped by host and what they were last
  // doing ("rank 2 on node7, silent 12.3 s, last heard in backward of step 57").
  std::string silent(double now, int* count) const {
    struct Group {
      std::vector<int> ranks;
      double longest = 0;
    };
    std::map<std::string, Group> groups;  // "on host, ... last heard ..." -> ranks
    int n = 0;
    for (int r = 1; r < size; ++r) {
      const auto i = static_cast<std::size_t>(r);
      if (now - heard[i] <= stale) continue;
      ++n;
      Group& g = groups[hosts[i] + "\n" + where(last[i])];
      g.ranks.push_back(r);
      g.longest = std::max(g.longest, now - heard[i]);
    }
    *count = n;
    std::string out;
    std::size_t shown = 0;
    for (const auto& [key, g] : groups) {
      if (shown++ == 4) {
        out += "; and others";
        break;
      }
      const auto cut = key.find('\n');
      if (!out.empty()) out += "; ";
      out += (g.ranks.size() == 1 ? "rank " : "ranks ") + rank_list(g.ranks) + " on " + key.substr(0, cut) +
             ", silent " + (g.ranks.size() == 1 ? "" : "up to ") + format_number("%.1f", g.longest) +
             " s, last heard " + key.substr(cut + 1);
    }
    return out;
  }

  // Rank 0, no rank silent: where each rank says it is.
  std::string places() const {
    std::map<std::string, std::vector<int>> groups;
    groups[where(mine)].push_back(0);
    for (int r = 1; r < size; ++r) groups[where(last[static_cast<std::size_t>(r)])].push_back(r);
    std::string out;
    for (const auto& [what, ranks] : groups) {
      if (!out.empty()) out += "; ";
      out += (ranks.size() == 1 ? "rank " : "ranks ") + rank_list(ranks) + " " + what;
    }
    return out;
  }

  [[noreturn]] void abort_with(const std::string& line) const {
    std::fprintf(stderr, "bptrain: error: %s\n", line.c_str());
    std::fflush(stderr);
    std::fflush(stdout);
    MPI_Abort(comm, code);
    std::abort();
  }

  // Called while this rank has waited `waited` seconds (since t0) in a wait.
  void judge(double now, double waited, bool& warned) {
    const std::string mine_text = "rank " + std::to_string(rank) + " has waited " + format_number("%.1f", waited) +
                                  " s in " + phase_text(static_cast<Phase>(mine.phase), mine.detail) + " of step " +
                                  std::to_string(mine.step) + " (--stall-timeout " + format_number("%g", timeout) + ")";
    if (rank == 0) {
      if (waited >= timeout) {
        int n = 0;
        const std::string who = silent(now, &n);
        if (n) abort_with("stalled: " + who + "; " + mine_text + ": ending the job");
        abort_with("stalled: every rank is alive but they wait in different places (" + places() + "); " + mine_text +
                   ": ending the job");
      }
      if (!warned && waited >= timeout / 2) {
        warned = true;
        int n = 0;
        const std::string who = silent(now, &n);
        if (!quiet && n) {
          std::printf("bptrain: warning: %s; %s\n", who.c_str(), mine_text.c_str());
          std::fflush(stdout);
        }
      }
      return;
    }
    if (rank == 1 && waited >= timeout + grace && now - heard[0] > stale)
      abort_with("stalled: rank 0 on " + hosts[0] + ", silent " + format_number("%.1f", now - heard[0]) +
                 " s, last heard " + where(last[0]) + "; " + mine_text + ": ending the job");
    if (waited >= 2 * timeout + grace)
      abort_with("stalled, and no verdict came from rank 0 or rank 1; " + mine_text + ": ending the job");
  }

  template <class Test>
  void wait(Test done) {
    if (done()) return;
    double t0 = MPI_Wtime(), before = t0;
    bool warned = false;
    mine.waiting = 1;
    for (;;) {
      if (done()) break;
      const double now = MPI_Wtime();
      // A long gap between two turns of this loop: this rank itself was not running (stopped,
      // suspended). That time is not waiting, and the others' news is old: hear them first.
      if (now - before > std::max(0.5, interval)) {
        t0 += now - before;
        drain(now);
        if (rank <= 1) std::fill(heard.begin(), heard.end(), now);
      }
      before = now;
      const double waited = now - t0;
      if (waited < 1e-3) continue;  // a short wait spins, as MPI_Wait would
      service(now);
      judge(now, waited, warned);
      if (waited < 0.5) {
        sched_yield();
      } else {  // a long wait: leave the core to whoever needs it
        const timespec ts{0, 200000};
        nanosleep(&ts, nullptr);
      }
    }
    mine.waiting = 0;
  }
};

void Comm::watch_stalls(double timeout_s, int exit_code, bool quiet) {
#ifdef BPT_SIMULATED
  (void)timeout_s, (void)exit_code, (void)quiet;  // a simulator's ranks cannot stall; its time is not ours
  return;
#else
  if (size_ == 1 || timeout_s <= 0) return;
  const MPI_Comm c = to_comm(handle_);
  const std::string host = host_name();
  char mine[kHost] = {};
  std::memcpy(mine, host.data(), std::min(host.size(), static_cast<std::size_t>(kHost - 1)));
  std::vector<char> all(rank_ == 0 ? static_cast<std::size_t>(size_) * kHost : 0);
  if (MPI_Gather(mine, kHost, MPI_CHAR, all.data(), kHost, MPI_CHAR, 0, c) != MPI_SUCCESS)
    throw Error("stall watch: MPI_Gather of the host names failed");
  char root_host[kHost] = {};
  if (rank_ == 0) std::memcpy(root_host, mine, kHost);
  if (MPI_Bcast(root_host, kHost, MPI_CHAR, 0, c) != MPI_SUCCESS) throw Error("stall watch: MPI_Bcast failed");
  auto w = std::make_shared<Watch>();
  w->comm = c;
  w->rank = rank_;
  w->size = size_;
  w->timeout = timeout_s;
  // Rank 0 hears from each rank every timeout/40 s (at most 5 s apart, at most 20 a second): at 1,024
  // ranks and the default 300 s, some 200 small messages a second in all. A rank unheard for four
  // intervals (at least 1 s, at most half the timeout) counts as silent.
  w->interval = std::clamp(timeout_s / 40, 0.05, 5.0);
  w->stale = std::min(std::max(4 * w->interval, 1.0), timeout_s / 2);
  w->grace = std::max(2.0, timeout_s / 10);
  w->code = exit_code;
  w->quiet = quiet;
  const double now = MPI_Wtime();
  if (rank_ <= 1) {
    const std::size_t n = rank_ == 0 ? static_cast<std::size_t>(size_) : 1;
    w->last.assign(n, Watch::Beat{});
    w->heard.assign(n, now);
    for (std::size_t r = 0; r < n; ++r)
      w->hosts.emplace_back(rank_ == 0 ? std::string(all.data() + r * kHost) : std::string(root_host));
    MPI_Irecv(&w->in, sizeof w->in, MPI_BYTE, MPI_ANY_SOURCE, kTag, c, &w->in_req);
  }
  watch_ = std::move(w);
#endif
}

void Comm::phase(Phase p, int detail, std::int64_t step) const {
  Watch* w = watch_.get();
  if (!w) return;
  w->mine.phase = static_cast<std::int32_t>(p);
  w->mine.detail = detail;
  if (step >= 0) w->mine.step = step;
  const double now = MPI_Wtime();
  if (now - w->last_sent >= w->interval) w->service(now);
}

std::string phase_text(Phase p, int detail) {
  switch (p) {
    case Phase::Startup: return "start-up";
    case Phase::Data: return "reading the batch";
    case Phase::Forward: return "forward";
    case Phase::Backward: return "backward";
    case Phase::Sum: return detail >= 0 ? "bucket " + std::to_string(detail) + "'s sum" : "the gradient sum";
    case Phase::Vote: return "the vote";
    case Phase::Optimizer: return "the optimizer";
    case Phase::Gather: return "the weight gather";
    case Phase::Check: return "the replica check";
    case Phase::Evaluate: return "evaluation";
    case Phase::Checkpoint: return "the checkpoint";
    case Phase::Report: return "the progress report";
    case Phase::Done: return "the end";
  }
  return "?";
}

void wait_all(const Comm& comm, int n, MPI_Request* r, const char* what) {
  Watch* w = comm.watch();
  int rc = MPI_SUCCESS;
  if (!w) {
    rc = MPI_Waitall(n, r, MPI_STATUSES_IGNORE);
  } else {
    w->wait([&] {
      int done = 0;
      if (rc == MPI_SUCCESS) rc = MPI_Testall(n, r, &done, MPI_STATUSES_IGNORE);
      return done != 0 || rc != MPI_SUCCESS;
    });
  }
  if (rc != MPI_SUCCESS) throw Error(std::string(what) + " failed");
}

int wait_any(const Comm& comm, int n, MPI_Request* r, const char* what) {
  Watch* w = comm.watch();
  int index = MPI_UNDEFINED, rc = MPI_SUCCESS;
  if (!w) {
    rc = MPI_Waitany(n, r, &index, MPI_STATUS_IGNORE);
  } else {
    w->wait([&] {
      int done = 0;
      if (rc == MPI_SUCCESS) rc = MPI_Testany(n, r, &index, &done, MPI_STATUS_IGNORE);
      return done != 0 || rc != MPI_SUCCESS;
    });
  }
  if (rc != MPI_SUCCESS) throw Error(std::string(what) + " failed");
  return index;
}

}  // namespace bpt
