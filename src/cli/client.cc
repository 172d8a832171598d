#include "cli/client.h"

#include <fmt/format.h>
#include <rapidjson/error/en.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/http/span_body.hpp>
#include <chrono>
#include <cstdlib>

#include "common/clock.h"
#include "common/status_macros.h"

namespace larder::cli {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr std::string_view kDefaultEndpoint = "http://127.0.0.1:8080";
constexpr std::string_view kDefaultRegion = "us-east-1";
constexpr uint64_t kMaxReplyBytes = 1ull << 30;  // GetQueryResults pages stay far below this
constexpr size_t kMaxQuotedBody = 300;           // non-JSON error bodies are quoted up to this

const char* NonEmpty(const char* v) { return v != nullptr && *v != '\0' ? v : nullptr; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '/')) s.remove_suffix(1);
  return s;
}

Status ParseEndpoint(std::string_view url, std::string_view source, ClientConfig* c) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format("{} must be an http:// URL such as {}, got '{}': {}",
                                               source, kDefaultEndpoint, url, why));
  };
  std::string_view s = Trim(url);
  if (s.starts_with("https://")) {
    return bad("https is not supported; `larder serve` speaks plain HTTP");
  }
  if (!s.starts_with("http://")) return bad("it does not start with http://");
  s.remove_prefix(7);
  if (s.find('/') != std::string_view::npos) return bad("a path is not supported");
  std::string_view host = s;
  std::string_view port = "80";
  if (s.starts_with("[")) {
    size_t close = s.find(']');
    if (close == std::string_view::npos) return bad("unterminated '[' in an IPv6 address");
    host = s.substr(1, close - 1);
    std::string_view rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("expected ':PORT' after ']'");
      port = rest.substr(1);
    }
  } else if (size_t colon = s.rfind(':'); colon != std::string_view::npos) {
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  if (host.empty()) return bad("no host");
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) ||
      std::stoul(std::string(port)) > 65535) {
    return bad("the port is not a number from 0 to 65535");
  }
  c->host = std::string(host);
  c->port = std::string(port);
  const bool v6 = host.find(':') != std::string_view::npos;
  const std::string bracketed = v6 ? "[" + c->host + "]" : c->host;
  // botocore (and SignRequest) leave the scheme's default port out of Host.
  c->host_header = port == "80" ? bracketed : bracketed + ":" + c->port;
  c->endpoint = "http://" + bracketed + ":" + c->port;
  return Status::OK();
}

// The code botocore would report: the text after ':' and before '#'.
std::string_view CleanCode(std::string_view code) {
  if (size_t colon = code.find(':'); colon != std::string_view::npos) code = code.substr(0, colon);
  if (size_t hash = code.rfind('#'); hash != std::string_view::npos) code = code.substr(hash + 1);
  return code;
}

StatusCode CodeFor(int http_status, std::string_view code) {
  if (code == "ResourceNotFound" || code == "ResourceNotFoundException")
    return StatusCode::kNotFound;
  if (code == "ResourceInUse") return StatusCode::kAlreadyExists;
  if (code == "ResourceLimitExceeded") return StatusCode::kResourceExhausted;
  if (code.find("Throttl") != std::string_view::npos || code == "TooManyRequestsException") {
    return StatusCode::kUnavailable;
  }
  if (code == "InvalidSignatureException" || code == "UnrecognizedClientException" ||
      code == "MissingAuthenticationTokenException" || code == "IncompleteSignatureException") {
    return StatusCode::kUnauthenticated;
  }
  switch (http_status) {
    case 400:
      return StatusCode::kInvalidArgument;
    case 401:
      return StatusCode::kUnauthenticated;
    case 403:
      return StatusCode::kPermissionDenied;
    case 404:
      return StatusCode::kNotFound;
    case 409:
      return StatusCode::kAlreadyExists;
    case 429:
    case 502:
    case 503:
      return StatusCode::kUnavailable;
    case 504:
      return StatusCode::kDeadlineExceeded;
    default:
      break;
  }
  return http_status >= 500 ? StatusCode::kInternal : StatusCode::kInvalidArgument;
}

