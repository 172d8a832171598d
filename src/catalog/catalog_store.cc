#include "catalog/catalog_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

#include "catalog/group_codec.h"
#include "common/status_macros.h"

namespace larder::catalog {
namespace {

namespace fs = std::filesystem;

constexpr char kGroupsDir[] = "groups";
constexpr char kArchiveDir[] = "archive";
constexpr char kNextIdFile[] = "NEXT_ID";
constexpr char kTmpSuffix[] = ".tmp";
constexpr char kGroupSuffix[] = ".json";

Status ErrnoStatus(std::string_view what, const std::string& path, int err) {
  return Status::IOError(std::string(what) + " '" + path + "': " + std::strerror(err));
}

Status FsyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus("fsync", path, err);
  return Status::OK();
}

Status MakeDir(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return Status::IOError("create directory '" + path + "': " + ec.message());
  return Status::OK();
}

StatusOr<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", path, errno);
  std::string out;
  char buf[64 * 1024];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoStatus("read", path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

std::string IdFileName(uint64_t id) { return std::to_string(id) + kGroupSuffix; }

// "<digits>.json" -> the id; anything else -> nullopt.
std::optional<uint64_t> IdFromFileName(std::string_view name) {
  std::string_view suffix = kGroupSuffix;
  if (name.size() <= suffix.size() || name.substr(name.size() - suffix.size()) != suffix) {
    return std::nullopt;
  }
  std::string_view digits = name.substr(0, name.size() - suffix.size());
  if (digits.empty() ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  uint64_t id = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
  return id;
}

// Loads every "<id>.json" in `dir`, removing "*.tmp" leftovers of interrupted writes.
Status LoadDir(const std::string& dir, std::vector<FeatureGroup>* out) {
  std::error_code ec;
  std::vector<std::pair<uint64_t, std::string>> files;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.size() > std::strlen(kTmpSuffix) &&
        name.compare(name.size() - std::strlen(kTmpSuffix), std::string::npos, kTmpSuffix) == 0) {
      std::error_code rm_ec;
      fs::remove(e.path(), rm_ec);
      if (rm_ec) return Status::IOError("remove '" + e.path().string() + "': " + rm_ec.message());
      continue;
    }
    std::optional<uint64_t> id = IdFromFileName(name);
    if (id.has_value()) files.emplace_back(*id, e.path().string());
  }
  if (ec) return Status::IOError("list directory '" + dir + "': " + ec.message());
  std::sort(files.begin(), files.end());
  for (const auto& [id, path] : files) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(path));
    ASSIGN_OR_RETURN(FeatureGroup g, DecodeGroup(text, path));
    if (g.id != id) {
      return Status::Corruption(path + ": holds group id " + std::to_string(g.id) +
                                " but the file name says " + std::to_string(id));
    }
    out->push_back(std::move(g));
  }
  return Status::OK();
}

}  // namespace

