#include "server/error_map.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <string>

namespace larder::server {
namespace {

TEST(ToValidUtf8, KeepsWellFormedText) {
  EXPECT_EQ(ToValidUtf8(""), "");
  EXPECT_EQ(ToValidUtf8("plain ascii"), "plain ascii");
  EXPECT_EQ(ToValidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  EXPECT_EQ(ToValidUtf8(std::string("a\0b", 3)), std::string("a\0b", 3));  // NUL is valid UTF-8
  EXPECT_EQ(ToValidUtf8("\xF4\x8F\xBF\xBF"), "\xF4\x8F\xBF\xBF");          // U+10FFFF
}

TEST(ToValidUtf8, SpellsOutEveryInvalidByte) {
  EXPECT_EQ(ToValidUtf8("a\xFF\xFE"
                        "b"),
            "a\\xff\\xfeb");
  EXPECT_EQ(ToValidUtf8("\xC0\xAF"), "\\xc0\\xaf");                    // overlong '/'
  EXPECT_EQ(ToValidUtf8("\xE0\x80\xAF"), "\\xe0\\x80\\xaf");           // overlong, 3 bytes
  EXPECT_EQ(ToValidUtf8("\xED\xA0\x80"), "\\xed\\xa0\\x80");           // UTF-16 surrogate
  EXPECT_EQ(ToValidUtf8("\xF4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  EXPECT_EQ(ToValidUtf8("\xE2\x82"), "\\xe2\\x82");                    // truncated at the end
  EXPECT_EQ(ToValidUtf8("\xE2\x82z"), "\\xe2\\x82z");                  // truncated mid-text
  EXPECT_EQ(ToValidUtf8("\x80x"), "\\x80x");                           // stray continuation byte
}

TEST(WriteError, BodyIsValidJsonWhateverTheMessageQuotes) {
  HttpResponse resp;
  WriteError(400, "ValidationError", "Value 'a\xFF\xC0\xAF\"b' is bad", &resp);
  EXPECT_EQ(resp.status, 400);
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(resp.body.data(), resp.body.size());
  ASSERT_FALSE(doc.HasParseError())
      << rapidjson::GetParseError_En(doc.GetParseError()) << ": " << resp.body;
  EXPECT_STREQ(doc["__type"].GetString(), "ValidationError");
  EXPECT_STREQ(doc["message"].GetString(), "Value 'a\\xff\\xc0\\xaf\"b' is bad");
  ASSERT_EQ(resp.headers.size(), 1u);
  EXPECT_EQ(resp.headers[0].first, "x-amzn-ErrorType");
  EXPECT_EQ(resp.headers[0].second, "ValidationError");
}

}  // namespace
}  // namespace larder::server