std::string_view JsonString(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

StatusOr<rapidjson::Document> ParseReplyJson(const ClientReply& reply, std::string_view operation) {
  rapidjson::Document doc;
  if (reply.body.empty()) {
    doc.SetObject();
    return doc;
  }
  doc.Parse(reply.body.data(), reply.body.size());
  if (doc.HasParseError()) {
    return Status::Internal(fmt::format("{}: the reply is not JSON ({} at byte {}): {}", operation,
                                        rapidjson::GetParseError_En(doc.GetParseError()),
                                        doc.GetErrorOffset(),
                                        reply.body.substr(0, kMaxQuotedBody)));
  }
  return doc;
}

// A network failure as a Status naming the endpoint; `what` says which step failed.
Status NetError(const ClientConfig& c, std::string_view what, const beast::error_code& ec) {
  if (ec == net::error::connection_refused) {
    return Status::Unavailable(fmt::format(
        "cannot connect to {}: connection refused — is `larder serve` running?", c.endpoint));
  }
  if (ec == beast::error::timeout) {
    return Status::DeadlineExceeded(fmt::format("{} {}: no reply within {} s (--timeout)", what,
                                                c.endpoint, c.timeout_ms / 1000.0));
  }
  return Status::Unavailable(fmt::format("{} {}: {}", what, c.endpoint, ec.message()));
}

}  // namespace

void AddClientFlags(CLI::App* sub, ClientFlags* flags) {
  sub->add_option("--endpoint", flags->endpoint,
                  "Larder's URL (else $AWS_ENDPOINT_URL, else http://127.0.0.1:8080)");
  sub->add_option("--region", flags->region,
                  "Region to sign for (else $AWS_REGION, $AWS_DEFAULT_REGION, else us-east-1)");
  sub->add_option("--access-key-id", flags->access_key_id, "Access key (else $AWS_ACCESS_KEY_ID)");
  sub->add_option("--secret-access-key", flags->secret_access_key,
                  "Secret key (else $AWS_SECRET_ACCESS_KEY)");
  sub->add_option("--timeout", flags->timeout_seconds, "Seconds to wait for each reply")
      ->capture_default_str();
}

