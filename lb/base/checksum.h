// The Internet checksum (RFC 1071) for headers built by hand, the one C++
// implementation: add the pieces (a pseudo-header, then the segment) to an
// accumulator, then finish. Bytes are read as big-endian 16-bit words; the
// result is in host order, to be stored big-endian.
#ifndef XLB_LB_BASE_CHECKSUM_H_
#define XLB_LB_BASE_CHECKSUM_H_

#include <cstdint>
#include <span>

namespace xlb {

// Adds `bytes` to a one's-complement accumulator. An odd trailing byte is
// padded with zero, so only the last piece may have an odd length. Any
// length is safe: carries are folded before the accumulator can overflow.
uint32_t ChecksumAccumulate(uint32_t sum, std::span<const uint8_t> bytes);

// Folds the accumulator to 16 bits and complements it: the header's value.
uint16_t ChecksumFinish(uint32_t sum);

// The checksum of one buffer.
uint16_t InternetChecksum(std::span<const uint8_t> bytes);

}  // namespace xlb

#endif  // XLB_LB_BASE_CHECKSUM_H_
