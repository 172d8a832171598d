#include "server/http_server.h"

#include <fmt/format.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <exception>
#include <limits>
#include <optional>
#include <random>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/thread_annotations.h"
#include "server/error_map.h"
#include "server/metrics.h"

namespace larder::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using std::chrono::milliseconds;

// After an error response we stop reading requests but keep draining what the client still
// sends (e.g. the rest of a too-large body) for a moment, so it reads our response instead of a
// connection reset.
constexpr size_t kDrainChunkBytes = 16 * 1024;
constexpr uint64_t kMaxDrainBytes = 64ULL * 1024 * 1024;
constexpr int64_t kLingerMs = 2'000;
constexpr int64_t kAcceptRetryMs = 50;  // after accept() fails (e.g. out of file descriptors)
constexpr size_t kRequestIdChars = 36;
constexpr size_t kHeaderReadBytes = 4 * 1024;  // least room offered to each header read

// ---- Request ids ----

// splitmix64 seeded from the OS CSPRNG: unique ids at a few ns each. Per thread.
class RequestIdGenerator {
 public:
  RequestIdGenerator() {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&state_), sizeof(state_)) != 1) {
      std::random_device rd;
      state_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    }
  }

  void Write(char out[kRequestIdChars]) {
    uint8_t b[16];
    uint64_t hi = Next(), lo = Next();
    for (int i = 0; i < 8; ++i) {
      b[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
      b[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
    }
    b[6] = static_cast<uint8_t>((b[6] & 0x0F) | 0x40);  // version 4
    b[8] = static_cast<uint8_t>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
    static constexpr char kHex[] = "0123456789abcdef";
    size_t pos = 0;
    for (int i = 0; i < 16; ++i) {
      if (i == 4 || i == 6 || i == 8 || i == 10) out[pos++] = '-';
      out[pos++] = kHex[b[i] >> 4];
      out[pos++] = kHex[b[i] & 0xF];
    }
  }

 private:
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  uint64_t state_ = 0;
};

std::string_view WriteRequestId(char out[kRequestIdChars]) {
  thread_local RequestIdGenerator gen;
  gen.Write(out);
  return {out, kRequestIdChars};
}

class Session;

// State shared by the acceptor and all sessions. Immutable except the atomic counter.
struct ServerContext {
  HttpServer::Options options;
  HttpHandler* handler = nullptr;
  std::atomic<int> connections{0};
};

// One I/O thread with its own event loop.
struct Worker {
  // Declared before `ioc` so it outlives handlers destroyed with the io_context.
  std::unordered_set<Session*> sessions;  // touched only on this worker's thread
  bool stopping = false;                  // likewise
  net::io_context ioc{1};
  net::executor_work_guard<net::io_context::executor_type> guard{ioc.get_executor()};
  std::thread thread;
};

// Beast (Boost 1.74) speaks boost::string_view; we speak std::string_view.
std::string_view Std(beast::string_view s) { return {s.data(), s.size()}; }
beast::string_view Beast(std::string_view s) { return {s.data(), s.size()}; }

bool IsHttpParseError(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category();
}

void ResetResponse(HttpResponse* resp) {
  resp->status = 200;
  resp->content_type.assign("application/json");
  resp->headers.clear();
  resp->body.clear();
  resp->operation.clear();
}

// One connection. Lives on its worker's thread only; kept alive by the shared_ptr its pending
// operation holds.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Worker* worker, ServerContext* ctx)
      : stream_(std::move(socket)), worker_(worker), ctx_(ctx) {}

  ~Session() {
    worker_->sessions.erase(this);
    ctx_->connections.fetch_sub(1, std::memory_order_relaxed);
  }

  void Start() {
    worker_->sessions.insert(this);
    error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);
    if (worker_->stopping) {
      stream_.close();
      return;
    }
    ReadRequest();
  }

  // The server is stopping: drop the connection if it is idle between requests, else let the
  // request in flight finish (within the shutdown grace) and close after its response.
  void OnShutdown() {
    if (state_ != State::kReading) return;
    // Idle: no byte of a next request has arrived (a header is parsed only once complete, so
    // a partial one sits in buffer_; a body being read has got_some()).
    if (buffer_.size() == 0 && !parser_->got_some()) {
      error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      stream_.close();
      return;
    }
    // tcp_stream cannot shorten the deadline of a read already pending, so a timer of our own
    // cuts the request off at the grace. It holds only a weak reference; destroying the
    // session cancels it.
    grace_timer_.emplace(stream_.get_executor());
    grace_timer_->expires_after(milliseconds(ctx_->options.shutdown_grace_ms));
    grace_timer_->async_wait([weak = weak_from_this()](error_code ec) {
      auto self = weak.lock();
      if (ec || self == nullptr || self->state_ != State::kReading) return;
      self->stream_.close();
    });
  }

 private:
  enum class State { kReading, kBusy, kClosing };

  const HttpServer::Options& options() const { return ctx_->options; }

  void ReadRequest() {
    state_ = State::kReading;
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(std::min<uint64_t>(options().max_header_bytes, UINT32_MAX)));
    // The real body limit is applied in OnHeader, once the header (and Content-Length) is
    // known, so a 413 can name the declared size. (Not boost::none: Boost 1.74's parser
    // compares Content-Length against the optional, and every value exceeds none.)
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    header_bytes_ = 0;
    stream_.expires_after(milliseconds(options().read_timeout_ms));
    ParseHeader();  // bytes of a pipelined request may already be buffered
  }

  // The header is read with our own loop rather than http::async_read_header: Boost 1.74's
  // parser applies header_limit to each window of unparsed bytes, not to the header as a whole
  // (fields it has parsed leave the buffer), so a header of many short fields could grow far
  // past the limit. Here every byte the parser consumes is counted against max_header_bytes.
  void ParseHeader() {
    error_code ec;
    if (buffer_.size() > 0) {
      const size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      header_bytes_ += used;
      if (header_bytes_ > options().max_header_bytes) {
        OnReadError(http::error::header_limit);
        return;
      }
      if (ec && ec != http::error::need_more) {
        OnReadError(ec);
        return;
      }
      if (parser_->is_header_done()) {
        OnHeader();
        return;
      }
    }
    const size_t room = std::max<size_t>(kHeaderReadBytes, buffer_.capacity() - buffer_.size());
    stream_.async_read_some(buffer_.prepare(room),
                            beast::bind_front_handler(&Session::OnHeaderBytes, shared_from_this()));
  }

  void OnHeaderBytes(error_code ec, size_t bytes) {
    if (ec == net::error::eof) {
      // As http::async_read_header reports it: a connection closed mid-header is a partial
      // message, one closed between requests the end of the stream.
      OnReadError(parser_->got_some() ? http::error::partial_message : http::error::end_of_stream);
      return;
    }
    if (ec) {
      OnReadError(ec);
      return;
    }
    buffer_.commit(bytes);
    ParseHeader();
  }

  void OnHeader() {
    auto& msg = parser_->get();
    if (auto len = parser_->content_length(); len && *len > options().max_body_bytes) {
      RejectBody(*len);
      return;
    }
    parser_->body_limit(options().max_body_bytes);  // enforced while reading a chunked body
    if (parser_->is_done()) {
      Process();
      return;
    }
    if (beast::iequals(msg[http::field::expect], "100-continue")) {
      continue_.emplace(http::status::continue_, msg.version());
      http::async_write(stream_, *continue_,
                        beast::bind_front_handler(&Session::OnContinueWritten, shared_from_this()));
      return;
    }
    ReadBody();
  }

  void OnContinueWritten(error_code ec, size_t /*bytes*/) {
    if (ec) return;  // the connection is gone; the session ends with this handler
    ReadBody();
  }

  void ReadBody() {
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnBody, shared_from_this()));
  }

  void OnBody(error_code ec, size_t /*bytes*/) {
    if (ec) {
      OnReadError(ec);
      return;
    }
    Process();
  }

  void OnReadError(const error_code& ec) {
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted ||
        ec == beast::error::timeout) {
      return;  // peer closed between requests, shutdown, or read deadline: just drop it
    }
    if (ec == http::error::header_limit) {
      SendError(431, "RequestHeaderFieldsTooLarge",
                fmt::format("The request headers exceed the limit of {} bytes "
                            "(--max-header-bytes).",
                            options().max_header_bytes));
      return;
    }
    if (ec == http::error::body_limit) {
      RejectBody(0);  // only a chunked body gets here; Content-Length is checked in OnHeader
      return;
    }
    if (IsHttpParseError(ec) && ec != http::error::partial_message) {
      SendError(400, "BadRequest", fmt::format("Malformed HTTP request: {}.", ec.message()));
      return;
    }
    // Connection reset, broken pipe, a request cut off mid-way: nobody to answer.
  }

  // 413. `declared` is the Content-Length, or 0 when the body was chunked.
  void RejectBody(uint64_t declared) {
    std::string message =
        declared > 0
            ? fmt::format(
                  "The request body of {} bytes exceeds the limit of {} bytes "
                  "(--max-body-bytes).",
                  declared, options().max_body_bytes)
            : fmt::format("The request body exceeds the limit of {} bytes (--max-body-bytes).",
                          options().max_body_bytes);
    SendError(413, "RequestEntityTooLarge", message);
  }

  void SendError(int status, std::string_view code, std::string_view message) {
    state_ = State::kBusy;
    ResetResponse(&resp_);
    WriteError(status, code, message, &resp_);
    if (options().metrics != nullptr) options().metrics->RecordRejection(status, code);
    SendResponse(/*close=*/true, /*linger=*/true);
  }

  void Process() {
    state_ = State::kBusy;
    auto& msg = parser_->get();
    req_.method.assign(Std(msg.method_string()));
    req_.target.assign(Std(msg.target()));
    size_t n = 0;
    for (const auto& field : msg) {
      if (n == req_.headers.size()) req_.headers.emplace_back();
      auto& [name, value] = req_.headers[n++];
      name.assign(Std(field.name_string()));
      for (char& c : name) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
      value.assign(Std(field.value()));
    }
    req_.headers.resize(n);
    req_.body = std::move(msg.body());
    req_.received_micros = options().clock->NowMicros();
    req_.access_key_id.clear();
    const bool keep_alive = msg.keep_alive() && !worker_->stopping;

    ResetResponse(&resp_);
    try {
      ctx_->handler->Serve(&req_, &resp_);
    } catch (const std::exception& e) {
      ResetResponse(&resp_);
      WriteError(500, "InternalFailure", fmt::format("Internal error: {}", e.what()), &resp_);
    } catch (...) {
      ResetResponse(&resp_);
      WriteError(500, "InternalFailure", "Internal error: unknown exception", &resp_);
    }
    SendResponse(!keep_alive, /*linger=*/false);
  }

  void SendResponse(bool close, bool linger) {
    res_.base().clear();
    res_.version(11);
    int status = resp_.status;
    if (status < 100 || status > 999) status = 500;
    res_.result(static_cast<unsigned>(status));
    res_.set(http::field::content_type, resp_.content_type);
    char id[kRequestIdChars];
    res_.set("x-amzn-RequestId", Beast(WriteRequestId(id)));
    for (const auto& [name, value] : resp_.headers) res_.insert(name, value);
    res_.keep_alive(!close);
    res_.body().swap(resp_.body);
    res_.prepare_payload();
    stream_.expires_after(milliseconds(options().read_timeout_ms));
    http::async_write(
        stream_, res_,
        beast::bind_front_handler(&Session::OnWrite, shared_from_this(), close, linger));
  }

  void OnWrite(bool close, bool linger, error_code ec, size_t /*bytes*/) {
    resp_.body.swap(res_.body());  // keep the buffer's capacity for the next response
    if (ec) return;
    if (close || worker_->stopping) {
      if (linger) {
        LingeringClose();
      } else {
        error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      }
      return;
    }
    ReadRequest();
  }

  void LingeringClose() {
    state_ = State::kClosing;
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(milliseconds(std::min(kLingerMs, options().read_timeout_ms)));
    drain_buf_ = std::make_unique<char[]>(kDrainChunkBytes);
    Drain();
  }

  void Drain() {
    stream_.async_read_some(net::buffer(drain_buf_.get(), kDrainChunkBytes),
                            [self = shared_from_this()](error_code ec, size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > kMaxDrainBytes) return;
                              self->Drain();
                            });
  }

  beast::tcp_stream stream_;
  Worker* const worker_;
  ServerContext* const ctx_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  http::response<http::string_body> res_;
  HttpRequest req_;    // reused across requests: its strings keep their capacity
  HttpResponse resp_;  // likewise
  State state_ = State::kReading;
  std::optional<net::steady_timer> grace_timer_;  // armed by OnShutdown
  std::unique_ptr<char[]> drain_buf_;
  uint64_t drained_ = 0;
  uint64_t header_bytes_ = 0;  // header bytes the parser has consumed for the current request
};

}  // namespace

