// xlbctl vip add|update|del|list|show
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/xlbctl/arguments.h"
#include "tools/xlbctl/context.h"
#include "tools/xlbctl/views.h"

namespace xlb::xlbctl {
namespace {

// Settings flags shared by `vip add` and `vip update`; only the ones given
// change anything.
struct SettingsFlags {
  std::string hash;
  uint32_t ring_size = 0;
  uint32_t seed = 0;
  bool echo_reply = false;
  uint32_t syn_rate_limit = 0;
  double min_healthy = 0;
  uint32_t announce_min_healthy = 1;
  CLI::Option* hash_opt = nullptr;
  CLI::Option* ring_opt = nullptr;
  CLI::Option* seed_opt = nullptr;
  CLI::Option* echo_opt = nullptr;
  CLI::Option* syn_limit_opt = nullptr;
  CLI::Option* min_healthy_opt = nullptr;
  CLI::Option* announce_opt = nullptr;

  void Register(CLI::App* command) {
    hash_opt = command
                   ->add_option("--hash", hash,
                                "Fields hashed to pick a new flow's backend: "
                                "five-tuple (default) or no-source-port "
                                "(every connection of a client to one "
                                "backend)")
                   ->check(CLI::IsMember(HashModeNames()));
    ring_opt = command->add_option(
        "--ring-size", ring_size,
        "Maglev table size, a prime from 1021 to 655373 (default 65537); "
        "at least 100 x the number of backends");
    seed_opt = command->add_option(
        "--seed", seed,
        "Maglev permutation seed; hosts behind one ECMP group need the same");
    echo_opt = command->add_flag(
        "--echo-reply,!--no-echo-reply", echo_reply,
        "Answer ICMP echo requests to the VIP from XDP (or stop answering)");
    syn_limit_opt = command->add_option(
        "--syn-rate-limit", syn_rate_limit,
        "TCP SYNs per second the VIP admits, the rest dropped before any "
        "backend sees them (0: no limit, the default; TCP VIPs only)");
    min_healthy_opt = command->add_option(
        "--min-healthy", min_healthy,
        "Fail open: below this fraction (0..1) of healthy backends, send "
        "new flows to all of them (default 0: never)");
    announce_opt = command->add_option(
        "--announce-min-healthy", announce_min_healthy,
        "With BGP (xlbd --bgp-api): announce the VIP's address only while "
        "at least this many backends are healthy (default 1; 0: always)");
  }

  absl::Status ApplyTo(v1::VipSettings* settings) const {
    if (hash_opt->count() > 0) {
      absl::StatusOr<v1::HashMode> mode = ParseHashMode(hash);
      if (!mode.ok()) return mode.status();
      settings->set_hash_mode(*mode);
    }
    if (ring_opt->count() > 0) settings->set_ring_size(ring_size);
    if (seed_opt->count() > 0) settings->set_maglev_seed(seed);
    if (echo_opt->count() > 0) settings->set_echo_reply(echo_reply);
    if (syn_limit_opt->count() > 0) {
      settings->set_syn_rate_limit(syn_rate_limit);
    }
    if (min_healthy_opt->count() > 0) {
      settings->set_min_healthy_fraction(min_healthy);
    }
    if (announce_opt->count() > 0) {
      settings->set_announce_min_healthy(announce_min_healthy);
    }
    return absl::OkStatus();
  }

