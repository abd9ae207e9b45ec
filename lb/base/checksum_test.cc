// The Internet checksum against worked examples: RFC 1071's, a real IPv4
// header, odd lengths, pieces, and a buffer long enough to overflow an
// accumulator that did not fold its carries.
#include "lb/base/checksum.h"

#include <cstdint>
#include <span>
#include <vector>

#include "gtest/gtest.h"

namespace xlb {
namespace {

TEST(ChecksumTest, Rfc1071Example) {
  // RFC 1071 section 3: the words sum to 0x2ddf0, which folds to 0xddf2.
  const std::vector<uint8_t> bytes = {0x00, 0x01, 0xf2, 0x03,
                                      0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(ChecksumAccumulate(0, bytes), 0x2ddf0u);
  EXPECT_EQ(InternetChecksum(bytes), 0x220d);
}

TEST(ChecksumTest, Ipv4HeaderChecksumsToZeroWithItsChecksumIn) {
  // 192.168.0.1 -> 192.168.0.199, UDP, checksum field zeroed.
  std::vector<uint8_t> header = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40,
                                 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
                                 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  const uint16_t sum = InternetChecksum(header);
  EXPECT_EQ(sum, 0xb861);
  header[10] = static_cast<uint8_t>(sum >> 8);
  header[11] = static_cast<uint8_t>(sum);
  EXPECT_EQ(InternetChecksum(header), 0);
}

TEST(ChecksumTest, OddTrailingByteIsPaddedWithZero) {
  EXPECT_EQ(InternetChecksum(std::vector<uint8_t>{0x12, 0x34, 0x56}),
            InternetChecksum(std::vector<uint8_t>{0x12, 0x34, 0x56, 0x00}));
  EXPECT_EQ(InternetChecksum(std::vector<uint8_t>{0x01}), 0xfeff);
}

TEST(ChecksumTest, EmptyInputIsAllOnes) {
  EXPECT_EQ(InternetChecksum({}), 0xffff);
}

TEST(ChecksumTest, EvenPiecesAddUpToTheWhole) {
  const std::vector<uint8_t> bytes = {0xde, 0xad, 0xbe, 0xef, 0x01,
                                      0x02, 0x03, 0x04, 0xff};
  const std::span<const uint8_t> all(bytes);
  const uint32_t pieces =
      ChecksumAccumulate(ChecksumAccumulate(0, all.first(4)), all.subspan(4));
  EXPECT_EQ(ChecksumFinish(pieces), InternetChecksum(bytes));
}

TEST(ChecksumTest, LongInputFoldsItsCarries) {
  // 100000 words of 0xffff sum to about 6.5e9, past 32 bits; in one's
  // complement they are still 0xffff, whose checksum is 0.
  const std::vector<uint8_t> bytes(200000, 0xff);
  EXPECT_EQ(InternetChecksum(bytes), 0);
  // One word of 0x0001 more makes it 0x0001, checksum 0xfffe.
  std::vector<uint8_t> more = bytes;
  more.insert(more.end(), {0x00, 0x01});
  EXPECT_EQ(InternetChecksum(more), 0xfffe);
}

}  // namespace
}  // namespace xlb
