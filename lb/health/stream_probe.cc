#include "lb/health/stream_probe.h"

#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace xlb::health {
namespace {}  // namespace

StreamProbe::StreamProbe(std::shared_ptr<const ProbePlan> plan,
                         std::unique_ptr<StreamSession> session, bool use_tls)
    : plan_(std::move(plan)), session_(std::move(session)), use_tls_(use_tls) {}

ProbeProgress StreamProbe::Start() {
  bool in_progress = false;
  if (auto failure = OpenProbeSocket(*plan_, SOCK_STREAM, &fd_, &in_progress)) {
    return ProbeProgress::Done(*std::move(failure));
  }
  if (in_progress) return ProbeProgress::Wait(EPOLLOUT);
  return Connected();
}

ProbeProgress StreamProbe::OnReady(uint32_t events) {
  switch (phase_) {
    case Phase::kConnecting: {
      // Writable without an error condition: connected, no syscall needed.
      if ((events & (EPOLLERR | EPOLLHUP)) != 0) {
        int error = 0;
        socklen_t len = sizeof(error);
        if (getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &error, &len) != 0) {
          error = errno;
        }
        if (error == 0) error = ECONNRESET;
        return ProbeProgress::Done(ErrnoFailure("connect", error));
      }
      if ((events & EPOLLOUT) == 0) return ProbeProgress::Wait(EPOLLOUT);
      return Connected();
    }
    case Phase::kHandshaking:
      return Handshake();
    case Phase::kExchanging:
      return Exchange();
  }
  return ProbeProgress::Done(
      ProbeResult::Failure(ProbeOutcome::kLocalError, "bad probe phase"));
}

ProbeProgress StreamProbe::Connected() {
  if (use_tls_) {
    absl::StatusOr<SslPtr> ssl =
        plan_->tls->NewSession(fd_.get(), plan_->tls_name, plan_->verify_tls);
    if (!ssl.ok()) {
      return ProbeProgress::Done(ProbeResult::Failure(
          ProbeOutcome::kLocalError, std::string(ssl.status().message())));
    }
    ssl_ = *std::move(ssl);
    phase_ = Phase::kHandshaking;
    return Handshake();
  }
  phase_ = Phase::kExchanging;
  out_ = plan_->request;
  return Exchange();
}

ProbeProgress StreamProbe::Handshake() {
  ERR_clear_error();
  const int ret = SSL_do_handshake(ssl_.get());
  if (ret != 1) {
    Io io = SslIo(ret);
    if (io.error) return ProbeProgress::Done(*std::move(io.error));
    if (io.wait != 0) return ProbeProgress::Wait(io.wait);
    return ProbeProgress::Done(ProbeResult::Failure(
        ProbeOutcome::kTlsError, "connection closed during the TLS handshake"));
  }
  phase_ = Phase::kExchanging;
  out_ = plan_->request;
  return Exchange();
}

ProbeProgress StreamProbe::Exchange() {
  char buf[16384];
  for (;;) {
    while (out_sent_ < out_.size()) {
      Io io = Send(out_.data() + out_sent_, out_.size() - out_sent_);
      if (io.error) return ProbeProgress::Done(*std::move(io.error));
      if (io.wait != 0) return ProbeProgress::Wait(io.wait);
      out_sent_ += io.bytes;
    }
    out_.clear();
    out_sent_ = 0;
    Io io = Receive(buf, sizeof(buf));
    if (io.error) return ProbeProgress::Done(*std::move(io.error));
    if (io.wait != 0) return ProbeProgress::Wait(io.wait);
    if (io.bytes == 0) return ProbeProgress::Done(session_->OnPeerClosed());
    std::optional<ProbeResult> verdict = session_->OnReceive(
        absl::string_view(buf, static_cast<size_t>(io.bytes)), &out_);
    if (verdict) return ProbeProgress::Done(*std::move(verdict));
  }
}

StreamProbe::Io StreamProbe::Send(const char* data, size_t size) {
  if (ssl_ != nullptr) {
    ERR_clear_error();
    const int ret = SSL_write(ssl_.get(), data, static_cast<int>(size));
    return ret > 0 ? Io{ret} : SslIo(ret);
  }
  const ssize_t n = send(fd_.get(), data, size, MSG_NOSIGNAL);
  if (n >= 0) return Io{n};
  if (errno == EAGAIN || errno == EWOULDBLOCK) return Io{0, EPOLLOUT};
  return Io{0, 0, ErrnoFailure("send", errno)};
}

StreamProbe::Io StreamProbe::Receive(char* data, size_t size) {
  if (ssl_ != nullptr) {
    ERR_clear_error();
    const int ret = SSL_read(ssl_.get(), data, static_cast<int>(size));
    return ret > 0 ? Io{ret} : SslIo(ret);
  }
  const ssize_t n = recv(fd_.get(), data, size, 0);
  if (n >= 0) return Io{n};
  if (errno == EAGAIN || errno == EWOULDBLOCK) return Io{0, EPOLLIN};
  return Io{0, 0, ErrnoFailure("recv", errno)};
}

StreamProbe::Io StreamProbe::SslIo(int ret) {
  const int saved_errno = errno;
  switch (SSL_get_error(ssl_.get(), ret)) {
    case SSL_ERROR_WANT_READ:
      return Io{0, EPOLLIN};
    case SSL_ERROR_WANT_WRITE:
      return Io{0, EPOLLOUT};
    case SSL_ERROR_ZERO_RETURN:
      return Io{0};
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0) {
        if (saved_errno == 0) return Io{0};  // end of stream
        return Io{0, 0, ErrnoFailure("tls", saved_errno)};
      }
      [[fallthrough]];
    default:
      return Io{0, 0,
                ProbeResult::Failure(ProbeOutcome::kTlsError,
                                     TlsErrorDetail(ssl_.get()))};
  }
}

}  // namespace xlb::health
