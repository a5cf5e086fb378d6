#include "bpt/core/timeline.hpp"

#include <cstdio>

namespace bpt {
namespace {

std::string meta(int pid, int tid, const char* what, const std::string& name) {
  return std::string("{\"ph\":\"M\",\"pid\":") + std::to_string(pid) + ",\"tid\":" + std::to_string(tid) + ",\"name\":\"" +
         what + "\",\"args\":{\"name\":\"" + name + "\"}}";
}

}  // namespace

std::string Timeline::json(int rank, const std::string& host, double origin, int buckets) const {
  std::string out;
  out.reserve(events_.size() * 120 + 512);
  std::string h;
  for (char c : host)
    if (c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 32) h += c;
  out += meta(rank, 0, "process_name", "rank " + std::to_string(rank) + (h.empty() ? "" : " (" + h + ")"));
  out += ",{\"ph\":\"M\",\"pid\":" + std::to_string(rank) + ",\"name\":\"process_sort_index\",\"args\":{\"sort_index\":" +
         std::to_string(rank) + "}}";
  out += ',';
  out += meta(rank, kCompute, "thread_name", "compute");
  out += ',';
  out += meta(rank, kComm, "thread_name", "waits for collectives");
  for (int k = 0; k < buckets; ++k) {
    out += ',';
    out += meta(rank, kBucket + k, "thread_name", "bucket " + std::to_string(k) + " sum");
  }
  char buf[320];
  for (const Event& e : events_) {
    const double ts = (e.t0 - origin) * 1e6, dur = (e.t1 - e.t0) * 1e6;
    int n = 0;
    if (e.layer >= 0)
      n = std::snprintf(buf, sizeof buf,
                        ",{\"name\":\"%s %d\",\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"ts\":%.3f,\"dur\":%.3f,"
                        "\"args\":{\"step\":%lld,\"%s\":%d}}",
                        e.name, e.layer, rank, e.track, ts, dur > 0 ? dur : 0.0, static_cast<long long>(e.step),
                        e.track >= kBucket ? "bucket" : "layer", e.layer);
    else
      n = std::snprintf(buf, sizeof buf,
                        ",{\"name\":\"%s\",\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"ts\":%.3f,\"dur\":%.3f,"
                        "\"args\":{\"step\":%lld}}",
                        e.name, rank, e.track, ts, dur > 0 ? dur : 0.0, static_cast<long long>(e.step));
    if (n > 0) out.append(buf, static_cast<std::size_t>(n) < sizeof buf ? static_cast<std::size_t>(n) : sizeof buf - 1);
  }
  return out;
}

}  // namespace bpt
