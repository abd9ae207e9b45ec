// Configuration files for `config get` and `config apply`: the API's Config
// (the whole state) or one Vip, as JSON or YAML. Both use the proto's field
// names; YAML is converted to JSON guided by the message's schema and then
// parsed by protobuf, so the two formats accept exactly the same fields.
#ifndef XLB_TOOLS_XLBCTL_CONFIG_FILE_H_
#define XLB_TOOLS_XLBCTL_CONFIG_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "xlb/v1/config.pb.h"

namespace xlb::xlbctl {

enum class FileFormat { kYaml, kJson };

// kJson for "*.json", kYaml otherwise ("*.yaml", "*.yml", "-").
FileFormat FormatForPath(absl::string_view path);
// "yaml" / "json".
absl::StatusOr<FileFormat> ParseFileFormat(absl::string_view name);

// What a file holds: the whole configuration (a top-level "vips" list, or
// an empty document) or one VIP (a top-level "key").
struct ConfigDocument {
  bool is_single_vip = false;
  v1::Config config;  // when !is_single_vip
  v1::Vip vip;        // when is_single_vip
};

// Parses `text`. JSON is a subset of YAML, so kYaml also reads JSON files.
// INVALID_ARGUMENT names `source` and what is wrong (unknown field, bad
// value, YAML syntax with its line).
absl::StatusOr<ConfigDocument> ParseConfigDocument(absl::string_view text,
                                                   FileFormat format,
                                                   absl::string_view source);

// Checks every address in `document` (VIP keys and backends) locally, by
// the agent's rules (lb/base/field_rules.h), so a file holding a NUL, a name or
// a loopback address is refused before anything is read from or sent to the
// agent. INVALID_ARGUMENT names `source` and the field's path.
absl::Status CheckDocumentAddresses(const ConfigDocument& document,
                                    absl::string_view source);

// `message` in `format`, with the proto's field names and a final newline.
absl::StatusOr<std::string> SerializeDocument(
    const google::protobuf::Message& message, FileFormat format);

// YAML (or JSON) text to JSON text for `descriptor`'s message: scalars are
// quoted or not as the field's type wants, so "80" becomes a number for a
// port and a string for a host name.
absl::StatusOr<std::string> YamlToJson(
    absl::string_view yaml, const google::protobuf::Descriptor* descriptor);

}  // namespace xlb::xlbctl

#endif  // XLB_TOOLS_XLBCTL_CONFIG_FILE_H_
