// RFC 1071 arithmetic; see checksum.h.
#include "lb/base/checksum.h"

namespace xlb {

uint32_t ChecksumAccumulate(uint32_t sum, std::span<const uint8_t> bytes) {
  size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) {
    sum += static_cast<uint32_t>(bytes[i] << 8 | bytes[i + 1]);
    if (sum & 0x80000000u) sum = (sum & 0xffff) + (sum >> 16);
  }
  if (i < bytes.size()) sum += static_cast<uint32_t>(bytes[i] << 8);
  return sum;
}

uint16_t ChecksumFinish(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

uint16_t InternetChecksum(std::span<const uint8_t> bytes) {
  return ChecksumFinish(ChecksumAccumulate(0, bytes));
}

}  // namespace xlb
