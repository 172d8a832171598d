// ingest::FormatDouble: for any finite double (8 input bytes), the text reads back as exactly
// the same double.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "ingest/entry_encoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size != sizeof(double)) return 0;
  double v;
  std::memcpy(&v, data, sizeof v);
  if (!std::isfinite(v)) return 0;
  char buf[64];
  size_t n = larder::ingest::FormatDouble(v, buf, sizeof buf);
  if (n == 0 || n >= sizeof buf) {
    std::fprintf(stderr, "FormatDouble(%.17g) wrote %zu bytes\n", v, n);
    std::abort();
  }
  buf[n] = '\0';
  char* end = nullptr;
  double back = std::strtod(buf, &end);
  if (end != buf + n || std::memcmp(&back, &v, sizeof v) != 0) {
    // -0.0 may print as "0"; compare values then.
    if (!(v == 0 && back == 0)) {
      std::fprintf(stderr, "FormatDouble(%.17g) = '%s' reads back as %.17g\n", v, buf, back);
      std::abort();
    }
  }
  return 0;
}
