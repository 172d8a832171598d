# Writes a C++ source defining `std::string_view larder::server::<FUNCTION>()` that returns the
# bytes of INPUT, as one raw string literal. Run with:
#   cmake -DINPUT=<file> -DOUTPUT=<file.cc> -DFUNCTION=<name> -P embed_file.cmake
file(READ "${INPUT}" content)
set(delim "larder_embed")
string(FIND "${content}" ")${delim}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw-string delimiter )${delim}\"")
endif()
file(WRITE "${OUTPUT}.tmp"
"// Generated from ${INPUT} by src/server/embed_file.cmake. Do not edit.
#include \"server/service_models.h\"

namespace larder::server {

std::string_view ${FUNCTION}() {
  static constexpr std::string_view kText = R\"${delim}(${content})${delim}\";
  return kText;
}

}  // namespace larder::server
")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
