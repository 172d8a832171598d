// catalog::DecodeRecord and RecordReader on arbitrary bytes (the online store's values and the
// outbox entries): neither may crash, they must agree, and a decoded record must survive
// EncodeRecord -> DecodeRecord unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "catalog/record.h"

using larder::catalog::Record;
using larder::catalog::Value;

namespace {

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "record codec: %s\n", what);
  std::abort();
}

bool Same(const Record& a, const Record& b) {
  if (a.event_time_micros != b.event_time_micros || a.values.size() != b.values.size()) {
    return false;
  }
  for (size_t i = 0; i < a.values.size(); ++i) {
    const Value& x = a.values[i];
    const Value& y = b.values[i];
    if (x.kind != y.kind || x.scalar != y.scalar || x.list != y.list) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto decoded = larder::catalog::DecodeRecord(in);

  // The zero-copy reader sees the same values (or fails too).
  larder::catalog::RecordReader reader(in);
  Record read;
  while (reader.Next()) {
    Value v;
    v.kind = reader.kind();
    if (v.kind == Value::Kind::kScalar) v.scalar = std::string(reader.scalar());
    if (v.kind == Value::Kind::kList) {
      std::string_view e;
      while (reader.NextElement(&e)) v.list.emplace_back(e);
    }
    read.values.push_back(std::move(v));
  }
  read.event_time_micros = reader.event_time_micros();
  if (decoded.ok() != reader.status().ok()) Fail("DecodeRecord and RecordReader disagree on validity");
  if (!decoded.ok()) return 0;
  if (!Same(*decoded, read)) Fail("DecodeRecord and RecordReader read different values");

  std::string encoded;
  larder::catalog::EncodeRecord(*decoded, &encoded);
  auto again = larder::catalog::DecodeRecord(encoded);
  if (!again.ok()) Fail("an encoded record does not decode");
  if (!Same(*decoded, *again)) Fail("a record does not survive Encode -> Decode");
  return 0;
}
