#include "cli/commands.h"

namespace larder::cli {

ClientCommands::ClientCommands(CLI::App* app) {
  commands_.push_back(NewListCommand(app));
  commands_.push_back(NewDescribeCommand(app));
  commands_.push_back(NewCreateFeatureGroupCommand(app));
  commands_.push_back(NewIngestCommand(app));
  commands_.push_back(NewGetCommand(app));
  commands_.push_back(NewPutCommand(app));
  commands_.push_back(NewDeleteRecordCommand(app));
  commands_.push_back(NewDeleteFeatureGroupCommand(app));
  commands_.push_back(NewQueryCommand(app));
  commands_.push_back(NewDatasetCommand(app));
}

bool ClientCommands::Selected() const {
  for (const auto& c : commands_) {
    if (c->Selected()) return true;
  }
  return false;
}

int ClientCommands::Run() {
  for (const auto& c : commands_) {
    if (c->Selected()) return c->Run();
  }
  return kExitFailed;
}

}  // namespace larder::cli
