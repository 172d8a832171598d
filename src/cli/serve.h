// `larder serve`: runs the feature store behind a SageMaker-compatible HTTP endpoint.
#ifndef LARDER_CLI_SERVE_H_
#define LARDER_CLI_SERVE_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "cli/services.h"
#include "larder/status.h"

namespace larder::cli {

// Splits "HOST:PORT" ("[v6]:PORT" for IPv6) into host and port.
Status ParseListen(std::string_view listen, std::string* host, uint16_t* port);

// Registers the `serve` subcommand and its flags on `app`. Thread-compatible; used from main.
class ServeCommand {
 public:
  // `app` is not owned and must outlive this object.
  explicit ServeCommand(CLI::App* app);

  // True if the command line selected `serve` (after app->parse).
  bool Selected() const { return sub_->parsed(); }

  // Runs the server until SIGTERM or SIGINT. Returns the process exit code: 0 after a graceful
  // shutdown, 1 if it could not start.
  int Run();

 private:
  CLI::App* sub_;
  ServeConfig config_;
  std::string data_dir_ = "./larder-data";
  std::string listen_ = "127.0.0.1:8080";
  std::string log_level_ = "info";
};

}  // namespace larder::cli

#endif  // LARDER_CLI_SERVE_H_
