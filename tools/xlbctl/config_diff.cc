#include "tools/xlbctl/config_diff.h"

#include <algorithm>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/text_format.h"
#include "tools/xlbctl/arguments.h"

namespace xlb::xlbctl {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr uint32_t kDefaultRingSize = 65537;

void SetDurationIfUnset(google::protobuf::Duration* d, int64_t seconds) {
  if (d->seconds() == 0 && d->nanos() == 0) d->set_seconds(seconds);
}

std::string FieldText(const Message& message, const FieldDescriptor* field) {
  const Reflection* reflection = message.GetReflection();
  std::string text;
  if (field->is_repeated()) {
    std::vector<std::string> items;
    for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
      std::string item;
      google::protobuf::TextFormat::PrintFieldValueToString(message, field, i,
                                                            &item);
      items.push_back(item);
    }
    return absl::StrCat("[", absl::StrJoin(items, ", "), "]");
  }
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    const Message& sub = reflection->GetMessage(message, field);
    if (sub.GetDescriptor()->full_name() == "google.protobuf.Duration") {
      return FormatDuration(
          static_cast<const google::protobuf::Duration&>(sub));
    }
    google::protobuf::TextFormat::Printer printer;
    printer.SetSingleLineMode(true);
    printer.PrintToString(sub, &text);
    return absl::StrCat("{", text, "}");
  }
  google::protobuf::TextFormat::PrintFieldValueToString(message, field, -1,
                                                        &text);
  return text;
}

// Appends "path: old -> new" for every field that differs, descending into
// sub-messages (except Durations, printed whole).
void DiffFields(const Message& before, const Message& after,
                const std::string& prefix, const std::string& indent,
                std::vector<std::string>* lines) {
  const auto* descriptor = before.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    std::string path = absl::StrCat(prefix, field->name());
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
        !field->is_repeated() &&
        field->message_type()->full_name() != "google.protobuf.Duration") {
      const Reflection* rb = before.GetReflection();
      const Reflection* ra = after.GetReflection();
      bool had = rb->HasField(before, field);
      bool has = ra->HasField(after, field);
      if (had && has) {
        DiffFields(rb->GetMessage(before, field), ra->GetMessage(after, field),
                   absl::StrCat(path, "."), indent, lines);
      } else if (had != has) {
        lines->push_back(absl::StrCat(
            indent, path, ": ", had ? FieldText(before, field) : "(none)",
            " -> ", has ? FieldText(after, field) : "(none)"));
      }
      continue;
    }
    std::string old_text = FieldText(before, field);
    std::string new_text = FieldText(after, field);
    if (old_text != new_text) {
      lines->push_back(
          absl::StrCat(indent, path, ": ", old_text, " -> ", new_text));
    }
  }
}

std::string BackendSummary(const v1::Backend& backend) {
  return absl::StrCat("backend ", backend.address(), " (weight ",
                      backend.weight(), backend.drained() ? ", drained" : "",
                      ")");
}

// Lines for one VIP present on both sides; empty when equal.
std::vector<std::string> DiffOneVip(const v1::Vip& current,
                                    const v1::Vip& desired) {
  v1::Vip before = NormalizeVip(current);
  v1::Vip after = NormalizeVip(desired);
  std::vector<std::string> lines;
  DiffFields(before.settings(), after.settings(), "settings.", "    ", &lines);
  std::map<std::string, const v1::Backend*> old_backends;
  std::map<std::string, const v1::Backend*> new_backends;
  for (const auto& b : before.backends()) old_backends[b.address()] = &b;
  for (const auto& b : after.backends()) new_backends[b.address()] = &b;
  for (const auto& [address, backend] : old_backends) {
    if (!new_backends.contains(address)) {
      lines.push_back(absl::StrCat("    - ", BackendSummary(*backend)));
    }
  }
  for (const auto& [address, backend] : new_backends) {
    auto old = old_backends.find(address);
    if (old == old_backends.end()) {
      lines.push_back(absl::StrCat("    + ", BackendSummary(*backend)));
      continue;
    }
    std::vector<std::string> changes;
    DiffFields(*old->second, *backend, "", "", &changes);
    if (!changes.empty()) {
      lines.push_back(absl::StrCat("    ~ backend ", address, ": ",
                                   absl::StrJoin(changes, ", ")));
    }
  }
  return lines;
}

