// larder_loadgen: an HTTP/1.1 load generator that replays pre-built (pre-signed) requests over N
// keep-alive connections to 127.0.0.1, in one of three modes:
//
//   closed loop (default)  each connection sends its next request as soon as the previous
//                          response has arrived; measures peak throughput at N in flight.
//   --rate R               open loop at R requests/s in total: connection c sends its k-th
//                          request at the intended time t0 + (c + k*N)/R (wrk2's model). A late
//                          response delays the next send, but latency is always measured from
//                          the INTENDED send time, so queueing is counted (no coordinated
//                          omission).
//   --once                 sends every request of the file exactly once, then stops (bulk
//                          loads); reports the elapsed time.
//
// The request file holds raw HTTP requests, each framed as "<byte count>\n<bytes>" (written by
// bench/online/presign.py from botocore-signed requests). Requests are used in file order,
// cycling. Every response is checked: its status must be --expect-status and, if given, its body
// must contain --expect-substr; anything else counts as an error (the first few are printed).
//
// Prints one JSON object on stdout:
//   {"mode", "connections", "requests", "errors", "seconds", "rps",
//    "mean_us", "p50_us", "p90_us", "p99_us", "p999_us", "max_us"}
// Exit status: 0 if no request failed, 1 otherwise, 2 on bad usage.
//
// Single process; --threads event loops, each owning connections/threads of the connections.
// Bounded: stops after --warmup + --duration seconds (or the file, with --once) and never sends
// anywhere but the --host given (the driver passes 127.0.0.1).
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

constexpr uint64_t kMaxResponseBytes = 64ull << 20;  // a BatchGetRecord of 100 big records fits
constexpr int kMaxErrorsPrinted = 5;

struct Config {
  std::string host = "127.0.0.1";
  std::string port;
  std::string requests_file;
  int connections = 32;
  int threads = 1;
  double duration_s = 10;
  double warmup_s = 2;
  double rate = 0;  // requests/s in total; 0 = closed loop
  bool once = false;
  unsigned expect_status = 200;
  std::string expect_substr;
};

// Shared by all threads; written only before the threads start.
struct Plan {
  Config config;
  std::vector<std::string> requests;
  Clock::time_point start;          // t0: the first intended send
  Clock::time_point measure_from;   // start + warmup
  Clock::time_point measure_until;  // measure_from + duration (closed/open loop)
  std::atomic<uint64_t> cursor{0};  // next request index (cycling, or up to size() with --once)
  std::atomic<int> errors_printed{0};
};

// What one event loop measured.
struct Tally {
  std::vector<uint32_t> latencies_us;  // completions inside the measurement window
  uint64_t errors = 0;
  Clock::time_point last_done{};
};

class Connection {
 public:
  Connection(net::io_context& ioc, Plan* plan, Tally* tally, int index)
      : socket_(ioc), timer_(ioc), plan_(plan), tally_(tally), index_(index) {}

  void Start(const tcp::resolver::results_type& endpoints) {
    error_code ec;
    net::connect(socket_, endpoints, ec);
    if (ec) {
      Fail("connect: " + ec.message());
      return;
    }
    socket_.set_option(tcp::no_delay(true), ec);
    ScheduleNext();
  }

