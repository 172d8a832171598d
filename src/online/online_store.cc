#include "online/online_store.h"

#include <string>

namespace larder::online {

StatusOr<Durability> ParseDurability(std::string_view text) {
  if (text == "process") return Durability::kProcess;
  if (text == "fsync") return Durability::kFsync;
  return Status::InvalidArgument("durability \"" + std::string(text) +
                                 "\" is not one of \"process\" (survives kill -9, the default) or "
                                 "\"fsync\" (survives power loss)");
}

std::string_view DurabilityName(Durability d) {
  switch (d) {
    case Durability::kProcess:
      return "process";
    case Durability::kFsync:
      return "fsync";
  }
  return "";
}

}  // namespace larder::online
