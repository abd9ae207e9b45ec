#include "lb/base/field_rules.h"

#include <arpa/inet.h>

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace xlb {
namespace {

constexpr size_t kQuotedBytes = 64;

absl::Status Refuse(absl::string_view value, absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat(QuoteValue(value), " ", problem));
}

absl::Status RefuseLength(absl::string_view value, size_t limit) {
  return Refuse(value, absl::StrCat("is ", value.size(),
                                    " bytes, over the limit of ", limit));
}

struct ByteRules {
  bool space = false;
  bool non_ascii = false;
  absl::string_view controls;  // control characters allowed
};

// The offset of the first byte `rules` do not allow among NUL, control
// characters (DEL included), spaces and non-ASCII bytes.
std::optional<size_t> FirstUnfitByte(absl::string_view text, ByteRules rules) {
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = text[i];
    const bool control = c < 0x20 || c == 0x7f;
    if ((control && (c == 0 || rules.controls.find(static_cast<char>(c)) ==
                                   absl::string_view::npos)) ||
        (c == ' ' && !rules.space) || (c >= 0x80 && !rules.non_ascii)) {
      return i;
    }
  }
  return std::nullopt;
}

// "holds a NUL byte at offset 10", naming the kind of byte.
std::string DescribeByte(absl::string_view text, size_t offset) {
  const unsigned char c = text[offset];
  std::string what;
  if (c == 0) {
    what = "a NUL byte";
  } else if (c < 0x20 || c == 0x7f) {
    what = absl::StrFormat("a control character (0x%02x)", c);
  } else if (c == ' ') {
    what = "a space";
  } else if (c >= 0x80) {
    what = absl::StrFormat("a non-ASCII byte (0x%02x)", c);
  } else {
    what = absl::StrCat("'", std::string(1, static_cast<char>(c)), "'");
  }
  return absl::StrCat("holds ", what, " at offset ", offset);
}

bool IsHostNameByte(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '_' || c == '.';
}

bool AllZero(const uint8_t* bytes, size_t n) {
  return std::all_of(bytes, bytes + n, [](uint8_t b) { return b == 0; });
}

}  // namespace

std::string QuoteValue(absl::string_view value) {
  std::string out = "\"";
  for (unsigned char c : value.substr(0, kQuotedBytes)) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          absl::StrAppendFormat(&out, "\\x%02x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out += "\"";
  if (value.size() > kQuotedBytes) out += "...";
  return out;
}

absl::StatusOr<AddressBytes> ParseAddressText(absl::string_view text) {
  if (text.size() > kMaxAddressTextBytes) {
    return Refuse(text, absl::StrCat("is ", text.size(),
                                     " bytes; the longest IPv4 or IPv6 "
                                     "address is ",
                                     kMaxAddressTextBytes));
  }
  if (std::optional<size_t> bad = FirstUnfitByte(text, {})) {
    return Refuse(text, absl::StrCat(DescribeByte(text, *bad),
                                     "; an address is IPv4 or IPv6 text"));
  }
  // No NUL inside, so inet_pton sees all of it.
  char terminated[kMaxAddressTextBytes + 1] = {};
  std::copy(text.begin(), text.end(), terminated);
  AddressBytes address;
  if (inet_pton(AF_INET, terminated, address.bytes.data()) == 1) {
    return address;
  }
  if (inet_pton(AF_INET6, terminated, address.bytes.data()) == 1) {
    address.v6 = true;
    return address;
  }
  return Refuse(text, "is not an IPv4 or IPv6 address");
}

std::string FormatAddress(const AddressBytes& address) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(address.v6 ? AF_INET6 : AF_INET, address.bytes.data(), text,
            sizeof(text));
  return text;
}

absl::Status CheckUsableAddress(const AddressBytes& address) {
  const uint8_t* b = address.bytes.data();
  absl::string_view why;
  std::string mapped_hint;
  if (!address.v6) {
    if (AllZero(b, 4)) {
      why = "is the unspecified address";
    } else if (b[0] == 0) {
      why = "is in 0.0.0.0/8, which no packet is addressed to";
    } else if (b[0] == 127) {
      why = "is a loopback address: only the host itself reaches it";
    } else if (b[0] == 169 && b[1] == 254) {
      why = "is a link-local address: routers do not forward it";
    } else if ((b[0] & 0xf0) == 0xe0) {
      why = "is a multicast address, not one host's";
    } else if (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255) {
      why = "is the broadcast address";
    }
  } else {
    if (AllZero(b, 16)) {
      why = "is the unspecified address";
    } else if (AllZero(b, 15) && b[15] == 1) {
      why = "is the loopback address: only the host itself reaches it";
    } else if (b[0] == 0xff) {
      why = "is a multicast address, not one host's";
    } else if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) {
      why = "is a link-local address: routers do not forward it";
    } else if (AllZero(b, 10) && b[10] == 0xff && b[11] == 0xff) {
      AddressBytes v4;
      std::copy(b + 12, b + 16, v4.bytes.begin());
      mapped_hint = absl::StrCat(
          "is an IPv4-mapped address, which never appears on the wire: "
          "write it as ",
          FormatAddress(v4));
      why = mapped_hint;
    }
  }
  if (why.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(FormatAddress(address), " ", why));
}

