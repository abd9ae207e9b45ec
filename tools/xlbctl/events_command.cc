// xlbctl events: follows the agent's event stream; after a lost connection
// it reconnects and resumes after the last sequence number it printed.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tools/xlbctl/arguments.h"
#include "tools/xlbctl/context.h"
#include "tools/xlbctl/views.h"

namespace xlb::xlbctl {
namespace {

struct EventsArgs {
  bool from_start = false;
  uint64_t after = 0;
  CLI::Option* after_opt = nullptr;
  uint32_t count = 0;
};

std::string EventTime(const google::protobuf::Timestamp& time) {
  absl::Time t =
      absl::FromUnixSeconds(time.seconds()) + absl::Nanoseconds(time.nanos());
  return absl::FormatTime("%Y-%m-%d %H:%M:%E3S", t, absl::LocalTimeZone());
}

void PrintEvent(std::ostream& out, const v1::Event& event) {
  switch (event.kind_case()) {
    case v1::Event::kConfigChanged: {
      const v1::ConfigChanged& c = event.config_changed();
      std::vector<std::string> vips;
      for (const auto& key : c.vips()) vips.push_back(FormatVipKey(key));
      out << event.sequence() << "  " << EventTime(event.time())
          << "  config  generation " << c.generation() << " by " << c.method()
          << (vips.empty() ? "" : absl::StrCat(": ", absl::StrJoin(vips, " ")))
          << "\n";
      break;
    }
    case v1::Event::kHealthChanged: {
      const v1::HealthChanged& h = event.health_changed();
      out << event.sequence() << "  " << EventTime(event.time())
          << "  health  vip " << FormatVipKey(h.vip()) << " backend "
          << h.backend() << " is " << HealthChangeSummary(h) << "\n";
      break;
    }
    case v1::Event::kVipAnnounced:
      out << event.sequence() << "  " << EventTime(event.time())
          << "  bgp     vip " << VipAnnouncedSummary(event.vip_announced())
          << "\n";
      break;
    case v1::Event::kEventsLost: {
      const v1::EventsLost& l = event.events_lost();
      if (l.first_available() > l.first_missing()) {
        out << "-  events " << l.first_missing() << ".."
            << l.first_available() - 1
            << " are no longer held by the agent (or came from an earlier "
               "run)";
      } else {  // resumed across an agent restart, nothing of this run lost
        out << "-  the events of the earlier agent run after the last one "
               "printed are lost";
      }
      out << ": re-read the state with `xlbctl status` and `config get`\n";
      break;
    }
    default:
      out << event.sequence() << "  " << EventTime(event.time())
          << "  (an event kind this xlbctl does not know)\n";
  }
}

absl::Status RunEvents(Context& ctx, const EventsArgs& args) {
  absl::StatusOr<Connection*> connection = ctx.Connect();
  if (!connection.ok()) return connection.status();
  Connection& conn = **connection;
  if (!conn.WaitForConnected(conn.timeout())) {
    return conn.Translate(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "no connection"));
  }
  bool have_position = false;
  uint64_t last_sequence = 0;
  google::protobuf::Timestamp last_start;
  if (args.after_opt->count() > 0) {
    have_position = true;
    last_sequence = args.after;
  } else if (args.from_start) {
    have_position = true;
    last_sequence = 0;
  }
  uint32_t printed = 0;
  absl::Duration backoff = absl::Milliseconds(200);
  while (true) {
    grpc::ClientContext context;
    v1::WatchEventsRequest request;
    if (have_position) {
      request.set_after_sequence(last_sequence);
      if (last_start.seconds() != 0 || last_start.nanos() != 0) {
        *request.mutable_agent_start_time() = last_start;
      }
    }
    auto reader = conn.stub().WatchEvents(&context, request);
    v1::Event event;
    while (reader->Read(&event)) {
      backoff = absl::Milliseconds(200);
      if (ctx.json()) {
        PrintJson(ctx.out, event, /*pretty=*/false);
      } else {
        PrintEvent(ctx.out, event);
      }
      ctx.out.flush();
      if (event.sequence() > 0) {
        have_position = true;
        last_sequence = event.sequence();
        last_start = event.agent_start_time();
      }
      if (args.count > 0 && ++printed >= args.count) {
        context.TryCancel();
        reader->Finish();
        return absl::OkStatus();
      }
    }
    grpc::Status status = reader->Finish();
    bool retry = status.ok() ||
                 status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                 status.error_code() == grpc::StatusCode::CANCELLED;
    if (!retry) return conn.Translate(status);
    ctx.err << "xlbctl: event stream from " << conn.target() << " ended"
            << (status.ok() ? ""
                            : absl::StrCat(" (", status.error_message(), ")"))
            << "; reconnecting"
            << (have_position
                    ? absl::StrCat(" to resume after event ", last_sequence)
                    : "")
            << "\n";
    do {
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(5));
    } while (!conn.WaitForConnected(backoff));
  }
}

}  // namespace

void AddEventsCommand(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<EventsArgs>();
  CLI::App* cmd = app.add_subcommand(
      "events", "Follow configuration changes and health transitions");
  CLI::Option* from_start =
      cmd->add_flag("--from-start", args->from_start,
                    "First replay every event the agent still holds");
  args->after_opt = cmd->add_option(
      "--after", args->after,
      "Resume: replay the held events after sequence number SEQ first");
  from_start->excludes(args->after_opt);
  cmd->add_option("-c,--count", args->count,
                  "Stop after N events (default 0: follow until interrupted)");
  cmd->footer(
      R"(Prints one line per event: its sequence number, time and what happened
(config: the generation and the call that made it, and the VIPs touched;
health: a backend's new verdict and, when it moved the VIP's ring, the new
ring digest to compare across agents). If the connection is lost, xlbctl says so
on stderr, reconnects with backoff and resumes after the last event it
printed; events the agent no longer holds (or from an earlier agent run) are
reported as lost, so nothing is missed silently. -o json prints each Event
as one line of JSON.

Examples:
  xlbctl events
  xlbctl events --from-start --count 10 -o json
  xlbctl events --after 1234)");
  SetAction(cmd, ctx, [args](Context& ctx) { return RunEvents(ctx, *args); });
}

}  // namespace xlb::xlbctl
