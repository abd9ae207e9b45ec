#include "lb/health/http_response_parser.h"

#include "gtest/gtest.h"

namespace xlb::health {
namespace {

TEST(HttpResponseParserTest, ParsesContentLengthBodyFedByteByByte) {
  const std::string response =
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello";
  HttpResponseParser parser;
  for (char c : response) ASSERT_TRUE(parser.Feed(std::string(1, c)).ok());
  EXPECT_EQ(parser.status_code(), 200);
  EXPECT_EQ(parser.body(), "hello");
  EXPECT_TRUE(parser.complete());
}

TEST(HttpResponseParserTest, DecodesChunkedBodyWithExtensionsAndTrailers) {
  HttpResponseParser parser;
  ASSERT_TRUE(
      parser
          .Feed("HTTP/1.1 503 Busy\r\ntransfer-encoding: Chunked\r\n\r\n"
                "3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n")
          .ok());
  EXPECT_EQ(parser.status_code(), 503);
  EXPECT_EQ(parser.body(), "abcde");
  EXPECT_TRUE(parser.complete());
}

TEST(HttpResponseParserTest, CloseDelimitedBodyCompletesAtEof) {
  HttpResponseParser parser;
  ASSERT_TRUE(parser.Feed("HTTP/1.0 200 OK\r\n\r\npartial").ok());
  EXPECT_FALSE(parser.complete());
  parser.OnEof();
  EXPECT_TRUE(parser.complete());
  EXPECT_EQ(parser.body(), "partial");
}

TEST(HttpResponseParserTest, SkipsInterimResponses) {
  HttpResponseParser parser;
  ASSERT_TRUE(parser
                  .Feed("HTTP/1.1 100 Continue\r\n\r\n"
                        "HTTP/1.1 204 No Content\r\n\r\n")
                  .ok());
  EXPECT_EQ(parser.status_code(), 204);
  EXPECT_TRUE(parser.complete());
}

TEST(HttpResponseParserTest, RejectsGarbage) {
  HttpResponseParser a, b, c;
  EXPECT_FALSE(a.Feed("SSH-2.0-OpenSSH\r\n\r\n").ok());
  EXPECT_FALSE(b.Feed("HTTP/1.1 2x0 OK\r\n\r\n").ok());
  EXPECT_FALSE(
      c.Feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
          .ok());
}

TEST(HttpResponseParserTest, BoundsHeadersAndBody) {
  HttpResponseParser headers;
  EXPECT_FALSE(
      headers.Feed("HTTP/1.1 200 OK\r\n" + std::string(20000, 'x')).ok());
  HttpResponseParser body;
  ASSERT_TRUE(body.Feed("HTTP/1.1 200 OK\r\n\r\n").ok());
  ASSERT_TRUE(body.Feed(std::string(70000, 'b')).ok());
  EXPECT_TRUE(body.body_truncated());
  EXPECT_EQ(body.body().size(), HttpResponseParser::kMaxBodyBytes);
}

}  // namespace
}  // namespace xlb::health
