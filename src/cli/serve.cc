#include "cli/serve.h"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cli/data_dir.h"
#include "common/status_macros.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/router.h"
#include "server/sigv4.h"

namespace larder::cli {
namespace {

constexpr size_t kAccountIdDigits = 12;
constexpr uint64_t kMinHeaderBytes = 1024;  // below this even botocore's headers do not fit

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsRegionName(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

Status Validate(const ServeConfig& c) {
  if (c.account_id.size() != kAccountIdDigits || !IsDigits(c.account_id)) {
    return Status::InvalidArgument(
        fmt::format("--account-id must be exactly 12 digits, got '{}'", c.account_id));
  }
  if (!IsRegionName(c.region)) {
    return Status::InvalidArgument(fmt::format(
        "--region must be an AWS region name such as us-east-1 (a-z, 0-9, '-'), got '{}'",
        c.region));
  }
  if (c.threads < 0) {
    return Status::InvalidArgument(fmt::format("--threads must be >= 0, got {}", c.threads));
  }
  if (c.max_connections < 1) {
    return Status::InvalidArgument(
        fmt::format("--max-connections must be >= 1, got {}", c.max_connections));
  }
  if (c.read_timeout_ms < 1) {
    return Status::InvalidArgument(
        fmt::format("--read-timeout-ms must be >= 1, got {}", c.read_timeout_ms));
  }
  if (c.max_body_bytes < 1) {
    return Status::InvalidArgument(
        fmt::format("--max-body-bytes must be >= 1, got {}", c.max_body_bytes));
  }
  if (c.max_header_bytes < kMinHeaderBytes) {
    return Status::InvalidArgument(fmt::format("--max-header-bytes must be >= {}, got {}",
                                               kMinHeaderBytes, c.max_header_bytes));
  }
  return Status::OK();
}

// Keys: both flags, else both env vars, else DIR/credentials (created on first start).
Status ResolveCredentials(ServeConfig* c) {
  if (!c->access_key_id.empty() || !c->secret_access_key.empty()) {
    if (c->access_key_id.empty() || c->secret_access_key.empty()) {
      return Status::InvalidArgument(
          "--access-key-id and --secret-access-key must be given together");
    }
    return Status::OK();
  }
  const char* env_id = std::getenv("LARDER_ACCESS_KEY_ID");
  const char* env_secret = std::getenv("LARDER_SECRET_ACCESS_KEY");
  bool has_id = env_id != nullptr && *env_id != '\0';
  bool has_secret = env_secret != nullptr && *env_secret != '\0';
  if (has_id || has_secret) {
    if (!has_id || !has_secret) {
      return Status::InvalidArgument(
          "LARDER_ACCESS_KEY_ID and LARDER_SECRET_ACCESS_KEY must be set together");
    }
    c->access_key_id = env_id;
    c->secret_access_key = env_secret;
    return Status::OK();
  }
  bool created = false;
  const std::filesystem::path file = c->data_dir / "credentials";
  ASSIGN_OR_RETURN(server::AwsCredentials creds, LoadOrCreateCredentials(file, &created));
  if (created) {
    spdlog::info("generated new credentials in {} (mode 0600)", file.string());
  } else {
    spdlog::info("using the credentials in {}", file.string());
  }
  c->access_key_id = std::move(creds.access_key_id);
  c->secret_access_key = std::move(creds.secret_access_key);
  return Status::OK();
}

// The host clients should use: a wildcard bind is reached through loopback.
std::string EndpointHost(const std::string& bound) {
  if (bound == "0.0.0.0") return "127.0.0.1";
  if (bound == "::") return "[::1]";
  if (bound.find(':') != std::string::npos) return "[" + bound + "]";
  return bound;
}

int Fail(const Status& s) {
  fmt::print(stderr, "larder serve: {}\n", s.message());
  return 1;
}

}  // namespace

Status ParseListen(std::string_view listen, std::string* host, uint16_t* port) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format(
        "--listen must be HOST:PORT (e.g. 127.0.0.1:8080, [::1]:8080), got '{}': {}", listen, why));
  };
  size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) return bad("no ':PORT'");
  std::string_view h = listen.substr(0, colon);
  std::string_view p = listen.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty()) return bad("empty host");
  if (!IsDigits(p) || p.size() > 5) return bad("the port is not a number");
  unsigned long value = std::stoul(std::string(p));
  if (value > 65535) return bad("the port is above 65535");
  *host = std::string(h);
  *port = static_cast<uint16_t>(value);
  return Status::OK();
}

