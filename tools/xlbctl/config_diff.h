// The preview `config apply` shows before it changes anything: which VIPs
// are created, deleted or changed, and within a changed VIP which settings
// and backends. Zero values the API documents as defaults are compared as
// those defaults, so "ring_size: 0" and "ring_size: 65537" are no change.
#ifndef XLB_TOOLS_XLBCTL_CONFIG_DIFF_H_
#define XLB_TOOLS_XLBCTL_CONFIG_DIFF_H_

#include <string>
#include <vector>

#include "xlb/v1/config.pb.h"

namespace xlb::xlbctl {

struct ConfigDiff {
  // One line per change, "+ ", "- " or "~ " first; nested lines indented.
  std::vector<std::string> lines;
  int vips_created = 0;
  int vips_deleted = 0;
  int vips_changed = 0;
  bool empty() const { return lines.empty(); }
};

// `current` -> `desired` for the whole configuration (VIPs absent from
// `desired` are deleted).
ConfigDiff DiffConfigs(const v1::Config& current, const v1::Config& desired);

// `current` -> `desired` for the one VIP `desired` names; other VIPs of
// `current` are untouched.
ConfigDiff DiffVip(const v1::Config& current, const v1::Vip& desired);

// `vip` with every documented default filled in (weight 1, ring size 65537,
// health-check interval 5s, ...) and backends sorted by address.
v1::Vip NormalizeVip(const v1::Vip& vip);

}  // namespace xlb::xlbctl

#endif  // XLB_TOOLS_XLBCTL_CONFIG_DIFF_H_