StatusOr<ClientConfig> ResolveClientConfig(const ClientFlags& flags, const EnvLookup& env) {
  ClientConfig c;
  if (!flags.endpoint.empty()) {
    RETURN_IF_ERROR(ParseEndpoint(flags.endpoint, "--endpoint", &c));
  } else if (const char* e = NonEmpty(env("AWS_ENDPOINT_URL"))) {
    RETURN_IF_ERROR(ParseEndpoint(e, "AWS_ENDPOINT_URL", &c));
  } else {
    RETURN_IF_ERROR(ParseEndpoint(kDefaultEndpoint, "the default endpoint", &c));
  }

  if (!flags.region.empty()) {
    c.region = flags.region;
  } else if (const char* r = NonEmpty(env("AWS_REGION"))) {
    c.region = r;
  } else if (const char* d = NonEmpty(env("AWS_DEFAULT_REGION"))) {
    c.region = d;
  } else {
    c.region = std::string(kDefaultRegion);
  }

  if (!flags.access_key_id.empty() || !flags.secret_access_key.empty()) {
    if (flags.access_key_id.empty() || flags.secret_access_key.empty()) {
      return Status::InvalidArgument(
          "--access-key-id and --secret-access-key must be given together");
    }
    c.credentials.access_key_id = flags.access_key_id;
    c.credentials.secret_access_key = flags.secret_access_key;
  } else {
    const char* id = NonEmpty(env("AWS_ACCESS_KEY_ID"));
    const char* secret = NonEmpty(env("AWS_SECRET_ACCESS_KEY"));
    if (id == nullptr || secret == nullptr) {
      return Status::InvalidArgument(fmt::format(
          "no AWS credentials: {} is not set. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to "
          "the keys `larder serve` printed at startup (they are kept in DATA_DIR/credentials), or "
          "pass --access-key-id and --secret-access-key",
          id == nullptr ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY"));
    }
    c.credentials.access_key_id = id;
    c.credentials.secret_access_key = secret;
    if (const char* token = NonEmpty(env("AWS_SESSION_TOKEN"))) c.credentials.session_token = token;
  }

  if (!(flags.timeout_seconds > 0)) {
    return Status::InvalidArgument(fmt::format(
        "--timeout must be a positive number of seconds, got {}", flags.timeout_seconds));
  }
  c.timeout_ms = static_cast<int64_t>(flags.timeout_seconds * 1000);
  return c;
}

StatusOr<ClientConfig> ResolveClientConfig(const ClientFlags& flags) {
  return ResolveClientConfig(flags, [](const char* name) { return std::getenv(name); });
}

void ParseAwsError(const ClientReply& reply, std::string* code, std::string* message) {
  *code = std::string(CleanCode(reply.error_type));
  message->clear();
  rapidjson::Document doc;
  doc.Parse(reply.body.data(), reply.body.size());
  if (doc.HasParseError() || !doc.IsObject()) return;
  if (code->empty()) {
    for (const char* key : {"__type", "code", "Code"}) {
      std::string_view v = JsonString(doc, key);
      if (!v.empty()) {
        *code = std::string(CleanCode(v));
        break;
      }
    }
  }
  for (const char* key : {"message", "Message"}) {
    std::string_view v = JsonString(doc, key);
    if (!v.empty()) {
      *message = std::string(v);
      break;
    }
  }
}

Status StatusFromReply(const ClientReply& reply, std::string_view operation) {
  if (reply.status < 300) return Status::OK();
  std::string code;
  std::string message;
  ParseAwsError(reply, &code, &message);
  if (message.empty()) {
    message = reply.body.empty()
                  ? fmt::format("{} failed with HTTP {} and an empty body", operation, reply.status)
                  : fmt::format("{} failed with HTTP {}: {}", operation, reply.status,
                                reply.body.substr(0, kMaxQuotedBody));
  }
  const StatusCode sc = CodeFor(reply.status, code);
  std::string text = code.empty() ? message : code + ": " + message;
  if (sc == StatusCode::kUnauthenticated || reply.status == 403) {
    text +=
        " (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY against the keys `larder serve` "
        "printed, and that the region matches its --region)";
  }
  return Status(sc, std::move(text));
}

// ---- Connection ----

struct Connection::Impl {
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  http::request<http::span_body<const char>> request;
  server::HeaderList headers;
  bool open = false;

  // Runs the async operation started on `stream` to completion.
  void Run() {
    ioc.restart();
    ioc.run();
  }
};

Connection::Connection(ClientConfig config)
    : config_(std::move(config)), impl_(std::make_unique<Impl>()) {}

Connection::~Connection() { Close(); }

void Connection::Close() {
  if (impl_->open) {
    beast::error_code ignored;
    impl_->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    impl_->stream.close();
  }
  impl_->open = false;
  impl_->buffer.clear();
  outstanding_ = 0;
  reused_ = false;
}

Status Connection::Connect() {
  Close();
  tcp::resolver resolver(impl_->ioc);
  beast::error_code ec;
  auto endpoints = resolver.resolve(config_.host, config_.port, ec);
  if (ec) {
    return Status::Unavailable(fmt::format("cannot connect to {}: cannot resolve '{}': {}",
                                           config_.endpoint, config_.host, ec.message()));
  }
  impl_->stream.expires_after(std::chrono::milliseconds(config_.timeout_ms));
  impl_->stream.async_connect(endpoints,
                              [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
  impl_->Run();
  if (ec) {
    Close();
    return NetError(config_, "cannot connect to", ec);
  }
  impl_->stream.socket().set_option(tcp::no_delay(true), ec);
  impl_->open = true;
  return Status::OK();
}

Status Connection::Send(const ClientRequest& request) {
  if (!impl_->open) RETURN_IF_ERROR(Connect());
  server::HeaderList& headers = impl_->headers;
  headers.clear();
  headers.emplace_back("Host", config_.host_header);
  if (!request.content_type.empty()) headers.emplace_back("Content-Type", request.content_type);
  if (!request.amz_target.empty()) headers.emplace_back("X-Amz-Target", request.amz_target);
  ASSIGN_OR_RETURN(server::SignedRequest sig,
                   server::SignRequest(request.method, request.target, headers, request.body,
                                       config_.credentials, config_.region, request.service,
                                       Clock::Real()->NowMicros()));
  auto& req = impl_->request;
  req = {};
  http::verb verb =
      http::string_to_verb(beast::string_view(request.method.data(), request.method.size()));
  if (verb == http::verb::unknown) {
    return Status::InvalidArgument(fmt::format("unknown HTTP method '{}'", request.method));
  }
  req.method(verb);
  req.target(beast::string_view(request.target.data(), request.target.size()));
  req.version(11);
  for (const auto& [name, value] : headers) req.set(name, value);
  for (const auto& [name, value] : sig.headers_to_add) req.set(name, value);
  req.set(http::field::user_agent, "larder-cli");
  req.keep_alive(true);
  req.body() = boost::beast::span<const char>(request.body.data(), request.body.size());
  req.prepare_payload();

  beast::error_code ec;
  impl_->stream.expires_after(std::chrono::milliseconds(config_.timeout_ms));
  http::async_write(impl_->stream, req, [&](beast::error_code e, size_t) { ec = e; });
  impl_->Run();
  if (ec) {
    Close();
    return NetError(config_, "cannot send to", ec);
  }
  ++outstanding_;
  return Status::OK();
}

StatusOr<ClientReply> Connection::Receive() {
  if (outstanding_ == 0)
    return Status::Internal("Connection::Receive without an outstanding request");
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxReplyBytes);
  beast::error_code ec;
  impl_->stream.expires_after(std::chrono::milliseconds(config_.timeout_ms));
  http::async_read(impl_->stream, impl_->buffer, parser,
                   [&](beast::error_code e, size_t) { ec = e; });
  impl_->Run();
  if (ec) {
    Close();
    return NetError(config_, ec == beast::error::timeout ? "waiting for" : "no reply from", ec);
  }
  --outstanding_;
  reused_ = true;
  auto msg = parser.release();
  ClientReply reply;
  reply.status = static_cast<int>(msg.result_int());
  if (auto it = msg.find("x-amzn-ErrorType"); it != msg.end()) {
    reply.error_type = std::string(it->value());
  }
  reply.body = std::move(msg.body());
  if (!msg.keep_alive()) {
    // The server will close after this reply; anything pipelined behind it is lost.
    Close();
  }
  return reply;
}

StatusOr<ClientReply> Connection::RoundTrip(const ClientRequest& request) {
  const bool was_reused = impl_->open && reused_;
  Status sent = Send(request);
  if (sent.ok()) {
    StatusOr<ClientReply> reply = Receive();
    if (reply.ok() || !was_reused || reply.status().code() == StatusCode::kDeadlineExceeded) {
      return reply;
    }
  } else if (!was_reused) {
    return sent;
  }
  // The kept-alive socket had been closed by the server (idle timeout, restart): once more on a
  // fresh connection.
  RETURN_IF_ERROR(Send(request));
  return Receive();
}

// ---- AwsClient ----

StatusOr<rapidjson::Document> AwsClient::CallJson(std::string_view service, std::string_view prefix,
                                                  std::string_view operation,
                                                  std::string_view body) {
  const std::string amz_target = fmt::format("{}.{}", prefix, operation);
  ClientRequest req;
  req.method = "POST";
  req.target = "/";
  req.content_type = "application/x-amz-json-1.1";
  req.amz_target = amz_target;
  req.body = body.empty() ? std::string_view("{}") : body;
  req.service = service;
  ASSIGN_OR_RETURN(ClientReply reply, conn_.RoundTrip(req));
  RETURN_IF_ERROR(StatusFromReply(reply, operation));
  return ParseReplyJson(reply, operation);
}

StatusOr<rapidjson::Document> AwsClient::CallRest(std::string_view method, std::string_view target,
                                                  std::string_view body,
                                                  std::string_view operation) {
  ClientRequest req;
  req.method = method;
  req.target = target;
  req.content_type = body.empty() ? std::string_view() : std::string_view("application/json");
  req.body = body;
  req.service = kSageMakerService;
  ASSIGN_OR_RETURN(ClientReply reply, conn_.RoundTrip(req));
  RETURN_IF_ERROR(StatusFromReply(reply, operation));
  return ParseReplyJson(reply, operation);
}

std::string UriEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char ch : s) {
    if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
        ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      out.push_back(static_cast<char>(ch));
    } else {
      out.push_back('%');
      out.push_back(kHex[ch >> 4]);
      out.push_back(kHex[ch & 15]);
    }
  }
  return out;
}

}  // namespace larder::cli