ServeCommand::ServeCommand(CLI::App* app) {
  sub_ = app->add_subcommand("serve",
                             "Run the feature store behind a SageMaker Feature Store "
                             "compatible HTTP endpoint");
  sub_->add_option("--data-dir", data_dir_, "Directory for all data (created if missing)")
      ->capture_default_str();
  sub_->add_option("--listen", listen_, "HOST:PORT to listen on; port 0 picks a free port")
      ->capture_default_str();
  sub_->add_option("--region", config_.region, "The AWS region clients sign for")
      ->capture_default_str();
  sub_->add_option("--account-id", config_.account_id, "12-digit account id used in ARNs")
      ->capture_default_str();
  sub_->add_option("--access-key-id", config_.access_key_id,
                   "Access key id clients sign with (else $LARDER_ACCESS_KEY_ID, else "
                   "DATA_DIR/credentials, generated on first start)");
  sub_->add_option("--secret-access-key", config_.secret_access_key,
                   "Secret access key (else $LARDER_SECRET_ACCESS_KEY, else DATA_DIR/credentials)");
  sub_->add_option("--threads", config_.threads, "I/O threads; 0 = one per CPU")
      ->capture_default_str();
  sub_->add_option("--max-body-bytes", config_.max_body_bytes,
                   "Largest request body accepted (413 above)")
      ->capture_default_str();
  sub_->add_option("--max-header-bytes", config_.max_header_bytes,
                   "Largest request header block accepted (431 above)")
      ->capture_default_str();
  sub_->add_option("--max-connections", config_.max_connections,
                   "Most concurrent connections; more are refused with 503")
      ->capture_default_str();
  sub_->add_option("--read-timeout-ms", config_.read_timeout_ms,
                   "A request must arrive completely within this time")
      ->capture_default_str();
  sub_->add_option("--log-level", log_level_, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  sub_->add_option("--durability", config_.durability,
                   "When a write is acknowledged: process (the log is written; survives kill -9) "
                   "or fsync (the log is synced; survives power loss)")
      ->capture_default_str();
  sub_->add_option("--online-block-cache-mb", config_.online_block_cache_mb,
                   "Online store block cache size in MiB")
      ->capture_default_str();
  sub_->add_option("--online-write-buffer-mb", config_.online_write_buffer_mb,
                   "Online store memtable size in MiB (all memtables together use at most 3x)")
      ->capture_default_str();
  sub_->add_option("--flush-interval-ms", config_.flush_interval_ms,
                   "Offline store: waiting writes are flushed to Parquet at least this often")
      ->capture_default_str();
  sub_->add_option("--flush-rows", config_.flush_rows,
                   "Offline store: flush as soon as this many writes wait")
      ->capture_default_str();
  sub_->add_option("--query-workers", config_.query_workers,
                   "Athena queries that run at once (each has its own DuckDB instance)")
      ->capture_default_str();
  sub_->add_option("--query-memory-limit-mb", config_.query_memory_limit_mb,
                   "DuckDB memory in MiB shared by the running Athena queries")
      ->capture_default_str();
  sub_->add_option("--query-timeout-ms", config_.query_timeout_ms,
                   "An Athena query running longer than this is stopped and FAILED")
      ->capture_default_str();
  sub_->add_option("--dataset-base-dir", config_.dataset_base_dirs,
                   "A directory Larder.CreateDataset may read base files from, besides "
                   "DIR/uploads (repeatable; absolute)");
  sub_->add_option("--dataset-memory-limit-mb", config_.dataset_memory_limit_mb,
                   "DuckDB memory of one dataset build; it spills beyond it")
      ->capture_default_str();
}

int ServeCommand::Run() {
  auto logger = spdlog::stderr_color_mt("larder");
  spdlog::set_default_logger(logger);
  spdlog::level::level_enum level = spdlog::level::from_str(log_level_);
  if (level == spdlog::level::off && log_level_ != "off") {
    return Fail(Status::InvalidArgument(fmt::format(
        "--log-level must be trace, debug, info, warn, error or off, got '{}'", log_level_)));
  }
  spdlog::set_level(level);

  config_.data_dir = data_dir_;
  if (Status s = ParseListen(listen_, &config_.listen_host, &config_.listen_port); !s.ok()) {
    return Fail(s);
  }
  if (Status s = Validate(config_); !s.ok()) return Fail(s);

  StatusOr<DataDirLock> lock = DataDirLock::Acquire(config_.data_dir);
  if (!lock.ok()) return Fail(lock.status());
  if (Status s = ResolveCredentials(&config_); !s.ok()) return Fail(s);

  // SIGINT/SIGTERM are blocked before any thread starts, so every thread inherits the mask and
  // this thread alone receives them, in sigwait below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  StatusOr<Services> services = OpenServices(config_);
  if (!services.ok()) return Fail(services.status());

  server::Metrics metrics;
  server::SigV4Verifier::Options vo;
  vo.region = config_.region;
  vo.credentials.push_back({config_.access_key_id, config_.secret_access_key, ""});
  vo.clock = config_.clock;
  server::SigV4Verifier verifier(std::move(vo));
  server::Router::Options ro;
  ro.verifier = &verifier;
  ro.metrics = &metrics;
  ro.control_plane = services->control_plane.get();
  ro.runtime = services->runtime.get();
  ro.athena = services->athena.get();
  ro.larder = services->larder.get();
  server::Router router(ro);

  server::HttpServer::Options ho;
  ho.host = config_.listen_host;
  ho.port = config_.listen_port;
  ho.threads = config_.threads;
  ho.max_body_bytes = config_.max_body_bytes;
  ho.max_header_bytes = config_.max_header_bytes;
  ho.max_connections = config_.max_connections;
  ho.read_timeout_ms = config_.read_timeout_ms;
  ho.metrics = &metrics;
  ho.clock = config_.clock;
  StatusOr<std::unique_ptr<server::HttpServer>> http = server::HttpServer::Start(ho, &router);
  if (!http.ok()) {
    services->Shutdown();
    return Fail(http.status());
  }
  router.SetReady(true);

  const std::string endpoint =
      fmt::format("http://{}:{}", EndpointHost((*http)->host()), (*http)->port());
  spdlog::info("listening on {}:{} (region {}, account {}, data dir {})", (*http)->host(),
               (*http)->port(), config_.region, config_.account_id, config_.data_dir.string());
  fmt::print(
      "Larder is serving the SageMaker Feature Store API at {}\n"
      "Point the AWS CLI or boto3 at it:\n"
      "export AWS_ACCESS_KEY_ID={}\n"
      "export AWS_SECRET_ACCESS_KEY={}\n"
      "export AWS_DEFAULT_REGION={}\n"
      "export AWS_ENDPOINT_URL={}\n",
      endpoint, config_.access_key_id, config_.secret_access_key, config_.region, endpoint);
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  // A second Ctrl-C during the graceful stop kills the process the default way.
  pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
  spdlog::info("received {}; finishing requests in flight and shutting down",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");

  router.SetReady(false);
  (*http)->Shutdown();
  services->Shutdown();
  spdlog::info("stopped");
  return 0;
}

}  // namespace larder::cli
