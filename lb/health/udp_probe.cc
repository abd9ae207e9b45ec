#include "lb/health/udp_probe.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace xlb::health {
namespace {

ProbeProgress Failed(absl::string_view call, int error) {
  return ProbeProgress::Done(ErrnoFailure(call, error));
}

}  // namespace

ProbeProgress UdpProbe::Start() {
  bool in_progress = false;
  if (auto failure = OpenProbeSocket(*plan_, SOCK_DGRAM, &fd_, &in_progress)) {
    return ProbeProgress::Done(*std::move(failure));
  }
  const std::string& request = plan_->spec->udp_request;
  if (send(fd_.get(), request.data(), request.size(), MSG_NOSIGNAL) < 0) {
    return Failed("send", errno);
  }
  return ProbeProgress::Wait(EPOLLIN);
}

ProbeProgress UdpProbe::OnReady(uint32_t /*events*/) {
  char buf[2048];
  const ssize_t n = recv(fd_.get(), buf, sizeof(buf), MSG_TRUNC);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return ProbeProgress::Wait(EPOLLIN);
    }
    return Failed("recv", errno);
  }
  const std::string& expected = plan_->spec->udp_response;
  if (expected.empty()) return ProbeProgress::Done(ProbeResult::Success());
  const absl::string_view reply(buf, std::min<size_t>(n, sizeof(buf)));
  if (static_cast<size_t>(n) == expected.size() && reply == expected) {
    return ProbeProgress::Done(ProbeResult::Success());
  }
  return ProbeProgress::Done(
      ProbeResult::Failure(ProbeOutcome::kBadResponse,
                           absl::StrCat("unexpected UDP reply \"",
                                        absl::CHexEscape(reply.substr(0, 64)),
                                        "\" (", n, " bytes)")));
}

}  // namespace xlb::health
