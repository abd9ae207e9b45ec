#include "tools/xlbctl/config_file.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "lb/base/field_rules.h"
#include "tools/xlbctl/output.h"
#include "yaml-cpp/yaml.h"

namespace xlb::xlbctl {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

void AppendJsonString(std::string* out, const std::string& value) {
  out->push_back('"');
  for (unsigned char c : value) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          absl::StrAppend(out, "\\u00", absl::Hex(c, absl::kZeroPad2));
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

bool IsPlainScalar(const YAML::Node& node) { return node.Tag() == "?"; }

bool IsYamlNull(const YAML::Node& node) {
  if (node.IsNull()) return true;
  if (!IsPlainScalar(node)) return false;
  const std::string& s = node.Scalar();
  return s == "~" || s == "null" || s == "Null" || s == "NULL";
}

bool LooksLikeJsonNumber(const std::string& s) {
  if (s.empty()) return false;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size()) return false;
  bool digits = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      digits = true;
    } else if (c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-') {
      return false;
    }
  }
  return digits;
}

// A scalar whose field is unknown (or typeless): literal when YAML would
// read it as a bool, null or number, a string otherwise.
void AppendGuessedScalar(std::string* out, const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (IsPlainScalar(node) &&
      (s == "true" || s == "false" || LooksLikeJsonNumber(s))) {
    out->append(s);
  } else {
    AppendJsonString(out, s);
  }
}

absl::Status AppendNode(std::string* out, const YAML::Node& node,
                        const Descriptor* message, const FieldDescriptor* field,
                        bool in_repeated);

absl::Status AppendMessage(std::string* out, const YAML::Node& node,
                           const Descriptor* message) {
  if (message != nullptr &&
      (message->full_name() == "google.protobuf.Duration" ||
       message->full_name() == "google.protobuf.Timestamp") &&
      node.IsScalar()) {
    AppendJsonString(out, node.Scalar());
    return absl::OkStatus();
  }
  if (!node.IsMap()) {
    if (IsYamlNull(node)) {
      out->append("null");
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(
        absl::StrCat("line ", node.Mark().line + 1, ": expected a mapping of ",
                     message ? message->name() : std::string("fields")));
  }
  out->push_back('{');
  bool first = true;
  for (const auto& entry : node) {
    if (!first) out->push_back(',');
    first = false;
    std::string name = entry.first.as<std::string>();
    AppendJsonString(out, name);
    out->push_back(':');
    const FieldDescriptor* field = nullptr;
    if (message != nullptr) {
      field = message->FindFieldByName(name);
      for (int i = 0; field == nullptr && i < message->field_count(); ++i) {
        if (message->field(i)->json_name() == name) field = message->field(i);
      }
    }
    absl::Status status =
        AppendNode(out, entry.second, nullptr, field, /*in_repeated=*/false);
    if (!status.ok()) return status;
  }
  out->push_back('}');
  return absl::OkStatus();
}

absl::Status AppendNode(std::string* out, const YAML::Node& node,
                        const Descriptor* message, const FieldDescriptor* field,
                        bool in_repeated) {
  if (field != nullptr && field->is_map() && node.IsMap()) {
    const FieldDescriptor* value_field = field->message_type()->map_value();
    out->push_back('{');
    bool first = true;
    for (const auto& entry : node) {
      if (!first) out->push_back(',');
      first = false;
      AppendJsonString(out, entry.first.as<std::string>());
      out->push_back(':');
      absl::Status status =
          AppendNode(out, entry.second, nullptr, value_field, true);
      if (!status.ok()) return status;
    }
    out->push_back('}');
    return absl::OkStatus();
  }
  if (field != nullptr && field->is_repeated() && !in_repeated &&
      node.IsSequence()) {
    out->push_back('[');
    bool first = true;
    for (const auto& item : node) {
      if (!first) out->push_back(',');
      first = false;
      absl::Status status = AppendNode(out, item, nullptr, field, true);
      if (!status.ok()) return status;
    }
    out->push_back(']');
    return absl::OkStatus();
  }
  if (field != nullptr &&
      field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    return AppendMessage(out, node, field->message_type());
  }
  if (message != nullptr) return AppendMessage(out, node, message);
  if (IsYamlNull(node)) {
    out->append("null");
    return absl::OkStatus();
  }
  if (node.IsSequence()) {
    out->push_back('[');
    bool first = true;
    for (const auto& item : node) {
      if (!first) out->push_back(',');
      first = false;
      absl::Status status = AppendNode(out, item, nullptr, nullptr, true);
      if (!status.ok()) return status;
    }
    out->push_back(']');
    return absl::OkStatus();
  }
  if (node.IsMap()) return AppendMessage(out, node, nullptr);
  if (field == nullptr) {
    AppendGuessedScalar(out, node);
    return absl::OkStatus();
  }
  const std::string& s = node.Scalar();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_BOOL:
      // YAML 1.1 spellings too, since people write them.
      if (s == "true" || s == "True" || s == "yes" || s == "on") {
        out->append("true");
      } else if (s == "false" || s == "False" || s == "no" || s == "off") {
        out->append("false");
      } else {
        AppendJsonString(out, s);  // protobuf names the field and value
      }
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT:
      if (LooksLikeJsonNumber(s)) {
        out->append(s);
      } else {
        AppendJsonString(out, s);
      }
      return absl::OkStatus();
    default:  // strings, bytes (base64), enums (by name)
      AppendJsonString(out, s);
      return absl::OkStatus();
  }
}

