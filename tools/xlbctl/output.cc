#include "tools/xlbctl/output.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/json_util.h"

namespace xlb::xlbctl {
namespace {

// Counters, rates and sizes: digits with an optional unit suffix or "-".
bool LooksNumeric(const std::string& cell) {
  if (cell.empty() || cell == "-") return true;
  return absl::ascii_isdigit(static_cast<unsigned char>(cell[0])) &&
         cell.find_first_of(":/") == std::string::npos &&
         std::count(cell.begin(), cell.end(), '.') <= 1;
}

std::string Scaled(double value, double base,
                   const std::vector<std::string>& units) {
  size_t unit = 0;
  while (value >= base && unit + 1 < units.size()) {
    value /= base;
    ++unit;
  }
  if (unit == 0) return absl::StrFormat("%.0f%s", value, units[0]);
  return absl::StrFormat(value < 10 ? "%.2f%s" : "%.1f%s", value, units[unit]);
}

}  // namespace

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

void Table::Print(std::ostream& out, const std::string& indent) const {
  std::vector<size_t> widths(headers_.size());
  std::vector<bool> numeric(headers_.size(), !rows_.empty());
  for (size_t c = 0; c < headers_.size(); ++c) {
    widths[c] = headers_[c].size();
    for (const auto& row : rows_) {
      widths[c] = std::max(widths[c], row[c].size());
      if (!LooksNumeric(row[c])) numeric[c] = false;
    }
  }
  auto print_line = [&](const std::vector<std::string>& cells) {
    std::string line = indent;
    for (size_t c = 0; c < cells.size(); ++c) {
      bool last = c + 1 == cells.size();
      std::string pad(widths[c] - cells[c].size(), ' ');
      if (numeric[c]) {
        absl::StrAppend(&line, pad, cells[c]);
      } else {
        absl::StrAppend(&line, cells[c], last ? "" : pad);
      }
      if (!last) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  };
  print_line(headers_);
  for (const auto& row : rows_) print_line(row);
}

absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message,
                                   bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  options.add_whitespace = pretty;
  std::string json;
  auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot print ", message.GetTypeName(),
                     " as JSON: ", std::string(status.message())));
  }
  while (!json.empty() && json.back() == '\n') json.pop_back();
  return json;
}

void PrintJson(std::ostream& out, const google::protobuf::Message& message,
               bool pretty) {
  absl::StatusOr<std::string> json = ToJson(message, pretty);
  out << (json.ok() ? *json : std::string(json.status().message())) << "\n";
}

std::string HumanCount(double value) {
  return Scaled(value, 1000, {"", "k", "M", "G", "T", "P"});
}

std::string HumanBytes(double value) {
  return Scaled(value, 1024, {"B", "KiB", "MiB", "GiB", "TiB", "PiB"});
}

std::string YesNo(bool value) { return value ? "yes" : "no"; }

}  // namespace xlb::xlbctl
