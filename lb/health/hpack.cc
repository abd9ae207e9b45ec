#include "lb/health/hpack.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "lb/health/hpack_huffman.h"

namespace xlb::health {
namespace {

constexpr size_t kEntryOverhead = 32;  // RFC 7541 4.1

struct StaticEntry {
  const char* name;
  const char* value;
};
// RFC 7541 Appendix A; index 1 is the first entry.
constexpr std::array<StaticEntry, 61> kStaticTable = {{
    {":authority", ""},
    {":method", "GET"},
    {":method", "POST"},
    {":path", "/"},
    {":path", "/index.html"},
    {":scheme", "http"},
    {":scheme", "https"},
    {":status", "200"},
    {":status", "204"},
    {":status", "206"},
    {":status", "304"},
    {":status", "400"},
    {":status", "404"},
    {":status", "500"},
    {"accept-charset", ""},
    {"accept-encoding", "gzip, deflate"},
    {"accept-language", ""},
    {"accept-ranges", ""},
    {"accept", ""},
    {"access-control-allow-origin", ""},
    {"age", ""},
    {"allow", ""},
    {"authorization", ""},
    {"cache-control", ""},
    {"content-disposition", ""},
    {"content-encoding", ""},
    {"content-language", ""},
    {"content-length", ""},
    {"content-location", ""},
    {"content-range", ""},
    {"content-type", ""},
    {"cookie", ""},
    {"date", ""},
    {"etag", ""},
    {"expect", ""},
    {"expires", ""},
    {"from", ""},
    {"host", ""},
    {"if-match", ""},
    {"if-modified-since", ""},
    {"if-none-match", ""},
    {"if-range", ""},
    {"if-unmodified-since", ""},
    {"last-modified", ""},
    {"link", ""},
    {"location", ""},
    {"max-forwards", ""},
    {"proxy-authenticate", ""},
    {"proxy-authorization", ""},
    {"range", ""},
    {"referer", ""},
    {"refresh", ""},
    {"retry-after", ""},
    {"server", ""},
    {"set-cookie", ""},
    {"strict-transport-security", ""},
    {"transfer-encoding", ""},
    {"user-agent", ""},
    {"vary", ""},
    {"via", ""},
    {"www-authenticate", ""},
}};

// Reads an integer with a `prefix_bits`-bit prefix at `*pos`.
absl::Status ReadInteger(absl::string_view in, size_t* pos, int prefix_bits,
                         uint64_t* value) {
  if (*pos >= in.size()) return absl::InvalidArgumentError("HPACK: truncated");
  const uint8_t max_prefix = static_cast<uint8_t>((1u << prefix_bits) - 1);
  uint64_t v = static_cast<uint8_t>(in[(*pos)++]) & max_prefix;
  if (v == max_prefix) {
    for (int shift = 0;; shift += 7) {
      if (shift > 56) return absl::InvalidArgumentError("HPACK: huge integer");
      if (*pos >= in.size()) {
        return absl::InvalidArgumentError("HPACK: truncated integer");
      }
      const uint8_t b = static_cast<uint8_t>(in[(*pos)++]);
      v += static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) break;
    }
  }
  *value = v;
  return absl::OkStatus();
}

absl::Status ReadString(absl::string_view in, size_t* pos, std::string* out) {
  if (*pos >= in.size()) return absl::InvalidArgumentError("HPACK: truncated");
  const bool huffman = (static_cast<uint8_t>(in[*pos]) & 0x80) != 0;
  uint64_t length = 0;
  if (absl::Status s = ReadInteger(in, pos, 7, &length); !s.ok()) return s;
  if (length > in.size() - *pos) {
    return absl::InvalidArgumentError("HPACK: string exceeds the block");
  }
  const absl::string_view raw = in.substr(*pos, length);
  *pos += length;
  out->clear();
  if (huffman) return HpackHuffmanDecode(raw, out);
  out->assign(raw.data(), raw.size());
  return absl::OkStatus();
}

}  // namespace

// The Huffman code is canonical: the codes of one length are consecutive
// and ordered by symbol, so per length a first code and an offset into the
// symbols sorted by (length, symbol) decode it.
struct CanonicalHuffman {
  uint32_t first_code[31] = {};
  uint32_t count[31] = {};
  uint32_t offset[31] = {};
  uint16_t symbols[kHpackHuffmanSymbols] = {};

  CanonicalHuffman() {
    uint32_t next = 0;
    for (int length = 1; length <= 30; ++length) {
      offset[length] = next;
      bool first = true;
      for (int sym = 0; sym < kHpackHuffmanSymbols; ++sym) {
        if (kHpackHuffmanLengths[sym] != length) continue;
        if (first) first_code[length] = kHpackHuffmanCodes[sym];
        first = false;
        symbols[next++] = static_cast<uint16_t>(sym);
        ++count[length];
      }
    }
  }
};

