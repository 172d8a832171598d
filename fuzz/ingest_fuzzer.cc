// The CSV ingest mapping: arbitrary bytes as a CSV file are described and scanned by DuckDB as
// `larder ingest` does (every column as text), mapped onto a fixed feature group
// (ingest::PlanColumns) and encoded into BatchWriteRecord entries (ingest::EntryEncoder). Each
// encoded entry must be a well-formed JSON object in valid UTF-8; a row the encoder refuses
// leaves the output unchanged.
#include <rapidjson/document.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "catalog/feature_group.h"
#include "ingest/entry_encoder.h"
#include "ingest/source.h"

namespace {

using larder::catalog::FeatureDefinition;
using larder::catalog::FeatureGroup;
using larder::catalog::FeatureType;

FeatureDefinition Feature(const char* name, FeatureType type) {
  FeatureDefinition f;
  f.name = name;
  f.type = type;
  return f;
}

const FeatureGroup& Group() {
  static const FeatureGroup* g = [] {
    auto* g = new FeatureGroup;
    g->name = "fuzz-ingest";
    g->record_identifier_name = "id";
    g->event_time_feature_name = "t";
    g->features = {Feature("id", FeatureType::kString), Feature("t", FeatureType::kString),
                   Feature("n", FeatureType::kIntegral), Feature("x", FeatureType::kFractional),
                   Feature("s", FeatureType::kString)};
    g->online_enabled = true;
    g->has_online_store_config = true;
    return g;
  }();
  return *g;
}

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "ingest: %s: %s\n", what, detail.substr(0, 2000).c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/larder-fuzz-ingest-" + std::to_string(getpid()) + ".csv";
  static std::unique_ptr<larder::offline::Database> db = [] {
    larder::ingest::SourceDbOptions o;
    o.threads = 1;
    o.memory_limit_bytes = 256ll << 20;
    auto d = larder::ingest::OpenSourceDatabase(o);
    if (!d.ok()) Fail("OpenSourceDatabase", d.status().ToString());
    return std::move(d).value();
  }();
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  auto conn = db->Connect();
  if (!conn.ok()) Fail("Connect", conn.status().ToString());
  larder::ingest::ScanOptions scan;
  scan.format = larder::ingest::FileFormat::kCsv;
  scan.all_varchar = true;
  auto columns = larder::ingest::DescribeSource(conn->get(), path, scan);
  if (!columns.ok()) return 0;
  auto plan = larder::ingest::PlanColumns(Group(), *columns, /*ignore_extra_columns=*/true);
  if (!plan.ok()) return 0;
  std::string sql = "SELECT ";
  for (size_t i = 0; i < plan->select_list.size(); ++i) {
    if (i > 0) sql += ", ";
    sql += plan->select_list[i];
  }
  sql += " FROM " + larder::ingest::ScanSql(path, scan) + " LIMIT 200";
  auto result = (*conn)->Query(sql);
  if (!result.ok()) return 0;
  larder::ingest::EntryEncoder encoder(Group(), *plan);
  larder::offline::Chunk chunk;
  while (true) {
    auto more = (*result)->Next(&chunk);
    if (!more.ok() || !*more) break;
    for (const auto& row : chunk.rows) {
      std::string out = "prefix";
      larder::ingest::EntryRef ref;
      larder::Status s = encoder.Append(row, &out, &ref);
      if (!s.ok()) {
        if (out != "prefix") Fail("a refused row changed the output", out);
        continue;
      }
      std::string_view entry(out.data() + ref.begin, ref.end - ref.begin);
      rapidjson::Document doc;
      doc.Parse<rapidjson::kParseValidateEncodingFlag>(entry.data(), entry.size());
      if (doc.HasParseError() || !doc.IsObject()) Fail("an entry is not a JSON object", out);
      std::string rows_json;
      encoder.AppendRowJson(row, &rows_json);
      rapidjson::Document rj;
      rj.Parse<rapidjson::kParseValidateEncodingFlag>(rows_json.data(), rows_json.size());
      if (rj.HasParseError()) Fail("a rejected-row JSON does not parse", rows_json);
    }
  }
  return 0;
}
