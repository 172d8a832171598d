// The `larder` command. Each subcommand lives in its own file (serve.cc, ...) and registers
// its flags here; main dispatches to the one the command line selected.
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/serve.h"

#ifndef LARDER_VERSION
#define LARDER_VERSION "unknown"
#endif

int main(int argc, char** argv) {
  CLI::App app{"Larder: a feature store that speaks the SageMaker Feature Store API"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "larder " LARDER_VERSION);
  larder::cli::ServeCommand serve(&app);
  larder::cli::ClientCommands client_commands(&app);
  CLI11_PARSE(app, argc, argv);
  if (serve.Selected()) return serve.Run();
  if (client_commands.Selected()) return client_commands.Run();
  return 0;
}