absl::Status ParseJsonInto(const std::string& json, absl::string_view source,
                           google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status =
      google::protobuf::util::JsonStringToMessage(json, message, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", std::string(status.message())));
  }
  return absl::OkStatus();
}

absl::Status CheckFileAddress(absl::string_view source, absl::string_view path,
                              absl::string_view address) {
  if (address.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", path, ": required"));
  }
  absl::StatusOr<AddressBytes> parsed = ParseAddressText(address);
  absl::Status status =
      parsed.ok() ? CheckUsableAddress(*parsed) : parsed.status();
  if (status.ok()) return status;
  return absl::InvalidArgumentError(
      absl::StrCat(source, ": ", path, ": ", status.message()));
}

absl::Status CheckVipAddresses(const v1::Vip& vip, absl::string_view source,
                               absl::string_view prefix) {
  if (absl::Status s = CheckFileAddress(
          source, absl::StrCat(prefix, "key.address"), vip.key().address());
      !s.ok()) {
    return s;
  }
  for (int i = 0; i < vip.backends_size(); ++i) {
    if (absl::Status s = CheckFileAddress(
            source, absl::StrCat(prefix, "backends[", i, "].address"),
            vip.backends(i).address());
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

void SetBlockStyle(YAML::Node node) {
  if (node.IsMap() || node.IsSequence()) {
    node.SetStyle(YAML::EmitterStyle::Block);
    if (node.IsMap()) {
      for (auto entry : node) SetBlockStyle(entry.second);
    } else {
      for (auto item : node) SetBlockStyle(item);
    }
  }
}

}  // namespace

FileFormat FormatForPath(absl::string_view path) {
  return absl::EndsWithIgnoreCase(path, ".json") ? FileFormat::kJson
                                                 : FileFormat::kYaml;
}

absl::StatusOr<FileFormat> ParseFileFormat(absl::string_view name) {
  if (name == "yaml" || name == "yml") return FileFormat::kYaml;
  if (name == "json") return FileFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("--format ", QuoteValue(name), ": expected yaml or json"));
}

absl::StatusOr<std::string> YamlToJson(absl::string_view yaml,
                                       const Descriptor* descriptor) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(e.what());
  }
  std::string json;
  absl::Status status = AppendNode(&json, root, descriptor, nullptr, false);
  if (!status.ok()) return status;
  return json;
}

absl::StatusOr<ConfigDocument> ParseConfigDocument(absl::string_view text,
                                                   FileFormat format,
                                                   absl::string_view source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", e.what()));
  }
  ConfigDocument document;
  if (root.IsNull()) return document;  // empty file: no VIPs
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source,
                     ": expected a mapping with \"vips\" (the whole "
                     "configuration) or \"key\" (one VIP)"));
  }
  document.is_single_vip = static_cast<bool>(root["key"]);
  google::protobuf::Message* target =
      document.is_single_vip
          ? static_cast<google::protobuf::Message*>(&document.vip)
          : &document.config;
  std::string json;
  if (format == FileFormat::kJson) {
    json = std::string(text);
  } else {
    absl::StatusOr<std::string> converted =
        YamlToJson(text, target->GetDescriptor());
    if (!converted.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": ", converted.status().message()));
    }
    json = *std::move(converted);
  }
  absl::Status status = ParseJsonInto(json, source, target);
  if (!status.ok()) return status;
  return document;
}

absl::Status CheckDocumentAddresses(const ConfigDocument& document,
                                    absl::string_view source) {
  if (document.is_single_vip)
    return CheckVipAddresses(document.vip, source, "");
  for (int i = 0; i < document.config.vips_size(); ++i) {
    if (absl::Status s = CheckVipAddresses(document.config.vips(i), source,
                                           absl::StrCat("vips[", i, "]."));
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SerializeDocument(
    const google::protobuf::Message& message, FileFormat format) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.add_whitespace = true;
  std::string json;
  auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) return absl::InternalError(std::string(status.message()));
  if (format == FileFormat::kJson) {
    if (json.empty() || json.back() != '\n') json.push_back('\n');
    return json;
  }
  try {
    YAML::Node node = YAML::Load(json);
    SetBlockStyle(node);
    YAML::Emitter emitter;
    emitter << node;
    return absl::StrCat(emitter.c_str(), "\n");
  } catch (const YAML::Exception& e) {
    return absl::InternalError(absl::StrCat("cannot write YAML: ", e.what()));
  }
}

}  // namespace xlb::xlbctl
