// HPACK (RFC 7541) as a health-probe HTTP/2 client needs it: a complete
// decoder (static and dynamic tables, Huffman strings) for the server's
// header blocks, and an encoder that emits only literals without indexing,
// so the server's decoder state never depends on ours.
#ifndef XLB_LB_HEALTH_HPACK_H_
#define XLB_LB_HEALTH_HPACK_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace xlb::health {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

class HpackDecoder {
 public:
  // The SETTINGS_HEADER_TABLE_SIZE we advertise (the protocol default).
  static constexpr size_t kMaxTableSize = 4096;

  // Decodes one complete header block, appending its fields to `*headers`.
  absl::Status Decode(absl::string_view block, HeaderList* headers);

 private:
  absl::Status Lookup(uint64_t index, std::string* name, std::string* value);
  void Insert(std::string name, std::string value);
  void Evict();

  std::deque<std::pair<std::string, std::string>> table_;  // newest first
  size_t table_size_ = 0;
  size_t max_size_ = kMaxTableSize;
};

// Appends an HPACK integer with an `prefix_bits`-bit prefix; `first_byte`
// carries the representation's flag bits.
void HpackAppendInteger(uint64_t value, int prefix_bits, uint8_t first_byte,
                        std::string* out);
// "Literal Header Field without Indexing" with the name taken from static
// table entry `name_index` (RFC 7541 6.2.2).
void HpackAppendLiteral(int name_index, absl::string_view value,
                        std::string* out);
// The same with a literal name.
void HpackAppendLiteral(absl::string_view name, absl::string_view value,
                        std::string* out);
// Decodes a Huffman-coded string (RFC 7541 5.2).
absl::Status HpackHuffmanDecode(absl::string_view in, std::string* out);

}  // namespace xlb::health

#endif  // XLB_LB_HEALTH_HPACK_H_
