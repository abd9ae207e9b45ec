// xlbctl health set|override|show
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/xlbctl/arguments.h"
#include "tools/xlbctl/context.h"
#include "tools/xlbctl/views.h"

namespace xlb::xlbctl {
namespace {

struct HealthSetArgs {
  std::string vip;
  bool none = false;
  std::string type;
  uint32_t port = 0;
  std::string interval, timeout, jitter;
  uint32_t rise = 0, fall = 0;
  std::string http_path, http_host, http_body;
  std::vector<uint32_t> http_codes;
  std::string udp_request, udp_response;
  std::string grpc_service;
  bool https_verify = false;
  uint64_t generation = 0;
  CLI::Option* generation_opt = nullptr;
};

absl::StatusOr<v1::HealthCheck> BuildHealthCheck(const HealthSetArgs& args) {
  v1::HealthCheck hc;
  absl::StatusOr<v1::HealthCheckType> type = ParseHealthCheckType(args.type);
  if (!type.ok()) return type.status();
  hc.set_type(*type);
  hc.set_port(args.port);
  struct {
    const char* flag;
    const std::string& text;
    google::protobuf::Duration* field;
  } durations[] = {
      {"--interval", args.interval, hc.mutable_interval()},
      {"--timeout", args.timeout, hc.mutable_timeout()},
      {"--jitter", args.jitter, hc.mutable_jitter()},
  };
  for (const auto& d : durations) {
    if (d.text.empty()) continue;
    absl::StatusOr<google::protobuf::Duration> parsed =
        ParseDuration(d.flag, d.text);
    if (!parsed.ok()) return parsed.status();
    *d.field = *parsed;
  }
  if (args.interval.empty()) hc.clear_interval();
  if (args.timeout.empty()) hc.clear_timeout();
  if (args.jitter.empty()) hc.clear_jitter();
  hc.set_rise(args.rise);
  hc.set_fall(args.fall);
  hc.set_http_path(args.http_path);
  hc.set_http_host(args.http_host);
  hc.set_http_body_substring(args.http_body);
  for (uint32_t code : args.http_codes) hc.add_http_expected_codes(code);
  std::string unescaped;
  std::string error;
  if (!absl::CUnescape(args.udp_request, &unescaped, &error)) {
    return absl::InvalidArgumentError(absl::StrCat("--udp-request: ", error));
  }
  hc.set_udp_request(unescaped);
  if (!absl::CUnescape(args.udp_response, &unescaped, &error)) {
    return absl::InvalidArgumentError(absl::StrCat("--udp-response: ", error));
  }
  hc.set_udp_response(unescaped);
  hc.set_grpc_service(args.grpc_service);
  hc.set_https_verify(args.https_verify);
  return hc;
}

void AddHealthSet(CLI::App* health, Context& ctx) {
  auto args = std::make_shared<HealthSetArgs>();
  CLI::App* cmd =
      health->add_subcommand("set", "Set or remove a VIP's health check");
  cmd->add_option("VIP", args->vip, "ADDRESS:PORT[/tcp|/udp]")->required();
  CLI::Option* none =
      cmd->add_flag("--none", args->none,
                    "Remove the health check: every backend counts as healthy");
  CLI::Option* type =
      cmd->add_option("-t,--type", args->type,
                      "Probe: tcp (connect), http, https (GET, expected "
                      "status), udp (request/response), grpc "
                      "(grpc.health.v1)")
          ->check(CLI::IsMember(HealthCheckTypeNames()));
  none->excludes(type);
  cmd->add_option("-p,--port", args->port,
                  "Port probed on the backend (default: the VIP's port)");
  cmd->add_option("--interval", args->interval,
                  "Time between probes of one backend, 100ms..1h "
                  "(default 5s)");
  cmd->add_option("--timeout", args->timeout,
                  "Time a probe may take, at most --interval (default 2s)");
  cmd->add_option("--rise", args->rise,
                  "Successes in a row that mark a backend up (default 2)");
  cmd->add_option("--fall", args->fall,
                  "Failures in a row that mark a backend down (default 3)");
  cmd->add_option("--jitter", args->jitter,
                  "Delay each probe by a random time below this "
                  "(default none)");
  cmd->add_option("--http-path", args->http_path,
                  "http/https: request path (default /)");
  cmd->add_option("--http-host", args->http_host,
                  "http/https: Host header (default: the address probed: the "
                  "VIP, or the backend in direct probe mode)");
  cmd->add_option("--http-codes", args->http_codes,
                  "http/https: healthy status codes (default 200)")
      ->delimiter(',');
  cmd->add_option("--http-body", args->http_body,
                  "http/https: the body must contain this text");
  cmd->add_option("--udp-request", args->udp_request,
                  "udp: datagram sent (C escapes such as \\x00 allowed); "
                  "required for udp");
  cmd->add_option("--udp-response", args->udp_response,
                  "udp: reply expected (default: any reply)");
  cmd->add_option("--grpc-service", args->grpc_service,
                  "grpc: service name checked (default: the whole server)");
  cmd->add_flag("--https-verify", args->https_verify,
                "https: verify the backend's certificate chain and name "
                "(default: not verified, as self-signed certificates are "
                "common)");
  args->generation_opt = AddGenerationOption(cmd, &args->generation);
  cmd->footer(
      R"(Replaces the VIP's whole health check with the one described (options not
given take their defaults); its other settings and backends stay. Probes
travel the same encapsulated path as client traffic. Exactly one of --type
and --none.

Examples:
  xlbctl health set 192.0.2.10:80/tcp --type tcp
  xlbctl health set 192.0.2.10:80/tcp --type http --http-path /healthz \
      --http-codes 200,204 --interval 2s --timeout 1s --rise 2 --fall 2
  xlbctl health set 192.0.2.10:443/tcp --type https --https-verify
  xlbctl health set 192.0.2.10:53/udp --type udp --udp-request 'ping'
  xlbctl health set 192.0.2.10:80/tcp --none)");
  SetAction(cmd, ctx, [args](Context& ctx) -> absl::Status {
    absl::StatusOr<v1::VipKey> key = ParseVipKey(args->vip);
    if (!key.ok()) return key.status();
    if (args->type.empty() && !args->none) {
      return absl::InvalidArgumentError(
          "health set: give --type TYPE, or --none to remove the check");
    }
    v1::GetVipRequest get;
    *get.mutable_key() = *key;
    auto current = ctx.Call(&v1::LoadBalancer::Stub::GetVip, get);
    if (!current.ok()) return current.status();
    v1::UpdateVipRequest request;
    *request.mutable_key() = *key;
    *request.mutable_settings() = current->vip().settings();
    if (args->none) {
      request.mutable_settings()->clear_health_check();
    } else {
      absl::StatusOr<v1::HealthCheck> hc = BuildHealthCheck(*args);
      if (!hc.ok()) return hc.status();
      *request.mutable_settings()->mutable_health_check() = *hc;
    }
    request.set_expected_generation(args->generation_opt->count() > 0
                                        ? args->generation
                                        : current->generation());
    auto response = ctx.Call(&v1::LoadBalancer::Stub::UpdateVip, request);
    if (!response.ok()) return response.status();
    if (ctx.json()) {
      PrintJson(ctx.out, *response);
    } else {
      ctx.out << "health check of vip " << FormatVipKey(*key) << ": "
              << HealthCheckSummary(request.settings()) << " (generation "
              << response->generation() << ")\n";
    }
    return absl::OkStatus();
  });
}

struct HealthOverrideArgs {
  std::string vip;
  std::string address;
  bool clear = false;
  uint32_t port = 0, rise = 0, fall = 0;
  std::string interval, timeout, jitter;
  CLI::Option *port_opt = nullptr, *rise_opt = nullptr, *fall_opt = nullptr;
  uint64_t generation = 0;
  CLI::Option* generation_opt = nullptr;
};

absl::StatusOr<v1::HealthOverride> BuildHealthOverride(
    const HealthOverrideArgs& args) {
  v1::HealthOverride o;
  if (args.port_opt->count() > 0) o.set_port(args.port);
  if (args.rise_opt->count() > 0) o.set_rise(args.rise);
  if (args.fall_opt->count() > 0) o.set_fall(args.fall);
  struct {
    const char* flag;
    const std::string& text;
    google::protobuf::Duration* (v1::HealthOverride::*field)();
  } durations[] = {
      {"--interval", args.interval, &v1::HealthOverride::mutable_interval},
      {"--timeout", args.timeout, &v1::HealthOverride::mutable_timeout},
      {"--jitter", args.jitter, &v1::HealthOverride::mutable_jitter},
  };
  for (const auto& d : durations) {
    if (d.text.empty()) continue;
    absl::StatusOr<google::protobuf::Duration> parsed =
        ParseDuration(d.flag, d.text);
    if (!parsed.ok()) return parsed.status();
    *(o.*d.field)() = *parsed;
  }
  return o;
}

void AddHealthOverride(CLI::App* health, Context& ctx) {
  auto args = std::make_shared<HealthOverrideArgs>();
  CLI::App* cmd = health->add_subcommand(
      "override", "Set or clear one backend's health-check parameters");
  cmd->add_option("VIP", args->vip, "ADDRESS:PORT[/tcp|/udp]")->required();
  cmd->add_option("ADDRESS", args->address, "The backend's address")
      ->required();
  CLI::Option* clear = cmd->add_flag(
      "--clear", args->clear, "Remove the override: the VIP's check applies");
  args->port_opt = cmd->add_option("-p,--port", args->port,
                                   "Port probed on this backend, 1..65535");
  CLI::Option* interval = cmd->add_option("--interval", args->interval,
                                          "Time between probes, 100ms..1h");
  CLI::Option* timeout =
      cmd->add_option("--timeout", args->timeout,
                      "Time a probe may take, at most the interval in force");
  args->rise_opt = cmd->add_option("--rise", args->rise,
                                   "Successes in a row that mark it up");
  args->fall_opt = cmd->add_option("--fall", args->fall,
                                   "Failures in a row that mark it down");
  CLI::Option* jitter = cmd->add_option(
      "--jitter", args->jitter, "Delay each probe by a random time below this");
  for (CLI::Option* o : {args->port_opt, interval, timeout, args->rise_opt,
                         args->fall_opt, jitter}) {
    clear->excludes(o);
  }
  args->generation_opt = AddGenerationOption(cmd, &args->generation);
  cmd->footer(
      R"(Replaces the backend's whole override with the options given: each one
given replaces the VIP's health-check value for this backend, the others
inherit it. The values in force must fit together (timeout at most the
interval, jitter below it); the agent checks them against the VIP's check.
Exactly one of --clear and at least one parameter. `health show` lists the
overrides.

Examples:
  xlbctl health override 192.0.2.10:80/tcp 198.51.100.7 --port 8080
  xlbctl health override 192.0.2.10:80/tcp 198.51.100.7 --interval 1s \
      --timeout 500ms --fall 5
  xlbctl health override 192.0.2.10:80/tcp 198.51.100.7 --clear)");
  SetAction(cmd, ctx, [args](Context& ctx) -> absl::Status {
    absl::StatusOr<v1::VipKey> key = ParseVipKey(args->vip);
    if (!key.ok()) return key.status();
    absl::StatusOr<v1::HealthOverride> o = BuildHealthOverride(*args);
    if (!o.ok()) return o.status();
    if (!args->clear && o->ByteSizeLong() == 0) {
      return absl::InvalidArgumentError(
          "health override: give at least one of --port, --interval, "
          "--timeout, --rise, --fall, --jitter, or --clear");
    }
    v1::GetVipRequest get;
    *get.mutable_key() = *key;
    auto current = ctx.Call(&v1::LoadBalancer::Stub::GetVip, get);
    if (!current.ok()) return current.status();
    v1::SetVipRequest request;
    *request.mutable_vip() = current->vip();
    v1::Backend* backend = nullptr;
    for (v1::Backend& b : *request.mutable_vip()->mutable_backends()) {
      if (b.address() == args->address) backend = &b;
    }
    if (backend == nullptr) {
      return absl::NotFoundError(absl::StrCat("backend ", args->address,
                                              " is not a backend of vip ",
                                              FormatVipKey(*key)));
    }
    if (args->clear) {
      backend->clear_health_override();
    } else {
      *backend->mutable_health_override() = *o;
    }
    request.set_expected_generation(args->generation_opt->count() > 0
                                        ? args->generation
                                        : current->generation());
    auto response = ctx.Call(&v1::LoadBalancer::Stub::SetVip, request);
    if (!response.ok()) return response.status();
    if (ctx.json()) {
      PrintJson(ctx.out, *response);
    } else {
      ctx.out << "health override of backend " << args->address << " in vip "
              << FormatVipKey(*key) << ": "
              << (args->clear ? "none" : HealthOverrideSummary(*o))
              << " (generation " << response->generation() << ")\n";
    }
    return absl::OkStatus();
  });
}

void AddHealthShow(CLI::App* health, Context& ctx) {
  auto vip_text = std::make_shared<std::string>();
  CLI::App* cmd = health->add_subcommand(
      "show", "Show health checks and each backend's health");
  cmd->add_option("VIP", *vip_text, "Only this VIP (default: every VIP)");
  cmd->footer(
      R"(Per VIP: the health check, whether the VIP has a ring or has failed open,
and per backend the health check's verdict and the state it gives the
backend. -o json prints the VipStatus of the VIP named, or {"vips":
[VipStatus, ...]} for every VIP (the check itself: `vip show -o json`).

Examples:
  xlbctl health show
  xlbctl health show 192.0.2.10:80/tcp)");
  SetAction(cmd, ctx, [vip_text](Context& ctx) -> absl::Status {
    absl::StatusOr<std::optional<v1::VipKey>> parsed =
        ParseOptionalVipKey(*vip_text);
    if (!parsed.ok()) return parsed.status();
    const std::optional<v1::VipKey>& only = *parsed;
    auto vips =
        ctx.Call(&v1::LoadBalancer::Stub::ListVips, v1::ListVipsRequest());
    if (!vips.ok()) return vips.status();
    auto status =
        ctx.Call(&v1::LoadBalancer::Stub::GetStatus, v1::GetStatusRequest());
    if (!status.ok()) return status.status();
    std::vector<std::string> json_items;
    int shown = 0;
    for (const auto& vip : vips->vips()) {
      if (only.has_value() && FormatVipKey(vip.key()) != FormatVipKey(*only)) {
        continue;
      }
      const v1::VipStatus* vip_status = FindVipStatus(*status, vip.key());
      if (ctx.json()) {
        v1::VipStatus empty;
        *empty.mutable_key() = vip.key();
        auto status_json = ToJson(vip_status ? *vip_status : empty,
                                  /*pretty=*/only.has_value());
        if (!status_json.ok()) return status_json.status();
        json_items.push_back(*status_json);
        ++shown;
        continue;
      }
      if (shown++ > 0) ctx.out << "\n";
      ctx.out << "vip " << FormatVipKey(vip.key()) << "\n"
              << "  health check: " << HealthCheckSummary(vip.settings())
              << "\n";
      if (vip_status != nullptr) {
        ctx.out << "  has ring: " << YesNo(vip_status->has_ring())
                << "  fail open: " << YesNo(vip_status->fail_open())
                << "  lost every backend: " << vip_status->no_backend_events()
                << " times\n";
        PrintBackendHealthTable(ctx.out, *vip_status, "  ");
      }
      std::ostringstream overrides;
      PrintHealthOverrides(overrides, vip, "    ");
      if (!overrides.str().empty()) {
        ctx.out << "  health overrides:\n" << overrides.str();
      }
    }
    if (only.has_value() && shown == 0) {
      return absl::NotFoundError(
          absl::StrCat("vip ", FormatVipKey(*only), " not found"));
    }
    if (ctx.json() && only.has_value()) {
      ctx.out << json_items.front() << "\n";
    } else if (ctx.json()) {
      ctx.out << "{\"vips\": [" << absl::StrJoin(json_items, ", ") << "]}\n";
    } else if (shown == 0) {
      ctx.out << "no VIPs configured\n";
    }
    return absl::OkStatus();
  });
}

}  // namespace

void AddHealthCommands(CLI::App& app, Context& ctx) {
  CLI::App* health =
      app.add_subcommand("health", "Set health checks, show backend health");
  health->require_subcommand(1);
  AddHealthSet(health, ctx);
  AddHealthOverride(health, ctx);
  AddHealthShow(health, ctx);
}

}  // namespace xlb::xlbctl