 private:
  void ScheduleNext() {
    const Config& c = plan_->config;
    if (c.rate > 0) {
      // Open loop: this connection's k-th request is due at t0 + (index + k*N)/rate.
      const double due_s = (index_ + static_cast<double>(sent_) * c.connections) / c.rate;
      intended_ = plan_->start + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(due_s));
      if (intended_ >= plan_->measure_until) return;  // the run is over for this connection
      if (intended_ > Clock::now()) {
        timer_.expires_at(intended_);
        timer_.async_wait([this](error_code ec) {
          if (!ec) Send();
        });
        return;
      }
    } else {
      intended_ = Clock::now();
      if (!c.once && intended_ >= plan_->measure_until) return;
    }
    Send();
  }

  void Send() {
    uint64_t i = plan_->cursor.fetch_add(1, std::memory_order_relaxed);
    if (plan_->config.once) {
      if (i >= plan_->requests.size()) return;
    } else {
      i %= plan_->requests.size();
    }
    ++sent_;
    if (plan_->config.rate <= 0) intended_ = Clock::now();
    const std::string& req = plan_->requests[i];
    net::async_write(socket_, net::buffer(req), [this](error_code ec, size_t) {
      if (ec) {
        Fail("write: " + ec.message());
        return;
      }
      parser_.emplace();
      parser_->body_limit(kMaxResponseBytes);
      http::async_read(socket_, buffer_, *parser_, [this](error_code ec2, size_t) { OnRead(ec2); });
    });
  }

  void OnRead(error_code ec) {
    if (ec) {
      Fail("read: " + ec.message());
      return;
    }
    const Clock::time_point done = Clock::now();
    const auto& res = parser_->get();
    const Config& c = plan_->config;
    bool ok = res.result_int() == c.expect_status;
    if (ok && !c.expect_substr.empty()) {
      ok = res.body().find(c.expect_substr) != std::string::npos;
    }
    if (!ok) {
      ++tally_->errors;
      if (plan_->errors_printed.fetch_add(1) < kMaxErrorsPrinted) {
        std::fprintf(stderr, "larder_loadgen: unexpected response %u: %.300s\n",
                     res.result_int(), res.body().c_str());
      }
    } else if (c.once || (done >= plan_->measure_from && done < plan_->measure_until)) {
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(done - intended_);
      tally_->latencies_us.push_back(
          static_cast<uint32_t>(std::min<int64_t>(us.count(), UINT32_MAX)));
    }
    tally_->last_done = std::max(tally_->last_done, done);
    if (!res.keep_alive()) {
      Fail("the server closed the connection");
      return;
    }
    ScheduleNext();
  }

  void Fail(const std::string& what) {
    ++tally_->errors;
    if (plan_->errors_printed.fetch_add(1) < kMaxErrorsPrinted) {
      std::fprintf(stderr, "larder_loadgen: connection %d: %s\n", index_, what.c_str());
    }
    error_code ignored;
    socket_.close(ignored);
  }

  tcp::socket socket_;
  net::steady_timer timer_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  Plan* plan_;
  Tally* tally_;
  const int index_;
  uint64_t sent_ = 0;
  Clock::time_point intended_{};
};

bool ReadRequests(const std::string& path, std::vector<std::string>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "larder_loadgen: cannot open %s\n", path.c_str());
    return false;
  }
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    char* end = nullptr;
    const unsigned long long n = std::strtoull(line.c_str(), &end, 10);
    if (end == line.c_str() || *end != '\0' || n == 0 || n > kMaxResponseBytes) {
      std::fprintf(stderr, "larder_loadgen: %s: bad frame length '%s'\n", path.c_str(),
                   line.c_str());
      return false;
    }
    std::string req(n, '\0');
    if (!in.read(req.data(), static_cast<std::streamsize>(n))) {
      std::fprintf(stderr, "larder_loadgen: %s: truncated request\n", path.c_str());
      return false;
    }
    out->push_back(std::move(req));
  }
  if (out->empty()) {
    std::fprintf(stderr, "larder_loadgen: %s holds no request\n", path.c_str());
    return false;
  }
  return true;
}

void Usage() {
  std::fprintf(stderr,
               "usage: larder_loadgen --port P --requests FILE [--host 127.0.0.1]\n"
               "  [--connections 32] [--threads 1] [--duration 10] [--warmup 2]\n"
               "  [--rate R | --once] [--expect-status 200] [--expect-substr S]\n");
}

bool ParseArgs(int argc, char** argv, Config* c) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--once") {
      c->once = true;
      continue;
    }
    if ((v = value()) == nullptr) return false;
    if (a == "--host") {
      c->host = v;
    } else if (a == "--port") {
      c->port = v;
    } else if (a == "--requests") {
      c->requests_file = v;
    } else if (a == "--connections") {
      c->connections = std::atoi(v);
    } else if (a == "--threads") {
      c->threads = std::atoi(v);
    } else if (a == "--duration") {
      c->duration_s = std::atof(v);
    } else if (a == "--warmup") {
      c->warmup_s = std::atof(v);
    } else if (a == "--rate") {
      c->rate = std::atof(v);
    } else if (a == "--expect-status") {
      c->expect_status = static_cast<unsigned>(std::atoi(v));
    } else if (a == "--expect-substr") {
      c->expect_substr = v;
    } else {
      return false;
    }
  }
  return !c->port.empty() && !c->requests_file.empty() && c->connections > 0 && c->threads > 0 &&
         c->threads <= c->connections && c->duration_s > 0 && c->warmup_s >= 0 &&
         c->rate >= 0 && !(c->once && c->rate > 0);
}