  bool any() const {
    return hash_opt->count() + ring_opt->count() + seed_opt->count() +
               echo_opt->count() + syn_limit_opt->count() +
               min_healthy_opt->count() + announce_opt->count() >
           0;
  }
};

void PrintGeneration(Context& ctx, const google::protobuf::Message& response,
                     const std::string& what, uint64_t generation) {
  if (ctx.json()) {
    PrintJson(ctx.out, response);
  } else {
    ctx.out << what << " (generation " << generation << ")\n";
  }
}

void AddVipAdd(CLI::App* vip, Context& ctx) {
  struct Args {
    std::string vip;
    std::vector<std::string> backends;
    uint64_t generation = 0;
    CLI::Option* generation_opt = nullptr;
    SettingsFlags settings;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = vip->add_subcommand("add", "Create a VIP");
  cmd->add_option("VIP", args->vip, "ADDRESS:PORT[/tcp|/udp]")->required();
  cmd->add_option("-b,--backend", args->backends,
                  "Add this backend (weight 1); repeat for more");
  args->settings.Register(cmd);
  args->generation_opt = AddGenerationOption(cmd, &args->generation);
  cmd->footer(
      R"(Creates the VIP with the settings given (the others at their defaults) and,
optionally, backends. Fails with exit code 1 if the VIP exists; use
`vip update` to change it. A health check is set with `health set`.

Examples:
  xlbctl vip add 192.0.2.10:80/tcp
  xlbctl vip add 192.0.2.10:443/tcp --hash no-source-port -b 198.51.100.1 -b 198.51.100.2
  xlbctl vip add [2001:db8::10]:53/udp --ring-size 1021
  xlbctl vip add 192.0.2.10:0/udp        # every UDP port of 192.0.2.10)");
  SetAction(cmd, ctx, [args](Context& ctx) -> absl::Status {
    absl::StatusOr<v1::VipKey> key = ParseVipKey(args->vip);
    if (!key.ok()) return key.status();
    v1::CreateVipRequest request;
    *request.mutable_vip()->mutable_key() = *key;
    absl::Status status =
        args->settings.ApplyTo(request.mutable_vip()->mutable_settings());
    if (!status.ok()) return status;
    for (const std::string& address : args->backends) {
      if (absl::Status s = CheckAddress("--backend", address); !s.ok()) {
        return s;
      }
      request.mutable_vip()->add_backends()->set_address(address);
    }
    if (args->generation_opt->count() > 0) {
      request.set_expected_generation(args->generation);
    }
    auto response = ctx.Call(&v1::LoadBalancer::Stub::CreateVip, request);
    if (!response.ok()) return response.status();
    PrintGeneration(ctx, *response,
                    absl::StrCat("created vip ", FormatVipKey(*key)),
                    response->generation());
    return absl::OkStatus();
  });
}

void AddVipUpdate(CLI::App* vip, Context& ctx) {
  struct Args {
    std::string vip;
    uint64_t generation = 0;
    CLI::Option* generation_opt = nullptr;
    SettingsFlags settings;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = vip->add_subcommand("update", "Change a VIP's settings");
  cmd->add_option("VIP", args->vip, "ADDRESS:PORT[/tcp|/udp]")->required();
  args->settings.Register(cmd);
  args->generation_opt = AddGenerationOption(cmd, &args->generation);
  cmd->footer(
      R"(Changes only the settings given; the others, the health check and the
backends stay. The VIP is read first and written back only if nobody changed
the configuration in between (or at --generation N, if given).

Examples:
  xlbctl vip update 192.0.2.10:80/tcp --ring-size 4093
  xlbctl vip update 192.0.2.10:80/tcp --no-echo-reply --min-healthy 0.5
  xlbctl vip update 192.0.2.10:80/tcp --syn-rate-limit 20000)");
  SetAction(cmd, ctx, [args](Context& ctx) -> absl::Status {
    absl::StatusOr<v1::VipKey> key = ParseVipKey(args->vip);
    if (!key.ok()) return key.status();
    if (!args->settings.any()) {
      return absl::InvalidArgumentError(
          "vip update: nothing to change; give at least one of --hash, "
          "--ring-size, --seed, --[no-]echo-reply, --syn-rate-limit, "
          "--min-healthy");
    }
    v1::GetVipRequest get;
    *get.mutable_key() = *key;
    auto current = ctx.Call(&v1::LoadBalancer::Stub::GetVip, get);
    if (!current.ok()) return current.status();
    v1::UpdateVipRequest request;
    *request.mutable_key() = *key;
    *request.mutable_settings() = current->vip().settings();
    absl::Status status = args->settings.ApplyTo(request.mutable_settings());
    if (!status.ok()) return status;
    request.set_expected_generation(args->generation_opt->count() > 0
                                        ? args->generation
                                        : current->generation());
    auto response = ctx.Call(&v1::LoadBalancer::Stub::UpdateVip, request);
    if (!response.ok()) return response.status();
    PrintGeneration(ctx, *response,
                    absl::StrCat("updated vip ", FormatVipKey(*key)),
                    response->generation());
    return absl::OkStatus();
  });
}

void AddVipDel(CLI::App* vip, Context& ctx) {
  struct Args {
    std::string vip;
    uint64_t generation = 0;
    CLI::Option* generation_opt = nullptr;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = vip->add_subcommand("del", "Delete a VIP and its backends");
  cmd->alias("delete");
  cmd->add_option("VIP", args->vip, "ADDRESS:PORT[/tcp|/udp]")->required();
  args->generation_opt = AddGenerationOption(cmd, &args->generation);
  cmd->footer(
      R"(Packets to the VIP are passed to the kernel from then on. Exit code 3 if
there is no such VIP.

Example:
  xlbctl vip del 192.0.2.10:80/tcp)");
  SetAction(cmd, ctx, [args](Context& ctx) -> absl::Status {
    absl::StatusOr<v1::VipKey> key = ParseVipKey(args->vip);
    if (!key.ok()) return key.status();
    v1::DeleteVipRequest request;
    *request.mutable_key() = *key;
    if (args->generation_opt->count() > 0) {
      request.set_expected_generation(args->generation);
    }
    auto response = ctx.Call(&v1::LoadBalancer::Stub::DeleteVip, request);
    if (!response.ok()) return response.status();
    PrintGeneration(ctx, *response,
                    absl::StrCat("deleted vip ", FormatVipKey(*key)),
                    response->generation());
    return absl::OkStatus();
  });
}

void AddVipList(CLI::App* vip, Context& ctx) {
  CLI::App* cmd = vip->add_subcommand("list", "List the VIPs");
  cmd->alias("ls");
  cmd->footer(
      R"(One line per VIP with its settings and backend count. -o json prints the
ListVipsResponse (every VIP's full configuration and the generation).

Examples:
  xlbctl vip list
  xlbctl vip list -o json)");
  SetAction(cmd, ctx, [](Context& ctx) -> absl::Status {
    auto response =
        ctx.Call(&v1::LoadBalancer::Stub::ListVips, v1::ListVipsRequest());
    if (!response.ok()) return response.status();
    if (ctx.json()) {
      PrintJson(ctx.out, *response);
      return absl::OkStatus();
    }
    PrintVipTable(ctx.out, response->vips());
    return absl::OkStatus();
  });
}

void AddVipShow(CLI::App* vip, Context& ctx) {
  auto vip_text = std::make_shared<std::string>();
  CLI::App* cmd =
      vip->add_subcommand("show", "Show one VIP's settings and backends");
  cmd->add_option("VIP", *vip_text, "ADDRESS:PORT[/tcp|/udp]")->required();
  cmd->footer(
      R"(Settings, health check and backends with their current state. -o json
prints the GetVipResponse (the VIP's configuration and the generation).
Exit code 3 if there is no such VIP.

Example:
  xlbctl vip show 192.0.2.10:80/tcp)");
  SetAction(cmd, ctx, [vip_text](Context& ctx) -> absl::Status {
    absl::StatusOr<v1::VipKey> key = ParseVipKey(*vip_text);
    if (!key.ok()) return key.status();
    v1::GetVipRequest request;
    *request.mutable_key() = *key;
    auto response = ctx.Call(&v1::LoadBalancer::Stub::GetVip, request);
    if (!response.ok()) return response.status();
    if (ctx.json()) {
      PrintJson(ctx.out, *response);
      return absl::OkStatus();
    }
    auto status =
        ctx.Call(&v1::LoadBalancer::Stub::GetStatus, v1::GetStatusRequest());
    const v1::VipStatus* vip_status =
        status.ok() ? FindVipStatus(*status, *key) : nullptr;
    PrintVipDetails(ctx.out, response->vip(), vip_status);
    ctx.out << "generation: " << response->generation() << "\n";
    return absl::OkStatus();
  });
}

}  // namespace

void AddVipCommands(CLI::App& app, Context& ctx) {
  CLI::App* vip =
      app.add_subcommand("vip", "Create, change, delete, list VIPs");
  vip->require_subcommand(1);
  AddVipAdd(vip, ctx);
  AddVipUpdate(vip, ctx);
  AddVipDel(vip, ctx);
  AddVipList(vip, ctx);
  AddVipShow(vip, ctx);
}

}  // namespace xlb::xlbctl