// ---- HttpServer::Impl ----

class HttpServer::Impl {
 public:
  Impl(const Options& options, HttpHandler* handler) {
    ctx_.options = options;
    ctx_.handler = handler;
    int n = options.threads > 0 ? options.threads
                                : static_cast<int>(std::thread::hardware_concurrency());
    n = std::max(n, 1);
    for (int i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>());
  }

  Status Listen() {
    const Options& o = ctx_.options;
    error_code ec;
    tcp::endpoint endpoint;
    net::ip::address addr = net::ip::make_address(o.host, ec);
    if (!ec) {
      endpoint = tcp::endpoint(addr, o.port);
    } else {
      net::io_context resolve_ctx;
      tcp::resolver resolver(resolve_ctx);
      auto results = resolver.resolve(o.host, std::to_string(o.port), ec);
      if (ec || results.empty()) {
        return Status::IOError(fmt::format("cannot resolve listen host '{}': {}", o.host,
                                           ec ? ec.message() : "no addresses"));
      }
      endpoint = results.begin()->endpoint();
    }
    acceptor_.emplace(workers_[0]->ioc);
    auto fail = [&](std::string_view what) {
      return Status::IOError(
          fmt::format("cannot listen on {}:{}: {} failed: {}", o.host, o.port, what, ec.message()));
    };
    if (acceptor_->open(endpoint.protocol(), ec)) return fail("open");
    if (acceptor_->set_option(net::socket_base::reuse_address(true), ec)) {
      return fail("setsockopt(SO_REUSEADDR)");
    }
    if (acceptor_->bind(endpoint, ec)) return fail("bind");
    if (acceptor_->listen(net::socket_base::max_listen_connections, ec)) return fail("listen");
    tcp::endpoint local = acceptor_->local_endpoint(ec);
    if (ec) return fail("getsockname");
    host_ = local.address().to_string();
    port_ = local.port();
    accept_retry_.emplace(workers_[0]->ioc);
    return Status::OK();
  }