std::string VipSummary(const v1::Vip& vip) {
  return absl::StrCat("vip ", FormatVipKey(vip.key()), " (",
                      vip.backends_size(), " backend",
                      vip.backends_size() == 1 ? "" : "s", ")");
}

void DiffVipInto(const v1::Vip* current, const v1::Vip* desired,
                 ConfigDiff* diff) {
  if (current == nullptr) {
    ++diff->vips_created;
    diff->lines.push_back(absl::StrCat("+ ", VipSummary(*desired)));
    v1::Vip normalized = NormalizeVip(*desired);
    for (const auto& backend : normalized.backends()) {
      diff->lines.push_back(absl::StrCat("    + ", BackendSummary(backend)));
    }
    return;
  }
  if (desired == nullptr) {
    ++diff->vips_deleted;
    diff->lines.push_back(absl::StrCat("- ", VipSummary(*current)));
    return;
  }
  std::vector<std::string> lines = DiffOneVip(*current, *desired);
  if (lines.empty()) return;
  ++diff->vips_changed;
  diff->lines.push_back(absl::StrCat("~ vip ", FormatVipKey(desired->key())));
  diff->lines.insert(diff->lines.end(), lines.begin(), lines.end());
}

std::string SortKey(const v1::VipKey& key) {
  return absl::StrCat(key.address(), "|", key.port(), "|", key.protocol());
}

}  // namespace

v1::Vip NormalizeVip(const v1::Vip& vip) {
  v1::Vip out = vip;
  v1::VipSettings* settings = out.mutable_settings();
  if (settings->hash_mode() == v1::HASH_MODE_UNSPECIFIED) {
    settings->set_hash_mode(v1::HASH_MODE_FIVE_TUPLE);
  }
  if (settings->ring_size() == 0) settings->set_ring_size(kDefaultRingSize);
  if (!settings->has_announce_min_healthy()) {
    settings->set_announce_min_healthy(1);
  }
  if (settings->has_health_check()) {
    v1::HealthCheck* hc = settings->mutable_health_check();
    SetDurationIfUnset(hc->mutable_interval(), 5);
    SetDurationIfUnset(hc->mutable_timeout(), 2);
    if (hc->rise() == 0) hc->set_rise(2);
    if (hc->fall() == 0) hc->set_fall(3);
    if (hc->type() == v1::HEALTH_CHECK_TYPE_HTTP ||
        hc->type() == v1::HEALTH_CHECK_TYPE_HTTPS) {
      if (hc->http_path().empty()) hc->set_http_path("/");
      if (hc->http_expected_codes_size() == 0) {
        hc->add_http_expected_codes(200);
      }
    }
    if (hc->jitter().seconds() == 0 && hc->jitter().nanos() == 0) {
      hc->clear_jitter();
    }
  }
  for (auto& backend : *out.mutable_backends()) {
    if (!backend.has_weight()) backend.set_weight(1);
  }
  std::sort(out.mutable_backends()->begin(), out.mutable_backends()->end(),
            [](const v1::Backend& a, const v1::Backend& b) {
              return a.address() < b.address();
            });
  return out;
}

ConfigDiff DiffConfigs(const v1::Config& current, const v1::Config& desired) {
  std::map<std::string, const v1::Vip*> old_vips;
  std::map<std::string, const v1::Vip*> new_vips;
  for (const auto& vip : current.vips()) old_vips[SortKey(vip.key())] = &vip;
  for (const auto& vip : desired.vips()) new_vips[SortKey(vip.key())] = &vip;
  ConfigDiff diff;
  std::map<std::string, std::pair<const v1::Vip*, const v1::Vip*>> all;
  for (const auto& [key, vip] : old_vips) all[key].first = vip;
  for (const auto& [key, vip] : new_vips) all[key].second = vip;
  for (const auto& [key, pair] : all)
    DiffVipInto(pair.first, pair.second, &diff);
  return diff;
}

ConfigDiff DiffVip(const v1::Config& current, const v1::Vip& desired) {
  const v1::Vip* existing = nullptr;
  for (const auto& vip : current.vips()) {
    if (SortKey(vip.key()) == SortKey(desired.key())) existing = &vip;
  }
  ConfigDiff diff;
  DiffVipInto(existing, &desired, &diff);
  return diff;
}

}  // namespace xlb::xlbctl
