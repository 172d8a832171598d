// Helpers shared by the online store's tests: a temporary directory and mutation builders.
// Not part of the library.
#ifndef LARDER_ONLINE_TEST_UTIL_H_
#define LARDER_ONLINE_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "catalog/record.h"
#include "online/online_store.h"

namespace larder::online::testing {

// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "larder-online-XXXXXX").string();
    char* p = mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// EncodeRecord bytes of a two-feature record (identifier, payload) at `event_time`.
inline std::string RecordBytes(std::string_view id, std::string_view payload, int64_t event_time) {
  catalog::Record r;
  r.event_time_micros = event_time;
  r.values.resize(2);
  r.values[0].kind = catalog::Value::Kind::kScalar;
  r.values[0].scalar = std::string(id);
  r.values[1].kind = catalog::Value::Kind::kScalar;
  r.values[1].scalar = std::string(payload);
  std::string out;
  catalog::EncodeRecord(r, &out);
  return out;
}

// EncodeRecord bytes of a marker (identifier only) at `event_time`.
inline std::string MarkerBytes(std::string_view id, int64_t event_time) {
  catalog::Record r;
  r.event_time_micros = event_time;
  r.values.resize(1);
  r.values[0].kind = catalog::Value::Kind::kScalar;
  r.values[0].scalar = std::string(id);
  std::string out;
  catalog::EncodeRecord(r, &out);
  return out;
}

inline Mutation Put(uint64_t group, std::string id, std::string payload, int64_t event_time,
                    std::optional<int64_t> expires_at = std::nullopt, bool online = true,
                    bool offline = true) {
  Mutation m;
  m.kind = Mutation::Kind::kPut;
  m.group_id = group;
  m.record = RecordBytes(id, payload, event_time);
  m.identifier = std::move(id);
  m.event_time_micros = event_time;
  m.expires_at_micros = expires_at;
  if (expires_at) m.expiry_marker = MarkerBytes(m.identifier, *expires_at);
  m.online = online;
  m.offline = offline;
  m.api_invocation_time_micros = 1;
  return m;
}

inline Mutation Delete(Mutation::Kind kind, uint64_t group, std::string id, int64_t event_time,
                       bool online = true, bool offline = true) {
  Mutation m;
  m.kind = kind;
  m.group_id = group;
  m.record = MarkerBytes(id, event_time);
  m.identifier = std::move(id);
  m.event_time_micros = event_time;
  m.online = online;
  m.offline = offline;
  m.api_invocation_time_micros = 1;
  return m;
}

// The payload (second value) of a stored record, or "" if it has none.
inline std::string Payload(std::string_view record_bytes) {
  auto r = catalog::DecodeRecord(record_bytes);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok() || r->values.size() < 2) return "";
  return r->values[1].scalar;
}

}  // namespace larder::online::testing

#endif  // LARDER_ONLINE_TEST_UTIL_H_