  void Run() {
    DoAccept();
    for (size_t i = 0; i < workers_.size(); ++i) {
      Worker* w = workers_[i].get();
      w->thread = std::thread([w, i] {
        std::string name = fmt::format("larder-io-{}", i);
        pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
        while (true) {
          try {
            w->ioc.run();
            return;
          } catch (const std::exception& e) {
            spdlog::error("I/O thread {}: unexpected exception: {}", i, e.what());
          } catch (...) {
            spdlog::error("I/O thread {}: unexpected exception", i);
          }
        }
      });
    }
  }

  void Shutdown() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    net::post(workers_[0]->ioc, [this] {
      error_code ignored;
      acceptor_->close(ignored);
      accept_retry_->cancel();
    });
    for (auto& worker : workers_) {
      Worker* w = worker.get();
      net::post(w->ioc, [w] {
        w->stopping = true;
        std::vector<Session*> sessions(w->sessions.begin(), w->sessions.end());
        for (Session* s : sessions) s->OnShutdown();
        w->guard.reset();
      });
    }
    for (auto& w : workers_) {
      if (w->thread.joinable()) w->thread.join();
    }
  }

  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }

 private:
  void DoAccept() {
    Worker* target = workers_[next_worker_].get();
    next_worker_ = (next_worker_ + 1) % workers_.size();
    acceptor_->async_accept(target->ioc, [this, target](error_code ec, tcp::socket socket) {
      OnAccept(target, ec, std::move(socket));
    });
  }

  void OnAccept(Worker* target, error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_->is_open()) return;
    if (ec) {
      spdlog::warn("accept failed: {}; retrying in {} ms", ec.message(), kAcceptRetryMs);
      accept_retry_->expires_after(milliseconds(kAcceptRetryMs));
      accept_retry_->async_wait([this](error_code wait_ec) {
        if (!wait_ec && acceptor_->is_open()) DoAccept();
      });
      return;
    }
    if (ctx_.connections.load(std::memory_order_relaxed) >= ctx_.options.max_connections) {
      Refuse(std::move(socket));
    } else {
      ctx_.connections.fetch_add(1, std::memory_order_relaxed);
      net::post(target->ioc, [this, target, s = std::move(socket)]() mutable {
        std::make_shared<Session>(std::move(s), target, &ctx_)->Start();
      });
    }
    DoAccept();
  }

  // Over max_connections: answer 503 without reading anything, and close.
  void Refuse(tcp::socket socket) {
    HttpResponse resp;
    WriteError(503, "ServiceUnavailable",
               fmt::format("Too many connections: this server accepts at most {} "
                           "(--max-connections). Retry later.",
                           ctx_.options.max_connections),
               &resp);
    http::response<http::string_body> res{http::status::service_unavailable, 11};
    res.set(http::field::content_type, resp.content_type);
    char id[kRequestIdChars];
    res.set("x-amzn-RequestId", Beast(WriteRequestId(id)));
    for (const auto& [name, value] : resp.headers) res.insert(name, value);
    res.keep_alive(false);
    res.body() = std::move(resp.body);
    res.prepare_payload();
    error_code ec;
    socket.non_blocking(true, ec);  // never stall the acceptor on a slow peer
    http::write(socket, res, ec);
    socket.shutdown(tcp::socket::shutdown_send, ec);
    socket.close(ec);
    if (ctx_.options.metrics != nullptr) {
      ctx_.options.metrics->RecordRejection(503, "ServiceUnavailable");
    }
  }

  ServerContext ctx_;
  std::vector<std::unique_ptr<Worker>> workers_;
  // Both live on workers_[0]'s thread.
  std::optional<tcp::acceptor> acceptor_;
  std::optional<net::steady_timer> accept_retry_;
  size_t next_worker_ = 0;  // acceptor thread only
  std::string host_;
  uint16_t port_ = 0;
  Mutex mu_;
  bool stopped_ GUARDED_BY(mu_) = false;
};

// ---- HttpServer ----

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Shutdown(); }

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const Options& options,
                                                        HttpHandler* handler) {
  if (handler == nullptr) return Status::InvalidArgument("HttpServer::Start: handler is null");
  if (options.max_connections < 1) {
    return Status::InvalidArgument(
        fmt::format("max connections must be at least 1, got {}", options.max_connections));
  }
  if (options.read_timeout_ms < 1) {
    return Status::InvalidArgument(
        fmt::format("read timeout must be at least 1 ms, got {}", options.read_timeout_ms));
  }
  auto impl = std::make_unique<Impl>(options, handler);
  Status s = impl->Listen();
  if (!s.ok()) return s;
  impl->Run();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

const std::string& HttpServer::host() const { return impl_->host(); }
uint16_t HttpServer::port() const { return impl_->port(); }

void HttpServer::Shutdown() {
  if (impl_ != nullptr) impl_->Shutdown();
}

std::string NewRequestId() {
  char id[kRequestIdChars];
  return std::string(WriteRequestId(id));
}

}  // namespace larder::server
