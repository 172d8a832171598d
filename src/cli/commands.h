// The client subcommands of `larder` (everything except `serve`), one file each:
//   commands_list.cc             list                  ListFeatureGroups, all pages
//   commands_describe.cc         describe NAME         DescribeFeatureGroup
//   commands_create.cc           create-feature-group  schema inference + CreateFeatureGroup
//   commands_delete_group.cc     delete-feature-group  DeleteFeatureGroup
//   commands_ingest.cc           ingest FILE           bulk BatchWriteRecord (ingest/loader.h)
//   commands_get.cc              get NAME ID           GetRecord
//   commands_put.cc              put NAME              PutRecord
//   commands_delete_record.cc    delete-record NAME ID DeleteRecord
//   commands_query.cc            query "SQL"           Athena
//   Start/GetQueryExecution/GetQueryResults commands_dataset.cc          dataset
//   Larder.CreateDataset
// Shared plumbing is in command_util.h. docs/cli.md documents every subcommand.
//
// Exit statuses: 0 success; 1 failure (the message on stderr says why); 3 `ingest` finished but
// rejected rows (see the rejects file); CLI11's own codes (> 100) for bad command lines.
#ifndef LARDER_CLI_COMMANDS_H_
#define LARDER_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <memory>
#include <vector>

namespace larder::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitRejects = 3;

// One subcommand. Thread-compatible; used from main.
class Command {
 public:
  virtual ~Command() = default;
  // True if the command line selected this subcommand (after parsing).
  virtual bool Selected() const = 0;
  // Runs it; returns the exit status.
  virtual int Run() = 0;
};

std::unique_ptr<Command> NewListCommand(CLI::App* app);
std::unique_ptr<Command> NewDescribeCommand(CLI::App* app);
std::unique_ptr<Command> NewCreateFeatureGroupCommand(CLI::App* app);
std::unique_ptr<Command> NewDeleteFeatureGroupCommand(CLI::App* app);
std::unique_ptr<Command> NewIngestCommand(CLI::App* app);
std::unique_ptr<Command> NewGetCommand(CLI::App* app);
std::unique_ptr<Command> NewPutCommand(CLI::App* app);
std::unique_ptr<Command> NewDeleteRecordCommand(CLI::App* app);
std::unique_ptr<Command> NewQueryCommand(CLI::App* app);
std::unique_ptr<Command> NewDatasetCommand(CLI::App* app);

// Registers every client subcommand on `app` (which must outlive this object); main runs the
// selected one. Thread-compatible.
class ClientCommands {
 public:
  explicit ClientCommands(CLI::App* app);
  bool Selected() const;
  int Run();

 private:
  std::vector<std::unique_ptr<Command>> commands_;
};

}  // namespace larder::cli

#endif  // LARDER_CLI_COMMANDS_H_