Status WriteFileAtomically(const std::string& path, std::string_view data) {
  std::string tmp = path + kTmpSuffix;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("create", tmp, errno);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoStatus("write", tmp, err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus("fsync", tmp, err);
  }
  if (::close(fd) != 0) return ErrnoStatus("close", tmp, errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoStatus("rename", tmp, errno);
  return FsyncPath(fs::path(path).parent_path().string(), /*directory=*/true);
}

FileCatalogStore::FileCatalogStore(std::string dir) : dir_(std::move(dir)) {}

StatusOr<std::unique_ptr<FileCatalogStore>> FileCatalogStore::Open(const std::string& dir) {
  RETURN_IF_ERROR(MakeDir(dir + "/" + kGroupsDir));
  RETURN_IF_ERROR(MakeDir(dir + "/" + kArchiveDir));
  RETURN_IF_ERROR(FsyncPath(dir, /*directory=*/true));
  return std::unique_ptr<FileCatalogStore>(new FileCatalogStore(dir));
}

StatusOr<CatalogStore::Contents> FileCatalogStore::Load() {
  Contents c;
  RETURN_IF_ERROR(LoadDir(dir_ + "/" + kGroupsDir, &c.live));
  RETURN_IF_ERROR(LoadDir(dir_ + "/" + kArchiveDir, &c.archived));
  // A tmp leftover of NEXT_ID is harmless: it is never read.
  std::error_code ec;
  fs::remove(dir_ + "/" + kNextIdFile + kTmpSuffix, ec);

  uint64_t next = 1;
  std::string next_path = dir_ + "/" + kNextIdFile;
  if (fs::exists(next_path, ec)) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(next_path));
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    auto [ptr, err] = std::from_chars(text.data(), text.data() + text.size(), next);
    if (err != std::errc() || ptr != text.data() + text.size() || next == 0) {
      return Status::Corruption(next_path + ": not a positive decimal id: '" + text + "'");
    }
  }
  // Ids found on disk win over a counter that somehow lags (e.g. restored from a copy).
  for (const auto* list : {&c.live, &c.archived}) {
    for (const FeatureGroup& g : *list) next = std::max(next, g.id + 1);
  }
  // rename(2) moves a definition to the archive atomically, so no id should be in both; if a
  // copy or restore left one in both, the archive (the later state) wins.
  std::vector<uint64_t> archived_ids;
  for (const FeatureGroup& g : c.archived) archived_ids.push_back(g.id);
  std::sort(archived_ids.begin(), archived_ids.end());
  std::erase_if(c.live, [&](const FeatureGroup& g) {
    return std::binary_search(archived_ids.begin(), archived_ids.end(), g.id);
  });
  c.next_id = next;
  next_id_ = next;
  loaded_ = true;
  return c;
}

StatusOr<uint64_t> FileCatalogStore::AllocateId() {
  if (!loaded_) return Status::Internal("FileCatalogStore::AllocateId called before Load");
  uint64_t id = next_id_;
  RETURN_IF_ERROR(WriteFileAtomically(dir_ + "/" + kNextIdFile, std::to_string(id + 1) + "\n"));
  next_id_ = id + 1;
  return id;
}

Status FileCatalogStore::PutGroup(const FeatureGroup& group) {
  return WriteFileAtomically(dir_ + "/" + kGroupsDir + "/" + IdFileName(group.id),
                             EncodeGroup(group));
}

Status FileCatalogStore::DeleteGroup(uint64_t id) {
  std::string from = dir_ + "/" + kGroupsDir + "/" + IdFileName(id);
  std::string to = dir_ + "/" + kArchiveDir + "/" + IdFileName(id);
  if (::rename(from.c_str(), to.c_str()) != 0) {
    if (errno == ENOENT) return Status::NotFound("no live group with id " + std::to_string(id));
    return ErrnoStatus("rename", from, errno);
  }
  // Both directories changed; make both entries durable.
  RETURN_IF_ERROR(FsyncPath(dir_ + "/" + kArchiveDir, /*directory=*/true));
  return FsyncPath(dir_ + "/" + kGroupsDir, /*directory=*/true);
}

Status MemCatalogStore::PutGroup(const FeatureGroup& group) {
  for (FeatureGroup& g : contents_.live) {
    if (g.id == group.id) {
      g = group;
      return Status::OK();
    }
  }
  contents_.live.push_back(group);
  return Status::OK();
}

Status MemCatalogStore::DeleteGroup(uint64_t id) {
  auto it = std::find_if(contents_.live.begin(), contents_.live.end(),
                         [id](const FeatureGroup& g) { return g.id == id; });
  if (it == contents_.live.end()) {
    return Status::NotFound("no live group with id " + std::to_string(id));
  }
  contents_.archived.push_back(std::move(*it));
  contents_.live.erase(it);
  return Status::OK();
}

}  // namespace larder::catalog
