// xlbctl backend add|del|weight|drain|undrain|list
//
// Every verb that changes backends sends all the addresses it is given as
// one UpdateBackends call: one transaction, one Maglev rebuild.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/xlbctl/arguments.h"
#include "tools/xlbctl/context.h"
#include "tools/xlbctl/views.h"

namespace xlb::xlbctl {
namespace {

struct ChangeArgs {
  std::string vip;
  std::vector<std::string> addresses;
  uint32_t weight = 1;
  bool drained = false;
  uint64_t generation = 0;
  CLI::Option* weight_opt = nullptr;
  CLI::Option* generation_opt = nullptr;
};

using FillChange =
    std::function<void(const ChangeArgs& args, v1::BackendChange* change)>;

CLI::App* AddChangeVerb(CLI::App* backend, Context& ctx,
                        const std::string& name, const std::string& description,
                        const std::string& past_tense,
                        std::shared_ptr<ChangeArgs> args, FillChange fill) {
  CLI::App* cmd = backend->add_subcommand(name, description);
  cmd->add_option("VIP", args->vip, "ADDRESS:PORT[/tcp|/udp]")->required();
  cmd->add_option("ADDRESS", args->addresses,
                  "Backend (tunnel endpoint) addresses, IPv4 or IPv6")
      ->required();
  args->generation_opt = AddGenerationOption(cmd, &args->generation);
  SetAction(cmd, ctx, [args, fill, past_tense](Context& ctx) -> absl::Status {
    absl::StatusOr<v1::VipKey> key = ParseVipKey(args->vip);
    if (!key.ok()) return key.status();
    v1::UpdateBackendsRequest request;
    for (const std::string& address : args->addresses) {
      if (absl::Status s = CheckAddress("backend", address); !s.ok()) return s;
      v1::BackendChange* change = request.add_changes();
      *change->mutable_vip() = *key;
      change->set_address(address);
      fill(*args, change);
    }
    if (args->generation_opt->count() > 0) {
      request.set_expected_generation(args->generation);
    }
    auto response = ctx.Call(&v1::LoadBalancer::Stub::UpdateBackends, request);
    if (!response.ok()) return response.status();
    if (ctx.json()) {
      PrintJson(ctx.out, *response);
    } else {
      ctx.out << past_tense << " " << args->addresses.size() << " backend"
              << (args->addresses.size() == 1 ? "" : "s") << " of vip "
              << FormatVipKey(*key) << ": "
              << absl::StrJoin(args->addresses, ", ") << " (generation "
              << response->generation() << ")\n";
    }
    return absl::OkStatus();
  });
  return cmd;
}

void AddBackendList(CLI::App* backend, Context& ctx) {
  auto vip_text = std::make_shared<std::string>();
  CLI::App* cmd =
      backend->add_subcommand("list", "List backends with their state");
  cmd->alias("ls");
  cmd->add_option("VIP", *vip_text,
                  "Only this VIP's backends (default: every VIP's)");
  cmd->footer(
      R"(Per backend: configured weight and drain flag, state in the data plane
(up, draining, down), health-check verdict, whether it holds entries in the
VIP's Maglev table, and its index in the backends map. -o json prints the
VipStatus of the VIP named, or {"vips": [VipStatus, ...]} for every VIP.

Examples:
  xlbctl backend list
  xlbctl backend list 192.0.2.10:80/tcp -o json)");
  SetAction(cmd, ctx, [vip_text](Context& ctx) -> absl::Status {
    absl::StatusOr<std::optional<v1::VipKey>> parsed =
        ParseOptionalVipKey(*vip_text);
    if (!parsed.ok()) return parsed.status();
    const std::optional<v1::VipKey>& only = *parsed;
    auto status =
        ctx.Call(&v1::LoadBalancer::Stub::GetStatus, v1::GetStatusRequest());
    if (!status.ok()) return status.status();
    std::vector<const v1::VipStatus*> vips;
    if (only.has_value()) {
      const v1::VipStatus* vip = FindVipStatus(*status, *only);
      if (vip == nullptr) {
        return absl::NotFoundError(
            absl::StrCat("vip ", FormatVipKey(*only), " not found"));
      }
      vips.push_back(vip);
    } else {
      for (const auto& vip : status->vips()) vips.push_back(&vip);
    }
    if (ctx.json() && only.has_value()) {
      PrintJson(ctx.out, *vips.front());
      return absl::OkStatus();
    }
    if (ctx.json()) {
      std::vector<std::string> items;
      for (const v1::VipStatus* vip : vips) {
        absl::StatusOr<std::string> json = ToJson(*vip, /*pretty=*/false);
        if (!json.ok()) return json.status();
        items.push_back(*json);
      }
      ctx.out << "{\"vips\": [" << absl::StrJoin(items, ", ") << "]}\n";
      return absl::OkStatus();
    }
    if (vips.empty()) ctx.out << "no VIPs configured\n";
    for (size_t i = 0; i < vips.size(); ++i) {
      if (i > 0) ctx.out << "\n";
      ctx.out << "vip " << FormatVipKey(vips[i]->key()) << "\n";
      PrintBackendHealthTable(ctx.out, *vips[i], "  ");
    }
    return absl::OkStatus();
  });
}

}  // namespace

void AddBackendCommands(CLI::App& app, Context& ctx) {
  CLI::App* backend = app.add_subcommand(
      "backend", "Add, remove, reweight, drain and list a VIP's backends");
  backend->require_subcommand(1);

  auto add_args = std::make_shared<ChangeArgs>();
  CLI::App* add = AddChangeVerb(
      backend, ctx, "add", "Add backends to a VIP", "added", add_args,
      [](const ChangeArgs& args, v1::BackendChange* change) {
        v1::AddBackend* add = change->mutable_add();
        if (args.weight_opt->count() > 0) add->set_weight(args.weight);
        add->set_drained(args.drained);
      });
  add_args->weight_opt =
      add->add_option("-w,--weight", add_args->weight,
                      "Relative share of new flows, 0..65535 (default 1)");
  add->add_flag("--drained", add_args->drained,
                "Add them draining (no new flows until undrained)");
  add->footer(
      R"(All addresses are added in one transaction (one Maglev rebuild); if one
fails (exists already, bad address) none is added.

Examples:
  xlbctl backend add 192.0.2.10:80/tcp 198.51.100.1 198.51.100.2
  xlbctl backend add 192.0.2.10:80/tcp 2001:db8:1::5 --weight 3 --drained)");

  auto del_args = std::make_shared<ChangeArgs>();
  CLI::App* del = AddChangeVerb(
      backend, ctx, "del", "Remove backends from a VIP", "removed", del_args,
      [](const ChangeArgs&, v1::BackendChange* change) {
        change->mutable_remove();
      });
  del->alias("delete");
  del->footer(
      R"(Established flows of a removed backend move to the others; drain it first
(`backend drain`) to let them finish. Exit code 3 if the VIP or a backend
does not exist; then nothing is removed.

Example:
  xlbctl backend del 192.0.2.10:80/tcp 198.51.100.1 198.51.100.2)");

  auto weight_args = std::make_shared<ChangeArgs>();
  CLI::App* weight = AddChangeVerb(
      backend, ctx, "weight", "Set backends' weight", "reweighted", weight_args,
      [](const ChangeArgs& args, v1::BackendChange* change) {
        change->set_set_weight(args.weight);
      });
  weight_args->weight_opt =
      weight
          ->add_option("-w,--weight", weight_args->weight,
                       "New weight, 0..65535; 0 keeps established flows but "
                       "takes no new ones")
          ->required();
  weight->footer(R"(Examples:
  xlbctl backend weight 192.0.2.10:80/tcp 198.51.100.1 --weight 5
  xlbctl backend weight 192.0.2.10:80/tcp 198.51.100.1 198.51.100.2 -w 0)");

  AddChangeVerb(backend, ctx, "drain",
                "Drain backends: keep established flows, no new ones",
                "drained", std::make_shared<ChangeArgs>(),
                [](const ChangeArgs&, v1::BackendChange* change) {
                  change->set_set_drained(true);
                })
      ->footer(
          R"(A draining backend leaves the Maglev table; its established flows stay
with it until they end. Watch them go with `xlbctl stats`.

Example:
  xlbctl backend drain 192.0.2.10:80/tcp 198.51.100.1)");

  AddChangeVerb(backend, ctx, "undrain",
                "Undrain backends: give them new flows again", "undrained",
                std::make_shared<ChangeArgs>(),
                [](const ChangeArgs&, v1::BackendChange* change) {
                  change->set_set_drained(false);
                })
      ->footer(R"(Example:
  xlbctl backend undrain 192.0.2.10:80/tcp 198.51.100.1)");

  AddBackendList(backend, ctx);
}

}  // namespace xlb::xlbctl
