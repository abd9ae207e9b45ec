#include "tools/xlbctl/agreement.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/xlbctl/arguments.h"
#include "tools/xlbctl/exit_codes.h"
#include "tools/xlbctl/output.h"

namespace xlb::xlbctl {
namespace {

std::string Cell(const std::optional<std::string>& digest) {
  if (!digest.has_value()) return "absent";
  return digest->empty() ? "-" : *digest;
}

}  // namespace

AgentRings RingsOf(std::string server, const v1::GetStatusResponse& status) {
  AgentRings rings{.server = std::move(server)};
  for (const v1::VipStatus& vip : status.vips()) {
    rings.vips.push_back(
        {.key = FormatVipKey(vip.key()), .ring_digest = vip.ring_digest()});
  }
  return rings;
}

bool RingComparison::agree() const {
  for (const Row& row : rows) {
    if (!row.agree) return false;
  }
  return true;
}

std::vector<std::string> RingComparison::disagreeing_vips() const {
  std::vector<std::string> vips;
  for (const Row& row : rows) {
    if (!row.agree) vips.push_back(row.vip);
  }
  return vips;
}

RingComparison CompareRings(const std::vector<AgentRings>& agents) {
  RingComparison comparison;
  std::map<std::string, size_t> row_of;
  for (size_t a = 0; a < agents.size(); ++a) {
    comparison.servers.push_back(agents[a].server);
    for (const AgentRings::Vip& vip : agents[a].vips) {
      auto [it, added] = row_of.emplace(vip.key, comparison.rows.size());
      if (added) {
        comparison.rows.push_back(
            {.vip = vip.key,
             .digests =
                 std::vector<std::optional<std::string>>(agents.size())});
      }
      comparison.rows[it->second].digests[a] = vip.ring_digest;
    }
  }
  for (RingComparison::Row& row : comparison.rows) {
    for (const auto& digest : row.digests) {
      if (digest != row.digests.front()) row.agree = false;
    }
  }
  return comparison;
}

void PrintRingComparison(std::ostream& out, const RingComparison& comparison,
                         const std::string& indent) {
  if (comparison.rows.empty()) {
    out << indent << "no VIPs configured on any agent\n";
    return;
  }
  std::vector<std::string> headers = {"VIP"};
  headers.insert(headers.end(), comparison.servers.begin(),
                 comparison.servers.end());
  headers.push_back("AGREE");
  Table table(std::move(headers));
  for (size_t a = 1; a <= comparison.servers.size(); ++a) table.AlignLeft(a);
  for (const RingComparison::Row& row : comparison.rows) {
    std::vector<std::string> cells = {row.vip};
    for (const auto& digest : row.digests) cells.push_back(Cell(digest));
    cells.push_back(row.agree ? "yes" : "NO");
    table.AddRow(std::move(cells));
  }
  table.Print(out, indent);
}

google::protobuf::Struct RingComparisonJson(const RingComparison& comparison) {
  google::protobuf::Struct json;
  auto* vips = (*json.mutable_fields())["vips"].mutable_list_value();
  for (const RingComparison::Row& row : comparison.rows) {
    google::protobuf::Struct* out = vips->add_values()->mutable_struct_value();
    (*out->mutable_fields())["vip"].set_string_value(row.vip);
    auto* digests =
        (*out->mutable_fields())["ring_digests"].mutable_struct_value();
    for (size_t a = 0; a < row.digests.size(); ++a) {
      google::protobuf::Value& value =
          (*digests->mutable_fields())[comparison.servers[a]];
      if (row.digests[a].has_value()) {
        value.set_string_value(*row.digests[a]);
      } else {
        value.set_null_value(google::protobuf::NULL_VALUE);
      }
    }
    (*out->mutable_fields())["agree"].set_bool_value(row.agree);
  }
  (*json.mutable_fields())["agree"].set_bool_value(comparison.agree());
  return json;
}

absl::Status DisagreementStatus(const RingComparison& comparison,
                                absl::string_view when) {
  std::vector<std::string> details;
  for (const RingComparison::Row& row : comparison.rows) {
    if (row.agree) continue;
    std::vector<std::string> per_agent;
    for (size_t a = 0; a < row.digests.size(); ++a) {
      per_agent.push_back(
          absl::StrCat(comparison.servers[a], " ", Cell(row.digests[a])));
    }
    details.push_back(
        absl::StrCat(row.vip, " (", absl::StrJoin(per_agent, ", "), ")"));
  }
  const size_t n = details.size();
  return DisagreementError(absl::StrCat(
      "agents disagree ", when, " on ", n, " VIP", n == 1 ? "" : "s", ": ",
      absl::StrJoin(details, "; "),
      ". Flows the router moves between them change backend: compare "
      "their --hash-seed (every VIP differs) or the backends' health "
      "(`xlbctl status` on each)"));
}

}  // namespace xlb::xlbctl
