#include "cli/output.h"

#include <fmt/format.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <ctime>

namespace larder::cli {
namespace {

constexpr std::string_view kEllipsis = "…";
constexpr size_t kMinCellWidth = 4;

// Display width of UTF-8 text: code points, not bytes (wide characters count as one).
size_t DisplayWidth(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// The longest prefix of `s` that is at most `width` code points wide.
std::string_view PrefixOfWidth(std::string_view s, size_t width) {
  size_t cps = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (cps == width) return s.substr(0, i);
      ++cps;
    }
  }
  return s;
}

// A cell for display: line breaks and tabs shown as spaces.
std::string Flatten(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return out;
}

}  // namespace

std::optional<OutputFormat> OutputFormatFromName(std::string_view name) {
  if (name == "table") return OutputFormat::kTable;
  if (name == "json") return OutputFormat::kJson;
  if (name == "csv") return OutputFormat::kCsv;
  if (name == "parquet") return OutputFormat::kParquet;
  return std::nullopt;
}

std::string_view OutputFormatName(OutputFormat f) {
  switch (f) {
    case OutputFormat::kTable:
      return "table";
    case OutputFormat::kJson:
      return "json";
    case OutputFormat::kCsv:
      return "csv";
    case OutputFormat::kParquet:
      return "parquet";
  }
  return "table";
}

void AddFormatFlag(CLI::App* sub, std::string* format, const std::vector<std::string>& allowed) {
  *format = allowed.front();
  sub->add_option("--format", *format,
                  "Output format: " + fmt::format("{}", fmt::join(allowed, ", ")))
      ->check(CLI::IsMember(allowed))
      ->capture_default_str();
}

bool IsTerminal(std::FILE* f) { return ::isatty(::fileno(f)) == 1; }

int TerminalWidth(std::FILE* f) {
  if (!IsTerminal(f)) return 0;
  struct winsize ws {};
  if (::ioctl(::fileno(f), TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0) return 80;
  return ws.ws_col;
}

void PrintTable(std::FILE* out, const Table& table, int max_width) {
  const size_t cols = table.header.size();
  std::vector<std::vector<std::string>> cells;
  cells.reserve(table.rows.size() + 1);
  cells.push_back(table.header);
  for (const auto& row : table.rows) {
    std::vector<std::string> r;
    r.reserve(cols);
    for (size_t c = 0; c < cols; ++c) {
      r.push_back(c < row.size() && row[c].has_value() ? Flatten(*row[c]) : std::string());
    }
    cells.push_back(std::move(r));
  }
  std::vector<size_t> width(cols, 0);
  for (const auto& r : cells) {
    for (size_t c = 0; c < cols; ++c) width[c] = std::max(width[c], DisplayWidth(r[c]));
  }
  if (max_width > 0 && cols > 0) {
    auto total = [&] {
      size_t t = 2 * (cols - 1);
      for (size_t w : width) t += w;
      return t;
    };
    while (total() > static_cast<size_t>(max_width)) {
      auto widest = std::max_element(width.begin(), width.end());
      if (*widest <= kMinCellWidth) break;
      --*widest;
    }
  }
  std::string line;
  auto emit_row = [&](const std::vector<std::string>& r) {
    line.clear();
    for (size_t c = 0; c < cols; ++c) {
      std::string_view cell = r[c];
      size_t w = DisplayWidth(cell);
      if (w > width[c]) {
        line += PrefixOfWidth(cell, width[c] - 1);
        line += kEllipsis;
        w = width[c];
      } else {
        line += cell;
      }
      if (c + 1 < cols) line.append(width[c] - w + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), out);
  };
  emit_row(cells[0]);
  std::vector<std::string> rule;
  for (size_t c = 0; c < cols; ++c) rule.push_back(std::string(width[c], '-'));
  emit_row(rule);
  for (size_t i = 1; i < cells.size(); ++i) emit_row(cells[i]);
}

void AppendCsvField(std::string_view field, std::string* line) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    line->append(field);
    return;
  }
  line->push_back('"');
  for (char c : field) {
    if (c == '"') line->push_back('"');
    line->push_back(c);
  }
  line->push_back('"');
}

void PrintCsv(std::FILE* out, const Table& table) {
  std::string line;
  auto emit = [&](auto get, size_t n) {
    line.clear();
    for (size_t c = 0; c < n; ++c) {
      if (c > 0) line.push_back(',');
      AppendCsvField(get(c), &line);
    }
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), out);
  };
  const size_t cols = table.header.size();
  emit([&](size_t c) -> std::string_view { return table.header[c]; }, cols);
  for (const auto& row : table.rows) {
    emit(
        [&](size_t c) -> std::string_view {
          return c < row.size() && row[c].has_value() ? std::string_view(*row[c]) : "";
        },
        cols);
  }
}

void PrintJson(std::FILE* out, const rapidjson::Value& value) {
  rapidjson::StringBuffer sb;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(sb);
  w.SetIndent(' ', 2);
  value.Accept(w);
  std::fwrite(sb.GetString(), 1, sb.GetSize(), out);
  std::fputc('\n', out);
}

void PrintKeyValues(std::FILE* out, const std::vector<std::pair<std::string, std::string>>& pairs) {
  size_t w = 0;
  for (const auto& [k, v] : pairs) w = std::max(w, DisplayWidth(k));
  for (const auto& [k, v] : pairs) {
    fmt::print(out, "{}:{}{}\n", k, std::string(w - DisplayWidth(k) + 2, ' '), v);
  }
}

std::string FormatEpoch(double seconds) {
  if (seconds == 0) return "";
  const std::time_t t = static_cast<std::time_t>(std::floor(seconds));
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%SZ", &tm);
  return buf;
}

}  // namespace larder::cli
