// Output for people (aligned tables, human-readable numbers) and for
// scripts (JSON with the proto's field names).
#ifndef XLB_TOOLS_XLBCTL_OUTPUT_H_
#define XLB_TOOLS_XLBCTL_OUTPUT_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/struct.pb.h"

namespace xlb::xlbctl {

enum class OutputFormat { kTable, kJson };

// Columns padded to their widest cell; numeric-looking columns are right
// aligned. Header in capitals, as ip(8) and xdp-tools print them.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  // Left aligns `column` even when its cells look numeric (hex digests).
  void AlignLeft(size_t column);
  void AddRow(std::vector<std::string> cells);
  bool empty() const { return rows_.empty(); }
  // Writes the table, each line prefixed by `indent`.
  void Print(std::ostream& out, const std::string& indent = "") const;

 private:
  std::vector<std::string> headers_;
  std::vector<bool> left_;  // columns never right aligned
  std::vector<std::vector<std::string>> rows_;
};

// The message as JSON: the proto's field names (preserve_proto_field_names),
// enums by name, fields at their default value included so every field a
// script looks for is there. `pretty` indents it; otherwise one line.
absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message,
                                   bool pretty = true);
// As ToJson, written to `out` with a newline; an error only if the message
// cannot be converted (never for the API's messages).
void PrintJson(std::ostream& out, const google::protobuf::Message& message,
               bool pretty = true);

// As ToJson, as a value to put in a JSON document xlbctl builds.
google::protobuf::Value ToJsonValue(const google::protobuf::Message& message);
// A document xlbctl builds, as one line of JSON with every object's members
// sorted by name (a Struct holds them unordered), so equal documents print
// equally; written to `out` with a newline.
std::string DocumentToJson(const google::protobuf::Value& document);
void PrintDocument(std::ostream& out, const google::protobuf::Struct& document);

// 1234567 -> "1.2M", 999 -> "999": counters in a table.
std::string HumanCount(double value);
// Bytes with binary prefixes: 1536 -> "1.5KiB".
std::string HumanBytes(double value);
// "yes" / "no".
std::string YesNo(bool value);

}  // namespace xlb::xlbctl

#endif  // XLB_TOOLS_XLBCTL_OUTPUT_H_