uint32_t Percentile(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(p * static_cast<double>(sorted.size()));
  return sorted[std::min(rank, sorted.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  auto plan = std::make_unique<Plan>();
  if (!ParseArgs(argc, argv, &plan->config)) {
    Usage();
    return 2;
  }
  const Config& c = plan->config;
  if (!ReadRequests(c.requests_file, &plan->requests)) return 2;

  const auto secs = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  std::vector<std::unique_ptr<net::io_context>> loops;
  std::vector<Tally> tallies(c.threads);
  std::vector<std::vector<std::unique_ptr<Connection>>> conns(c.threads);
  tcp::resolver::results_type endpoints;
  {
    net::io_context resolver_ioc;
    tcp::resolver resolver(resolver_ioc);
    error_code ec;
    endpoints = resolver.resolve(c.host, c.port, ec);
    if (ec) {
      std::fprintf(stderr, "larder_loadgen: resolve %s:%s: %s\n", c.host.c_str(),
                   c.port.c_str(), ec.message().c_str());
      return 2;
    }
  }
  for (int t = 0; t < c.threads; ++t) loops.push_back(std::make_unique<net::io_context>(1));
  for (int i = 0; i < c.connections; ++i) {
    const int t = i % c.threads;
    conns[t].push_back(std::make_unique<Connection>(*loops[t], plan.get(), &tallies[t], i));
  }
  // Connect first (outside the timed window), then start every connection at t0.
  plan->start = Clock::now() + std::chrono::milliseconds(50);
  plan->measure_from = c.once ? plan->start : plan->start + secs(c.warmup_s);
  plan->measure_until =
      c.once ? Clock::time_point::max() : plan->measure_from + secs(c.duration_s);
  for (int t = 0; t < c.threads; ++t) {
    for (auto& conn : conns[t]) {
      net::post(*loops[t], [&conn, &endpoints, &plan] {
        std::this_thread::sleep_until(plan->start);
        conn->Start(endpoints);
      });
    }
  }
  // Connecting happens at t0 inside the loop; run everything.
  std::vector<std::thread> threads;
  for (int t = 0; t < c.threads; ++t) {
    threads.emplace_back([&loops, t] { loops[t]->run(); });
  }
  for (auto& th : threads) th.join();

  std::vector<uint32_t> all;
  uint64_t errors = 0;
  Clock::time_point last_done = plan->start;
  for (auto& tally : tallies) {
    all.insert(all.end(), tally.latencies_us.begin(), tally.latencies_us.end());
    errors += tally.errors;
    last_done = std::max(last_done, tally.last_done);
  }
  std::sort(all.begin(), all.end());
  const double seconds =
      c.once ? std::chrono::duration<double>(last_done - plan->start).count() : c.duration_s;
  double mean = 0;
  for (uint32_t v : all) mean += v;
  if (!all.empty()) mean /= static_cast<double>(all.size());
  const char* mode = c.once ? "once" : (c.rate > 0 ? "rate" : "closed");
  std::printf(
      "{\"mode\": \"%s\", \"connections\": %d, \"target_rate\": %.1f, \"requests\": %zu, "
      "\"errors\": %" PRIu64
      ", \"seconds\": %.3f, \"rps\": %.1f, \"mean_us\": %.1f, \"p50_us\": %u, \"p90_us\": %u, "
      "\"p99_us\": %u, \"p999_us\": %u, \"max_us\": %u}\n",
      mode, c.connections, c.rate, all.size(), errors, seconds,
      seconds > 0 ? static_cast<double>(all.size()) / seconds : 0.0, mean, Percentile(all, 0.50),
      Percentile(all, 0.90), Percentile(all, 0.99), Percentile(all, 0.999),
      all.empty() ? 0 : all.back());
  return errors == 0 ? 0 : 1;
}
