// Output of the client subcommands: aligned tables for people, JSON and CSV for scripts.
//
// Every subcommand takes --format: `table` (the default) prints aligned columns; on a terminal
// long cells are cut to fit its width, in a pipe they are printed whole. `json` prints one
// pretty-printed JSON document. `csv` (where it makes sense) prints RFC 4180 CSV with a header:
// fields quoted when they hold a comma, a quote or a line break, quotes doubled.
//
// Thread-safety: pure functions writing to the FILE* given.
#ifndef LARDER_CLI_OUTPUT_H_
#define LARDER_CLI_OUTPUT_H_

#include <rapidjson/document.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "larder/status.h"

namespace larder::cli {

enum class OutputFormat { kTable, kJson, kCsv, kParquet };

std::optional<OutputFormat> OutputFormatFromName(std::string_view name);
std::string_view OutputFormatName(OutputFormat f);

// Registers --format on `sub` accepting `allowed` (the first is the default).
void AddFormatFlag(CLI::App* sub, std::string* format, const std::vector<std::string>& allowed);

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::optional<std::string>>> rows;  // nullopt prints as empty / null
};

// True when `f` is a terminal.
bool IsTerminal(std::FILE* f);
// The terminal's width in columns, or 0 when `f` is not a terminal.
int TerminalWidth(std::FILE* f);

// Aligned columns separated by two spaces, with the header underlined. When `max_width` > 0,
// the widest columns are cut (ending in "…") until a line fits.
void PrintTable(std::FILE* out, const Table& table, int max_width);

// RFC 4180 CSV with a header row. Null cells are empty.
void PrintCsv(std::FILE* out, const Table& table);
// Appends one CSV field to *line, quoted when needed.
void AppendCsvField(std::string_view field, std::string* line);

// Pretty-printed JSON followed by a newline.
void PrintJson(std::FILE* out, const rapidjson::Value& value);

// "key: value" lines with the keys padded to the same width.
void PrintKeyValues(std::FILE* out, const std::vector<std::pair<std::string, std::string>>& pairs);

// Epoch seconds as "2024-05-01 12:00:00Z" (UTC), or "" for 0.
std::string FormatEpoch(double seconds);

}  // namespace larder::cli

#endif  // LARDER_CLI_OUTPUT_H_