absl::Status HpackHuffmanDecode(absl::string_view in, std::string* out) {
  static const CanonicalHuffman* const kCode = new CanonicalHuffman();
  uint32_t code = 0;
  int length = 0;
  for (unsigned char byte : in) {
    for (int bit = 7; bit >= 0; --bit) {
      code = (code << 1) | ((byte >> bit) & 1);
      ++length;
      if (length > 30) return absl::InvalidArgumentError("HPACK: bad Huffman");
      const uint32_t rank = code - kCode->first_code[length];
      if (code < kCode->first_code[length] || rank >= kCode->count[length]) {
        continue;
      }
      const int sym = kCode->symbols[kCode->offset[length] + rank];
      if (sym == kHpackHuffmanEos) {
        return absl::InvalidArgumentError("HPACK: EOS in string");
      }
      out->push_back(static_cast<char>(sym));
      code = 0;
      length = 0;
    }
  }
  // Padding: at most 7 bits, all ones (a prefix of EOS).
  if (length > 7 || code != (1u << length) - 1) {
    return absl::InvalidArgumentError("HPACK: bad Huffman padding");
  }
  return absl::OkStatus();
}

void HpackAppendInteger(uint64_t value, int prefix_bits, uint8_t first_byte,
                        std::string* out) {
  const uint64_t max_prefix = (1u << prefix_bits) - 1;
  if (value < max_prefix) {
    out->push_back(static_cast<char>(first_byte | value));
    return;
  }
  out->push_back(static_cast<char>(first_byte | max_prefix));
  value -= max_prefix;
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

void HpackAppendLiteral(int name_index, absl::string_view value,
                        std::string* out) {
  HpackAppendInteger(name_index, 4, 0x00, out);
  HpackAppendInteger(value.size(), 7, 0x00, out);
  out->append(value.data(), value.size());
}

void HpackAppendLiteral(absl::string_view name, absl::string_view value,
                        std::string* out) {
  out->push_back(0x00);
  HpackAppendInteger(name.size(), 7, 0x00, out);
  out->append(name.data(), name.size());
  HpackAppendInteger(value.size(), 7, 0x00, out);
  out->append(value.data(), value.size());
}

absl::Status HpackDecoder::Lookup(uint64_t index, std::string* name,
                                  std::string* value) {
  if (index == 0) return absl::InvalidArgumentError("HPACK: index 0");
  if (index <= kStaticTable.size()) {
    *name = kStaticTable[index - 1].name;
    *value = kStaticTable[index - 1].value;
    return absl::OkStatus();
  }
  const uint64_t dynamic = index - kStaticTable.size() - 1;
  if (dynamic >= table_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("HPACK: index ", index, " beyond the tables"));
  }
  *name = table_[dynamic].first;
  *value = table_[dynamic].second;
  return absl::OkStatus();
}

void HpackDecoder::Evict() {
  while (table_size_ > max_size_ && !table_.empty()) {
    const auto& last = table_.back();
    table_size_ -= last.first.size() + last.second.size() + kEntryOverhead;
    table_.pop_back();
  }
}

void HpackDecoder::Insert(std::string name, std::string value) {
  const size_t size = name.size() + value.size() + kEntryOverhead;
  table_.emplace_front(std::move(name), std::move(value));
  table_size_ += size;
  Evict();  // an entry larger than the table empties it (RFC 7541 4.4)
}

absl::Status HpackDecoder::Decode(absl::string_view block,
                                  HeaderList* headers) {
  size_t pos = 0;
  while (pos < block.size()) {
    const uint8_t first = static_cast<uint8_t>(block[pos]);
    std::string name, value;
    uint64_t index = 0;
    absl::Status s;
    if (first & 0x80) {  // indexed field
      s = ReadInteger(block, &pos, 7, &index);
      if (s.ok()) s = Lookup(index, &name, &value);
      if (!s.ok()) return s;
      headers->emplace_back(std::move(name), std::move(value));
      continue;
    }
    if ((first & 0xe0) == 0x20) {  // dynamic table size update
      s = ReadInteger(block, &pos, 5, &index);
      if (!s.ok()) return s;
      if (index > kMaxTableSize) {
        return absl::InvalidArgumentError("HPACK: table size above settings");
      }
      max_size_ = index;
      Evict();
      continue;
    }
    const bool incremental = (first & 0xc0) == 0x40;
    s = ReadInteger(block, &pos, incremental ? 6 : 4, &index);
    if (!s.ok()) return s;
    if (index != 0) {
      std::string unused;
      s = Lookup(index, &name, &unused);
    } else {
      s = ReadString(block, &pos, &name);
    }
    if (s.ok()) s = ReadString(block, &pos, &value);
    if (!s.ok()) return s;
    if (incremental) Insert(name, value);
    headers->emplace_back(std::move(name), std::move(value));
  }
  return absl::OkStatus();
}

}  // namespace xlb::health