absl::Status CheckHttpPath(absl::string_view path) {
  if (path.size() > kMaxHttpPathBytes) {
    return RefuseLength(path, kMaxHttpPathBytes);
  }
  if (std::optional<size_t> bad = FirstUnfitByte(path, {})) {
    const unsigned char c = path[*bad];
    return Refuse(
        path,
        absl::StrCat(DescribeByte(path, *bad),
                     c == ' ' || c >= 0x80
                         ? absl::StrFormat("; percent-encode it (%%%02X)", c)
                         : ""));
  }
  if (path.empty() || path[0] != '/') {
    return Refuse(path, "does not start with '/'");
  }
  return absl::OkStatus();
}

absl::Status CheckHttpHost(absl::string_view host) {
  if (host.size() > kMaxHttpHostBytes) {
    return RefuseLength(host, kMaxHttpHostBytes);
  }
  if (std::optional<size_t> bad = FirstUnfitByte(host, {})) {
    return Refuse(host,
                  absl::StrCat(DescribeByte(host, *bad),
                               static_cast<unsigned char>(host[*bad]) >= 0x80
                                   ? "; write an internationalized "
                                     "name in its ASCII form (xn--...)"
                                   : ""));
  }
  absl::string_view port;
  bool has_port = false;
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == absl::string_view::npos) {
      return Refuse(host, "lacks the ']' that closes its IPv6 address");
    }
    const absl::string_view inner = host.substr(1, close - 1);
    absl::StatusOr<AddressBytes> parsed = ParseAddressText(inner);
    if (!parsed.ok() || !parsed->v6) {
      return Refuse(host, absl::StrCat("has ", QuoteValue(inner),
                                       " in brackets, not an IPv6 address"));
    }
    const absl::string_view rest = host.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return Refuse(host, "has something other than :PORT after ']'");
      }
      port = rest.substr(1);
      has_port = true;
    }
  } else {
    const size_t colons = std::count(host.begin(), host.end(), ':');
    if (colons > 1) {
      return Refuse(host,
                    "holds more than one ':'; an IPv6 address goes in "
                    "brackets, e.g. [2001:db8::1]:8443");
    }
    absl::string_view name = host;
    if (colons == 1) {
      name = host.substr(0, host.find(':'));
      port = host.substr(host.find(':') + 1);
      has_port = true;
    }
    if (name.empty()) return Refuse(host, "has no host name");
    for (size_t i = 0; i < name.size(); ++i) {
      if (!IsHostNameByte(name[i])) {
        return Refuse(host, absl::StrCat(DescribeByte(host, i),
                                         ": a host is a DNS name, an IPv4 "
                                         "address or a bracketed IPv6 "
                                         "address, with an optional :PORT"));
      }
    }
  }
  if (has_port) {
    uint32_t number = 0;
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(),
                     [](char c) {
                       return absl::ascii_isdigit(
                           static_cast<unsigned char>(c));
                     }) ||
        !absl::SimpleAtoi(port, &number) || number < 1 || number > 65535) {
      return Refuse(
          host, absl::StrCat("has port ", QuoteValue(port), ", not 1..65535"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckHttpBodySubstring(absl::string_view text) {
  if (text.size() > kMaxHttpBodySubstringBytes) {
    return RefuseLength(text, kMaxHttpBodySubstringBytes);
  }
  if (std::optional<size_t> bad = FirstUnfitByte(
          text, {.space = true, .non_ascii = true, .controls = "\t\r\n"})) {
    return Refuse(text, DescribeByte(text, *bad));
  }
  return absl::OkStatus();
}

absl::Status CheckGrpcService(absl::string_view service) {
  if (service.size() > kMaxGrpcServiceBytes) {
    return RefuseLength(service, kMaxGrpcServiceBytes);
  }
  if (std::optional<size_t> bad = FirstUnfitByte(service, {})) {
    return Refuse(service,
                  absl::StrCat(DescribeByte(service, *bad),
                               static_cast<unsigned char>(service[*bad]) >= 0x80
                                   ? "; service names are ASCII"
                                   : ""));
  }
  return absl::OkStatus();
}

absl::Status CheckUdpPayload(absl::string_view payload) {
  if (payload.size() > kMaxUdpProbeBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        payload.size(), " bytes, over the limit of ", kMaxUdpProbeBytes));
  }
  return absl::OkStatus();
}

absl::Status CheckInterfaceName(absl::string_view name) {
  if (name.empty()) return Refuse(name, "is empty");
  if (name.size() > kMaxInterfaceNameBytes) {
    return RefuseLength(name, kMaxInterfaceNameBytes);
  }
  if (std::optional<size_t> bad = FirstUnfitByte(name, {.non_ascii = true})) {
    return Refuse(name, DescribeByte(name, *bad));
  }
  if (const size_t bad = name.find_first_of("/:");
      bad != absl::string_view::npos) {
    return Refuse(name, absl::StrCat(DescribeByte(name, bad),
                                     ", which interface names never do"));
  }
  if (name == "." || name == "..") {
    return Refuse(name, "is not an interface name");
  }
  return absl::OkStatus();
}

}  // namespace xlb
