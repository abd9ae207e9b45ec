#include "tools/xlbctl/output.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
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

Table::Table(std::vector<std::string> headers)
    : headers_(std::move(headers)), left_(headers_.size(), false) {}

void Table::AlignLeft(size_t column) {
  if (column < left_.size()) left_[column] = true;
}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

void Table::Print(std::ostream& out, const std::string& indent) const {
  std::vector<size_t> widths(headers_.size());
  std::vector<bool> numeric(headers_.size(), !rows_.empty());
  for (size_t c = 0; c < headers_.size(); ++c) {
    if (left_[c]) numeric[c] = false;
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

google::protobuf::Value ToJsonValue(const google::protobuf::Message& message) {
  google::protobuf::Value value;
  absl::StatusOr<std::string> json = ToJson(message, /*pretty=*/false);
  if (!json.ok() ||
      !google::protobuf::util::JsonStringToMessage(*json, &value).ok()) {
    value.set_string_value(json.ok() ? "(unprintable)"
                                     : std::string(json.status().message()));
  }
  return value;
}

namespace {

void AppendJsonString(std::string& out, absl::string_view text) {
  out.push_back('"');
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned char>(c));
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

void AppendJson(std::string& out, const google::protobuf::Value& value) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kNumberValue: {
      const double n = value.number_value();
      // Integers print as integers (counts); 2^53 bounds the exact ones.
      if (std::abs(n) < 9007199254740992.0 && n == std::trunc(n)) {
        absl::StrAppend(&out, static_cast<int64_t>(n));
      } else {
        absl::StrAppendFormat(&out, "%.17g", n);
      }
      break;
    }
    case google::protobuf::Value::kStringValue:
      AppendJsonString(out, value.string_value());
      break;
    case google::protobuf::Value::kBoolValue:
      out += value.bool_value() ? "true" : "false";
      break;
    case google::protobuf::Value::kStructValue: {
      const std::map<std::string, const google::protobuf::Value*> sorted = [&] {
        std::map<std::string, const google::protobuf::Value*> m;
        for (const auto& [name, member] : value.struct_value().fields()) {
          m[name] = &member;
        }
        return m;
      }();
      out.push_back('{');
      bool first = true;
      for (const auto& [name, member] : sorted) {
        if (!first) out.push_back(',');
        first = false;
        AppendJsonString(out, name);
        out.push_back(':');
        AppendJson(out, *member);
      }
      out.push_back('}');
      break;
    }
    case google::protobuf::Value::kListValue: {
      out.push_back('[');
      bool first = true;
      for (const auto& element : value.list_value().values()) {
        if (!first) out.push_back(',');
        first = false;
        AppendJson(out, element);
      }
      out.push_back(']');
      break;
    }
    default:
      out += "null";
  }
}

}  // namespace

std::string DocumentToJson(const google::protobuf::Value& document) {
  std::string out;
  AppendJson(out, document);
  return out;
}

void PrintDocument(std::ostream& out,
                   const google::protobuf::Struct& document) {
  google::protobuf::Value value;
  *value.mutable_struct_value() = document;
  out << DocumentToJson(value) << "\n";
}

std::string HumanCount(double value) {
  return Scaled(value, 1000, {"", "k", "M", "G", "T", "P"});
}

std::string HumanBytes(double value) {
  return Scaled(value, 1024, {"B", "KiB", "MiB", "GiB", "TiB", "PiB"});
}

std::string YesNo(bool value) { return value ? "yes" : "no"; }

}  // namespace xlb::xlbctl
