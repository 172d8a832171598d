#include "catalog/page_token.h"

#include <charconv>
#include <vector>

namespace larder::catalog {
namespace {

constexpr std::string_view kVersion = "p1";
constexpr char kHex[] = "0123456789abcdef";

// Fields are length-prefixed ("<len>:<bytes>") so any byte may appear in them.
void AppendField(std::string* out, std::string_view field) {
  *out += std::to_string(field.size());
  *out += ':';
  *out += field;
}

bool NextField(std::string_view* in, std::string_view* field) {
  size_t colon = in->find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  size_t len = 0;
  auto [ptr, ec] = std::from_chars(in->data(), in->data() + colon, len);
  if (ec != std::errc() || ptr != in->data() + colon || len > in->size() - colon - 1) return false;
  *field = in->substr(colon + 1, len);
  in->remove_prefix(colon + 1 + len);
  return true;
}

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

Status BadToken(std::string_view token) {
  std::string shown(token.substr(0, 64));
  if (token.size() > 64) shown += "...";
  return Status::InvalidArgument("Invalid NextToken '" + shown +
                                 "': it was not returned by a previous call with the same "
                                 "sort order");
}

}  // namespace

int CompareSortKeys(const SortKey& a, const SortKey& b) {
  if (a.kind != b.kind) return static_cast<int>(a.kind) < static_cast<int>(b.kind) ? -1 : 1;
  switch (a.kind) {
    case SortKey::Kind::kNumber:
      return a.number < b.number ? -1 : (a.number > b.number ? 1 : 0);
    case SortKey::Kind::kString:
      return a.text.compare(b.text) < 0 ? -1 : (a.text == b.text ? 0 : 1);
    case SortKey::Kind::kMissing:
      return 0;
  }
  return 0;
}

std::string EncodePageToken(const PageCursor& c) {
  std::string raw;
  AppendField(&raw, kVersion);
  AppendField(&raw, c.query);
  AppendField(&raw, std::to_string(static_cast<int>(c.key.kind)));
  if (c.key.kind == SortKey::Kind::kNumber) {
    char buf[64];
    auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), c.key.number);
    AppendField(&raw, std::string_view(buf, ec == std::errc() ? ptr - buf : 0));
  } else {
    AppendField(&raw, c.key.text);
  }
  AppendField(&raw, std::to_string(c.id));
  AppendField(&raw, std::to_string(c.sub));
  std::string hex;
  hex.reserve(raw.size() * 2);
  for (unsigned char ch : raw) {
    hex += kHex[ch >> 4];
    hex += kHex[ch & 0xf];
  }
  return hex;
}

StatusOr<PageCursor> DecodePageToken(std::string_view token, std::string_view query) {
  if (token.size() % 2 != 0) return BadToken(token);
  std::string raw;
  raw.reserve(token.size() / 2);
  for (size_t i = 0; i < token.size(); i += 2) {
    auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int hi = nibble(token[i]);
    int lo = nibble(token[i + 1]);
    if (hi < 0 || lo < 0) return BadToken(token);
    raw += static_cast<char>(hi * 16 + lo);
  }
  std::string_view in = raw;
  std::vector<std::string_view> f(6);
  for (std::string_view& field : f) {
    if (!NextField(&in, &field)) return BadToken(token);
  }
  if (!in.empty() || f[0] != kVersion || f[1] != query) return BadToken(token);
  PageCursor c;
  c.query = std::string(f[1]);
  int kind = 0;
  if (!ParseNumber(f[2], &kind) || kind < 0 || kind > 2) return BadToken(token);
  c.key.kind = static_cast<SortKey::Kind>(kind);
  if (c.key.kind == SortKey::Kind::kNumber) {
    if (!ParseNumber(f[3], &c.key.number)) return BadToken(token);
  } else {
    c.key.text = std::string(f[3]);
  }
  if (!ParseNumber(f[4], &c.id) || !ParseNumber(f[5], &c.sub)) return BadToken(token);
  return c;
}

}  // namespace larder::catalog
