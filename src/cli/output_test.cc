#include "cli/output.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "cli/progress.h"

namespace larder::cli {
namespace {

// Runs `print` into a memory stream and returns what it wrote.
template <typename F>
std::string Capture(F print) {
  char* data = nullptr;
  size_t size = 0;
  std::FILE* f = ::open_memstream(&data, &size);
  print(f);
  std::fclose(f);
  std::string out(data, size);
  std::free(data);
  return out;
}

Table Sample() {
  Table t;
  t.header = {"NAME", "VALUE"};
  t.rows.push_back({std::string("a"), std::string("plain")});
  t.rows.push_back({std::string("b,c"), std::string("say \"hi\"\nthere")});
  t.rows.push_back({std::string("d"), std::nullopt});
  return t;
}

TEST(OutputTest, TableAlignsAndFlattensLineBreaks) {
  EXPECT_EQ(Capture([](std::FILE* f) { PrintTable(f, Sample(), 0); }),
            "NAME  VALUE\n"
            "----  --------------\n"
            "a     plain\n"
            "b,c   say \"hi\" there\n"
            "d\n");
}

TEST(OutputTest, TableCutsTheWidestColumnToFit) {
  Table t;
  t.header = {"K", "V"};
  t.rows.push_back({std::string("key"), std::string("a-rather-long-value")});
  EXPECT_EQ(Capture([&](std::FILE* f) { PrintTable(f, t, 14); }),
            "K    V\n"
            "---  ---------\n"
            "key  a-rather…\n");
}

TEST(OutputTest, CsvQuotesOnlyWhenNeeded) {
  EXPECT_EQ(Capture([](std::FILE* f) { PrintCsv(f, Sample()); }),
            "NAME,VALUE\n"
            "a,plain\n"
            "\"b,c\",\"say \"\"hi\"\"\nthere\"\n"
            "d,\n");
}

TEST(OutputTest, EpochFormatting) {
  EXPECT_EQ(FormatEpoch(1700000000.75), "2023-11-14 22:13:20Z");
  EXPECT_EQ(FormatEpoch(0), "");
}

TEST(ProgressTest, IngestProgressText) {
  EXPECT_EQ(IngestProgressText(500'000, 1'000'000, false, 2.0, 200),
            "[============>           ]  50%  500,000/1,000,000 rows  250,000 rows/s  ETA 2.0s");
  EXPECT_NE(IngestProgressText(10, 100, true, 1.0, 200).find(" 10/~100 rows "), std::string::npos);
  EXPECT_EQ(IngestProgressText(1234, -1, false, 1.0, 200), "1,234 rows  1,234 rows/s");
  EXPECT_LE(IngestProgressText(500'000, 1'000'000, false, 2.0, 40).size(), 39u);
}

TEST(ProgressTest, Durations) {
  EXPECT_EQ(Thousands(1234567), "1,234,567");
  EXPECT_EQ(Thousands(-1000), "-1,000");
  EXPECT_EQ(Thousands(999), "999");
  EXPECT_EQ(Duration(4.25), "4.2s");
  EXPECT_EQ(Duration(65), "1m05s");
  EXPECT_EQ(Duration(3725), "1h02m05s");
}

}  // namespace
}  // namespace larder::cli
