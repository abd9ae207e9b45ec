// The static Huffman code of HPACK (RFC 7541, Appendix B).
#ifndef XLB_LB_HEALTH_HPACK_HUFFMAN_H_
#define XLB_LB_HEALTH_HPACK_HUFFMAN_H_

#include <cstdint>

namespace xlb::health {

inline constexpr int kHpackHuffmanSymbols = 257;  // 256 byte values and EOS
inline constexpr int kHpackHuffmanEos = 256;

// Code of each symbol, right-aligned in its bit length.
extern const uint32_t kHpackHuffmanCodes[kHpackHuffmanSymbols];
extern const uint8_t kHpackHuffmanLengths[kHpackHuffmanSymbols];

}  // namespace xlb::health

#endif  // XLB_LB_HEALTH_HPACK_HUFFMAN_H_
