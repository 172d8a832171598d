#include "cli/data_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/rand.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

namespace larder::cli {
namespace {

constexpr std::string_view kUpperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
constexpr std::string_view kAlnum =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
constexpr size_t kKeyIdRandomChars = 16;
constexpr size_t kSecretChars = 40;

std::string Errno(int err) { return std::strerror(err); }

// `n` characters drawn uniformly from `alphabet` (rejection sampling, no modulo bias).
StatusOr<std::string> RandomString(std::string_view alphabet, size_t n) {
  const unsigned limit = 256 - (256 % alphabet.size());
  std::string out;
  unsigned char buf[64];
  while (out.size() < n) {
    if (RAND_bytes(buf, sizeof(buf)) != 1) {
      return Status::Internal("OpenSSL RAND_bytes failed: cannot generate credentials");
    }
    for (unsigned char b : buf) {
      if (b >= limit) continue;
      out.push_back(alphabet[b % alphabet.size()]);
      if (out.size() == n) break;
    }
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

Status WriteAll(int fd, std::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(fmt::format("cannot write {}: {}", path.string(), Errno(errno)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

}  // namespace

// ---- DataDirLock ----

StatusOr<DataDirLock> DataDirLock::Acquire(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Status::IOError(
        fmt::format("cannot create data directory '{}': {}", dir.string(), ec.message()));
  }
  const std::filesystem::path lock_path = dir / "LOCK";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::IOError(fmt::format("cannot open {}: {}", lock_path.string(), Errno(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    std::string holder;
    char buf[32] = {};
    if (::pread(fd, buf, sizeof(buf) - 1, 0) > 0) holder = Trim(buf);
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status::FailedPrecondition(fmt::format(
          "data directory '{}' is in use by another larder process{} (it holds {}); stop it or "
          "choose another --data-dir",
          dir.string(), holder.empty() ? "" : " (pid " + holder + ")", lock_path.string()));
    }
    return Status::IOError(fmt::format("cannot lock {}: {}", lock_path.string(), Errno(err)));
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    int err = errno;
    ::close(fd);
    return Status::IOError(fmt::format("cannot write {}: {}", lock_path.string(), Errno(err)));
  }
  return DataDirLock(fd);
}

DataDirLock::DataDirLock(DataDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

DataDirLock& DataDirLock::operator=(DataDirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the flock
}

// ---- Credentials ----

StatusOr<server::AwsCredentials> GenerateCredentials() {
  server::AwsCredentials c;
  StatusOr<std::string> id = RandomString(kUpperAlnum, kKeyIdRandomChars);
  if (!id.ok()) return id.status();
  StatusOr<std::string> secret = RandomString(kAlnum, kSecretChars);
  if (!secret.ok()) return secret.status();
  c.access_key_id = "AKIA" + *id;
  c.secret_access_key = *secret;
  return c;
}

StatusOr<server::AwsCredentials> LoadOrCreateCredentials(const std::filesystem::path& path,
                                                         bool* created) {
  if (created != nullptr) *created = false;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    StatusOr<server::AwsCredentials> c = GenerateCredentials();
    if (!c.ok()) {
      ::close(fd);
      ::unlink(path.c_str());
      return c.status();
    }
    std::string text = fmt::format(
        "# Larder credentials, generated on first start. Keep this file private (mode 0600).\n"
        "# It is an AWS shared-credentials file: AWS_SHARED_CREDENTIALS_FILE={} works too.\n"
        "[default]\n"
        "aws_access_key_id = {}\n"
        "aws_secret_access_key = {}\n",
        path.string(), c->access_key_id, c->secret_access_key);
    Status s = WriteAll(fd, text, path);
    if (s.ok() && ::fsync(fd) != 0) {
      s = Status::IOError(fmt::format("cannot fsync {}: {}", path.string(), Errno(errno)));
    }
    ::close(fd);
    if (!s.ok()) {
      ::unlink(path.c_str());
      return s;
    }
    if (created != nullptr) *created = true;
    return c;
  }
  if (errno != EEXIST) {
    return Status::IOError(fmt::format("cannot create {}: {}", path.string(), Errno(errno)));
  }

  std::ifstream in(path);
  if (!in) return Status::IOError(fmt::format("cannot read {}", path.string()));
  server::AwsCredentials c;
  std::string line;
  bool in_default = true;  // keys before any [section] count as default
  while (std::getline(in, line)) {
    std::string_view l = Trim(line);
    if (l.empty() || l.front() == '#' || l.front() == ';') continue;
    if (l.front() == '[') {
      in_default = l == "[default]";
      continue;
    }
    if (!in_default) continue;
    size_t eq = l.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = Trim(l.substr(0, eq));
    std::string_view value = Trim(l.substr(eq + 1));
    if (key == "aws_access_key_id") c.access_key_id = value;
    if (key == "aws_secret_access_key") c.secret_access_key = value;
  }
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return Status::InvalidArgument(fmt::format(
        "credentials file {} lacks aws_access_key_id or aws_secret_access_key under [default]; "
        "fix it or delete it to have new keys generated",
        path.string()));
  }
  return c;
}

}  // namespace larder::cli
