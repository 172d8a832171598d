// The `larder` command: `larder serve` and the client subcommands.
#include <CLI/CLI.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  CLI::App app{"Larder: a feature store that speaks the SageMaker Feature Store API"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "larder 0.1.0");
  CLI11_PARSE(app, argc, argv);
  return 0;
}
