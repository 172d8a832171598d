// catalog::ParseEventTime and catalog::CanonicalizeScalar on arbitrary text, with round-trip
// properties:
//   * a String event time that parses, reformatted by FormatEventTimeLike in its own style,
//     parses back to the same instant (to the microsecond);
//   * FormatIsoMillis of a parsed time parses back to that time truncated to milliseconds;
//   * a canonical Integral/Fractional value is its own canonical form.
// Byte 0 picks the feature type; the rest is the text.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "catalog/record.h"

using larder::catalog::FeatureType;

namespace {

[[noreturn]] void Fail(const char* what, std::string_view text, const std::string& detail) {
  std::fprintf(stderr, "%s: text '%.*s': %s\n", what, static_cast<int>(text.size()), text.data(),
               detail.c_str());
  std::abort();
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const FeatureType types[] = {FeatureType::kString, FeatureType::kFractional,
                               FeatureType::kIntegral};
  const FeatureType type = types[data[0] % 3];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  if (type != FeatureType::kIntegral) {
    auto t = larder::catalog::ParseEventTime("et", type, text);
    if (t.ok()) {
      std::string again = larder::catalog::FormatEventTimeLike(type, text, *t);
      auto t2 = larder::catalog::ParseEventTime("et", type, again);
      if (!t2.ok()) Fail("FormatEventTimeLike output does not parse", text, again);
      // Unix seconds as text may carry more precision than microseconds; ISO keeps up to 6 digits.
      if (*t2 != *t) {
        Fail("event time does not round-trip", text,
             again + " -> " + std::to_string(*t2) + " != " + std::to_string(*t));
      }
      std::string iso = larder::catalog::FormatIsoMillis(*t);
      auto t3 = larder::catalog::ParseEventTime("et", FeatureType::kString, iso);
      if (!t3.ok()) Fail("FormatIsoMillis output does not parse", text, iso);
      if (*t3 != FloorDiv(*t, 1000) * 1000) {
        Fail("FormatIsoMillis does not truncate to milliseconds", text, iso);
      }
    }
  }
  std::string canonical;
  if (larder::catalog::CanonicalizeScalar("f", type, text, &canonical).ok()) {
    std::string twice;
    if (!larder::catalog::CanonicalizeScalar("f", type, canonical, &twice).ok()) {
      Fail("a canonical value is refused", text, canonical);
    }
    if (twice != canonical) Fail("canonical form is not stable", text, canonical + " -> " + twice);
  }
  return 0;
}
