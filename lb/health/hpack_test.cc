#include "lb/health/hpack.h"

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "lb/health/hpack_huffman.h"

namespace xlb::health {
namespace {

std::string Hex(absl::string_view hex) { return absl::HexStringToBytes(hex); }

// Encodes with the code table directly, independently of the decoder.
std::string HuffmanEncode(absl::string_view text) {
  std::string out;
  uint64_t bits = 0;
  int count = 0;
  for (unsigned char c : text) {
    bits = (bits << kHpackHuffmanLengths[c]) | kHpackHuffmanCodes[c];
    count += kHpackHuffmanLengths[c];
    while (count >= 8) {
      out.push_back(static_cast<char>(bits >> (count - 8)));
      count -= 8;
    }
  }
  if (count > 0) {
    out.push_back(
        static_cast<char>((bits << (8 - count)) | ((1 << (8 - count)) - 1)));
  }
  return out;
}

TEST(HpackTest, HuffmanDecodesRfc7541Examples) {
  std::string out;
  ASSERT_TRUE(HpackHuffmanDecode(Hex("f1e3c2e5f23a6ba0ab90f4ff"), &out).ok());
  EXPECT_EQ(out, "www.example.com");
  out.clear();
  ASSERT_TRUE(HpackHuffmanDecode(Hex("aec3771a4b"), &out).ok());
  EXPECT_EQ(out, "private");
  out.clear();
  ASSERT_TRUE(HpackHuffmanDecode(
                  Hex("d07abe941054d444a8200595040b8166e082a62d1bff"), &out)
                  .ok());
  EXPECT_EQ(out, "Mon, 21 Oct 2013 20:13:21 GMT");
}

TEST(HpackTest, HuffmanRoundTripsEveryByteValue) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  std::string out;
  ASSERT_TRUE(HpackHuffmanDecode(HuffmanEncode(all), &out).ok());
  EXPECT_EQ(out, all);
}

TEST(HpackTest, HuffmanRejectsBadPadding) {
  std::string out;
  EXPECT_FALSE(HpackHuffmanDecode(Hex("f1e3c2e5f23a6ba0ab90f400"), &out).ok());
}

// RFC 7541 C.6: three responses with Huffman coding sharing one dynamic
// table (size 256 in the RFC; ours is larger, so nothing is evicted).
TEST(HpackTest, DecodesRfc7541ResponseSequence) {
  HpackDecoder decoder;
  HeaderList first;
  ASSERT_TRUE(decoder
                  .Decode(Hex("488264025885aec3771a4b6196d07abe941054d444a820"
                              "0595040b8166e082a62d1bff6e919d29ad171863c78f0b"
                              "97c8e9ae82ae43d3"),
                          &first)
                  .ok());
  ASSERT_EQ(first.size(), 4u);
  EXPECT_EQ(first[0], (std::pair<std::string, std::string>(":status", "302")));
  EXPECT_EQ(first[3].second, "https://www.example.com");
  HeaderList second;
  ASSERT_TRUE(decoder.Decode(Hex("4883640effc1c0bf"), &second).ok());
  ASSERT_EQ(second.size(), 4u);
  EXPECT_EQ(second[0].second, "307");
  EXPECT_EQ(second[1],
            (std::pair<std::string, std::string>("cache-control", "private")));
  EXPECT_EQ(second[3].first, "location");
}

TEST(HpackTest, LiteralWithoutIndexingDecodesBack) {
  std::string block;
  HpackAppendLiteral(4, "/grpc.health.v1.Health/Check", &block);
  HpackAppendLiteral(31, "application/grpc", &block);
  HpackAppendLiteral("te", "trailers", &block);
  HpackAppendLiteral("x-long", std::string(300, 'v'), &block);
  HpackDecoder decoder;
  HeaderList headers;
  ASSERT_TRUE(decoder.Decode(block, &headers).ok());
  ASSERT_EQ(headers.size(), 4u);
  EXPECT_EQ(headers[0].first, ":path");
  EXPECT_EQ(headers[1].first, "content-type");
  EXPECT_EQ(headers[2].second, "trailers");
  EXPECT_EQ(headers[3].second.size(), 300u);
}

TEST(HpackTest, RejectsIndexBeyondTables) {
  HpackDecoder decoder;
  HeaderList headers;
  EXPECT_FALSE(decoder.Decode(Hex("be"), &headers).ok());  // index 62, empty
  EXPECT_FALSE(decoder.Decode(Hex("80"), &headers).ok());  // index 0
}

}  // namespace
}  // namespace xlb::health
