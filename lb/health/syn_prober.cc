// Longer than most files on purpose: the raw sockets, the SYN builder and
// the reply parser (SYN-ACK, RST, ICMP errors) share one wire format.
#include "lb/health/syn_prober.h"

#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <linux/filter.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "lb/base/checksum.h"

namespace xlb::health {
namespace {

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;
// MSS option advertised in the SYN, as a client's kernel would.
constexpr uint16_t kMss4 = 1460, kMss6 = 1440;
constexpr size_t kTcpHeaderLength = 20;
constexpr size_t kSynLength = 24;  // with the MSS option
// Replies read per recvmmsg, and bytes kept of each: an IPv4 header with
// options and a TCP header without. Segments sent per sendmmsg.
constexpr int kReplyBatch = 32;
constexpr size_t kSendBatch = 64;
constexpr size_t kReplyBytes = 96;

uint16_t Load16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t Load32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 |
         p[3];
}
void Store16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
void Store32(uint8_t* p, uint32_t v) {
  Store16(p, uint16_t(v >> 16));
  Store16(p + 2, uint16_t(v));
}

// Keeps only what can answer a SYN from `port`: segments to it with RST,
// or with SYN and ACK. IPv4 raw sockets see the IP header first, IPv6 ones
// start at the TCP header.
std::vector<sock_filter> ReplyFilter(int family, uint16_t port) {
  std::vector<sock_filter> f;
  uint32_t tcp_mode = BPF_ABS;
  if (family == AF_INET) {
    f.push_back(BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0));  // X = IP header
    tcp_mode = BPF_IND;
  }
  f.push_back(BPF_STMT(BPF_LD | BPF_H | tcp_mode, 2));  // destination port
  f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 5));
  f.push_back(BPF_STMT(BPF_LD | BPF_B | tcp_mode, 13));  // flags
  f.push_back(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, kRst, 2, 0));
  f.push_back(BPF_STMT(BPF_ALU | BPF_AND | BPF_K, kSyn | kAck));
  f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kSyn | kAck, 0, 1));
  f.push_back(BPF_STMT(BPF_RET | BPF_K, kReplyBytes));
  f.push_back(BPF_STMT(BPF_RET | BPF_K, 0));
  return f;
}

absl::Status Errno(absl::string_view call) {
  return absl::InternalError(absl::StrCat(call, ": ", strerror(errno)));
}

// The local address the kernel would send from to `to` with `mark`.
absl::StatusOr<in_addr> ResolveSource(const sockaddr_in& to, uint32_t mark) {
  UniqueFd udp(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!udp.valid()) return Errno("socket");
  if (mark != 0 &&
      setsockopt(udp.get(), SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0) {
    return Errno("setsockopt(SO_MARK)");
  }
  if (connect(udp.get(), reinterpret_cast<const sockaddr*>(&to), sizeof(to)) !=
      0) {
    return absl::UnavailableError(absl::StrCat("route: ", strerror(errno)));
  }
  sockaddr_in local{};
  socklen_t len = sizeof(local);
  if (getsockname(udp.get(), reinterpret_cast<sockaddr*>(&local), &len) != 0) {
    return Errno("getsockname");
  }
  return local.sin_addr;
}

}  // namespace

// One TCP probe; the prober sends its SYN and reports its verdict.
class SynProber::SynProbe : public Probe {
 public:
  enum class Stage { kIdle, kWaiting, kSent };

  SynProbe(SynProber* prober, std::shared_ptr<const ProbePlan> plan,
           uint64_t id, in_addr* source)
      : prober_(prober), plan_(std::move(plan)), id_(id), source_(source) {}
  ~SynProbe() override { prober_->Forget(*this); }

  uint64_t id() const { return id_; }
  const ProbePlan& plan() const { return *plan_; }
  in_addr* source() const { return source_; }

  ProbeProgress Start() override {
    if (auto failure = prober_->Start(*this)) {
      return ProbeProgress::Done(*std::move(failure));
    }
    return ProbeProgress::Wait(EPOLLIN);
  }
  // The verdict comes through SynProber::Drain, never through fd().
  ProbeProgress OnReady(uint32_t) override {
    return ProbeProgress::Done(
        ProbeResult::Failure(ProbeOutcome::kLocalError, "no own socket"));
  }
  int fd() const override { return -1; }

  // Kept by the prober.
  Stage stage = Stage::kIdle;
  Path path;
  Key key;  // kSent

 private:
  SynProber* const prober_;
  const std::shared_ptr<const ProbePlan> plan_;
  const uint64_t id_;
  in_addr* const source_;
};

absl::StatusOr<std::unique_ptr<SynProber>> SynProber::Create(int family) {
  UniqueFd raw(
      socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
  if (!raw.valid()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "TCP health checks send SYNs from a raw socket, which needs "
        "CAP_NET_RAW: socket(SOCK_RAW): ",
        strerror(errno)));
  }
  const int one = 1;
  if (family == AF_INET) {
    // DF, as TCP sets it (and it spares the kernel picking an IP ID).
    const int pmtu = IP_PMTUDISC_DO;
    if (setsockopt(raw.get(), SOL_IP, IP_RECVERR, &one, sizeof(one)) != 0 ||
        setsockopt(raw.get(), SOL_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu)) !=
            0) {
      return Errno("setsockopt(IP_RECVERR, IP_MTU_DISCOVER)");
    }
  } else {
    // The kernel fills in (and checks) the TCP checksum at this offset.
    const int offset = 16;
    if (setsockopt(raw.get(), SOL_IPV6, IPV6_CHECKSUM, &offset,
                   sizeof(offset)) != 0 ||
        setsockopt(raw.get(), SOL_IPV6, IPV6_RECVERR, &one, sizeof(one)) != 0) {
      return Errno("setsockopt(IPV6_CHECKSUM, IPV6_RECVERR)");
    }
  }

  // A TCP socket that listens on the port, so the kernel hands it to no one
  // else, behind a filter that drops every segment, so the kernel neither
  // accepts connections on it nor answers the SYN-ACKs (the prober does).
  UniqueFd reservation(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!reservation.valid()) return Errno("socket");
  ProbeAddress any{};
  socklen_t len;
  if (family == AF_INET) {
    any.v4.sin_family = AF_INET;
    len = sizeof(any.v4);
  } else {
    any.v6.sin6_family = AF_INET6;
    len = sizeof(any.v6);
    setsockopt(reservation.get(), SOL_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  sock_filter drop_all = BPF_STMT(BPF_RET | BPF_K, 0);
  sock_fprog drop_program{1, &drop_all};
  if (setsockopt(reservation.get(), SOL_SOCKET, SO_ATTACH_FILTER, &drop_program,
                 sizeof(drop_program)) != 0 ||
      bind(reservation.get(), &any.any, len) != 0 ||
      listen(reservation.get(), 1) != 0 ||
      getsockname(reservation.get(), &any.any, &len) != 0) {
    return Errno("reserving a source port");
  }
  const uint16_t port =
      ntohs(family == AF_INET ? any.v4.sin_port : any.v6.sin6_port);

  std::vector<sock_filter> filter = ReplyFilter(family, port);
  sock_fprog program{static_cast<unsigned short>(filter.size()), filter.data()};
  if (setsockopt(raw.get(), SOL_SOCKET, SO_ATTACH_FILTER, &program,
                 sizeof(program)) != 0) {
    return Errno("setsockopt(SO_ATTACH_FILTER)");
  }
  // Segments that arrived before the filter was attached.
  char discard[1];
  while (recv(raw.get(), discard, sizeof(discard), MSG_DONTWAIT) >= 0) {
  }
  return std::unique_ptr<SynProber>(
      new SynProber(family, std::move(raw), std::move(reservation), port));
}

SynProber::SynProber(int family, UniqueFd raw, UniqueFd reservation,
                     uint16_t port)
    : family_(family),
      raw_(std::move(raw)),
      reservation_(std::move(reservation)),
      port_(port),
      random_(std::random_device{}()) {}

std::unique_ptr<Probe> SynProber::NewProbe(
    std::shared_ptr<const ProbePlan> plan, uint64_t id, in_addr* source) {
  return std::make_unique<SynProbe>(this, std::move(plan), id, source);
}

std::optional<ProbeResult> SynProber::Start(SynProbe& probe) {
  const ProbePlan& plan = probe.plan();
  Path& path = probe.path;
  if (family_ == AF_INET) {
    in_addr* source = probe.source();
    if (source->s_addr == 0) {
      absl::StatusOr<in_addr> resolved =
          ResolveSource(plan.address.v4, plan.mark);
      if (!resolved.ok()) {
        return ProbeResult::Failure(absl::IsUnavailable(resolved.status())
                                        ? ProbeOutcome::kUnreachable
                                        : ProbeOutcome::kLocalError,
                                    std::string(resolved.status().message()));
      }
      *source = *resolved;
    }
    std::memcpy(path.address.data(), &plan.address.v4.sin_addr, 4);
    path.port = plan.address.v4.sin_port;
  } else {
    std::memcpy(path.address.data(), &plan.address.v6.sin6_addr, 16);
    path.port = plan.address.v6.sin6_port;
  }
  path.mark = plan.mark;
  auto [it, first] = busy_.try_emplace(path);
  if (first) {
    Launch(probe);
  } else {
    it->second.push_back(&probe);
    probe.stage = SynProbe::Stage::kWaiting;
  }
  return std::nullopt;
}

void SynProber::Launch(SynProbe& probe) {
  const ProbePlan& plan = probe.plan();
  Key& key = probe.key;
  key.address = probe.path.address;
  key.port = probe.path.port;
  do {
    key.seq = random_();
  } while (in_flight_.contains(key));
  in_flight_.emplace(key, &probe);
  probe.stage = SynProbe::Stage::kSent;
  queue_.push_back(MakeSegment(true, plan.address, plan.address_len,
                               *probe.source(), key.seq, plan.mark));
  queue_.back().key = key;
}

void SynProber::Release(const Path& path) {
  auto it = busy_.find(path);
  if (it == busy_.end()) return;
  if (it->second.empty()) {
    busy_.erase(it);
    return;
  }
  SynProbe* next = it->second.front();
  it->second.erase(it->second.begin());
  Launch(*next);
}

void SynProber::Forget(SynProbe& probe) {
  if (probe.stage == SynProbe::Stage::kSent) {
    in_flight_.erase(probe.key);
    Release(probe.path);
  } else if (probe.stage == SynProbe::Stage::kWaiting) {
    std::vector<SynProbe*>& waiting = busy_[probe.path];
    waiting.erase(std::find(waiting.begin(), waiting.end(), &probe));
  }
}

SynProber::Segment SynProber::MakeSegment(bool syn, const ProbeAddress& to,
                                          socklen_t to_len, in_addr source,
                                          uint32_t seq, uint32_t mark) const {
  Segment s;
  s.syn = syn;
  s.length = syn ? kSynLength : kTcpHeaderLength;
  uint8_t* tcp = s.bytes;
  std::memset(tcp, 0, sizeof(s.bytes));
  const bool v4 = family_ == AF_INET;
  Store16(tcp, port_);
  std::memcpy(tcp + 2, v4 ? &to.v4.sin_port : &to.v6.sin6_port, 2);
  Store32(tcp + 4, seq);
  tcp[12] = (s.length / 4) << 4;
  tcp[13] = syn ? kSyn : kRst;
  if (syn) {
    Store16(tcp + 14, 65535);  // window
    tcp[20] = TCPOPT_MAXSEG;
    tcp[21] = TCPOLEN_MAXSEG;
    Store16(tcp + 22, v4 ? kMss4 : kMss6);
  }

  s.to = to;
  s.to_len = to_len;
  std::memset(s.control, 0, sizeof(s.control));
  cmsghdr* cmsg = reinterpret_cast<cmsghdr*>(s.control);
  // Raw sockets take no port (IPv6 would read it as the protocol).
  if (v4) {
    s.to.v4.sin_port = 0;
    // The checksum covers the source address, so the segment must leave
    // from the address it was computed with.
    uint8_t pseudo[12] = {};
    std::memcpy(pseudo, &source, 4);
    std::memcpy(pseudo + 4, &to.v4.sin_addr, 4);
    pseudo[9] = IPPROTO_TCP;
    Store16(pseudo + 10, static_cast<uint16_t>(s.length));
    Store16(tcp + 16, ChecksumFinish(ChecksumAccumulate(
                          ChecksumAccumulate(0, pseudo), {tcp, s.length})));
    cmsg->cmsg_level = SOL_IP;
    cmsg->cmsg_type = IP_PKTINFO;
    cmsg->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo info{};
    info.ipi_spec_dst = source;
    std::memcpy(CMSG_DATA(cmsg), &info, sizeof(info));
    s.control_len += CMSG_SPACE(sizeof(in_pktinfo));
    cmsg = reinterpret_cast<cmsghdr*>(s.control + s.control_len);
  } else {
    s.to.v6.sin6_port = 0;
  }
  if (mark != 0) {
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SO_MARK;
    cmsg->cmsg_len = CMSG_LEN(sizeof(uint32_t));
    std::memcpy(CMSG_DATA(cmsg), &mark, sizeof(uint32_t));
    s.control_len += CMSG_SPACE(sizeof(uint32_t));
  }
  return s;
}

void SynProber::Send(Segment* segments, size_t count,
                     std::vector<std::pair<size_t, int>>* failed) {
  mmsghdr msgs[kSendBatch];
  iovec iovs[kSendBatch];
  size_t next = 0;
  while (next < count) {
    const size_t batch = std::min(count - next, kSendBatch);
    for (size_t i = 0; i < batch; ++i) {
      Segment& s = segments[next + i];
      iovs[i] = {s.bytes, s.length};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_name = &s.to;
      msgs[i].msg_hdr.msg_namelen = s.to_len;
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      if (s.control_len != 0) {
        msgs[i].msg_hdr.msg_control = s.control;
        msgs[i].msg_hdr.msg_controllen = s.control_len;
      }
    }
    const int sent =
        sendmmsg(raw_.get(), msgs, static_cast<unsigned>(batch), MSG_DONTWAIT);
    if (sent > 0) {
      next += sent;
    } else {  // the first segment failed; those after it may not
      failed->emplace_back(next, errno);
      ++next;
    }
  }
}

void SynProber::Flush(absl::FunctionRef<void(uint64_t, ProbeResult)> done) {
  // A failed SYN ends its probe's turn, which may queue the next one's.
  while (!queue_.empty()) {
    // Probes destroyed since they queued their SYN send nothing.
    std::erase_if(queue_, [this](const Segment& s) {
      return s.syn && !in_flight_.contains(s.key);
    });
    std::vector<std::pair<size_t, int>> failed;
    Send(queue_.data(), queue_.size(), &failed);
    std::vector<std::pair<Key, int>> failed_syns;
    for (const auto& [index, error] : failed) {
      if (queue_[index].syn) failed_syns.emplace_back(queue_[index].key, error);
    }
    queue_.clear();
    // `done` may destroy other probes, so each is looked up afresh.
    for (auto& [key, error] : failed_syns) {
      auto it = in_flight_.find(key);
      if (it == in_flight_.end()) continue;
      SynProbe* probe = it->second;
      if (family_ == AF_INET && (error == EINVAL || error == EADDRNOTAVAIL)) {
        // The cached source address is no longer ours: resolve it again.
        const ProbePlan& plan = probe->plan();
        absl::StatusOr<in_addr> resolved =
            ResolveSource(plan.address.v4, plan.mark);
        if (resolved.ok()) {
          *probe->source() = *resolved;
          Segment retry = MakeSegment(true, plan.address, plan.address_len,
                                      *resolved, key.seq, plan.mark);
          std::vector<std::pair<size_t, int>> retry_failed;
          Send(&retry, 1, &retry_failed);
          if (retry_failed.empty()) continue;
          error = retry_failed[0].second;
        } else {
          probe->source()->s_addr = 0;
        }
      }
      Take(key);
      done(probe->id(), ErrnoFailure("send SYN", error));
    }
  }
}

SynProber::SynProbe* SynProber::Take(const Key& key) {
  auto it = in_flight_.find(key);
  if (it == in_flight_.end()) return nullptr;
  SynProbe* probe = it->second;
  in_flight_.erase(it);
  probe->stage = SynProbe::Stage::kIdle;
  Release(probe->path);
  return probe;
}

void SynProber::Drain(uint32_t events,
                      absl::FunctionRef<void(uint64_t, ProbeResult)> done) {
  if (events & EPOLLERR) DrainErrors(done);
  if (events & EPOLLIN) DrainReplies(done);
}

void SynProber::DrainReplies(
    absl::FunctionRef<void(uint64_t, ProbeResult)> done) {
  uint8_t buffers[kReplyBatch][kReplyBytes];
  sockaddr_in6 names[kReplyBatch];
  iovec iovs[kReplyBatch];
  mmsghdr msgs[kReplyBatch];
  for (;;) {
    for (int i = 0; i < kReplyBatch; ++i) {
      iovs[i] = {buffers[i], kReplyBytes};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &names[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(names[i]);
    }
    const int n =
        recvmmsg(raw_.get(), msgs, kReplyBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return;
    for (int i = 0; i < n; ++i) {
      const uint8_t* p = buffers[i];
      size_t len = std::min<size_t>(msgs[i].msg_len, kReplyBytes);
      Key key;
      in_addr local{};  // IPv4: where the SYN left from
      if (family_ == AF_INET) {
        const size_t ihl = size_t(p[0] & 0x0f) * 4;
        if (len < sizeof(iphdr) || ihl < sizeof(iphdr) || len < ihl + 20) {
          continue;
        }
        std::memcpy(key.address.data(), p + 12, 4);  // the IP source
        std::memcpy(&local, p + 16, 4);
        p += ihl;
        len -= ihl;
      } else {
        if (len < 20) continue;
        std::memcpy(key.address.data(), &names[i].sin6_addr, 16);
      }
      const uint8_t flags = p[13];
      if (Load16(p + 2) != port_ || (flags & kAck) == 0) continue;
      std::memcpy(&key.port, p, 2);
      key.seq = Load32(p + 8) - 1;  // acknowledges our SYN: seq + 1
      if ((flags & kRst) == 0 && (flags & (kSyn | kFin)) != kSyn) continue;
      if (flags & kRst) {
        if (SynProbe* probe = Take(key)) {
          done(probe->id(), ProbeResult::Failure(ProbeOutcome::kRefused,
                                                 "connection refused (RST)"));
        }
        continue;
      }
      // Reset the backend's half-open connection, even for a late or
      // duplicate SYN-ACK, and before the probe's turn passes on: the next
      // SYN on the path must not meet it. A probe's RST takes its SYN's
      // path (the mark picks a tunnelled probe's backend); a stray one goes
      // unmarked.
      auto it = in_flight_.find(key);
      const uint32_t mark =
          it != in_flight_.end() ? it->second->plan().mark : 0;
      ProbeAddress from{};
      socklen_t from_len;
      if (family_ == AF_INET) {
        from.v4.sin_family = AF_INET;
        std::memcpy(&from.v4.sin_addr, key.address.data(), 4);
        from.v4.sin_port = key.port;
        from_len = sizeof(from.v4);
      } else {
        from.v6 = names[i];
        from.v6.sin6_port = key.port;
        from_len = sizeof(from.v6);
      }
      queue_.push_back(
          MakeSegment(false, from, from_len, local, key.seq + 1, mark));
      if (SynProbe* probe = Take(key)) {
        done(probe->id(), ProbeResult::Success());
      }
    }
    if (n < kReplyBatch) return;
  }
}

void SynProber::DrainErrors(
    absl::FunctionRef<void(uint64_t, ProbeResult)> done) {
  for (;;) {
    uint8_t quoted[64];  // the start of our SYN, as the ICMP error quotes it
    sockaddr_in6 name{};
    alignas(cmsghdr) char control[512];
    iovec iov{quoted, sizeof(quoted)};
    msghdr msg{};
    msg.msg_name = &name;
    msg.msg_namelen = sizeof(name);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = recvmsg(raw_.get(), &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (n < 0) return;
    const sock_extended_err* error = nullptr;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
         c = CMSG_NXTHDR(&msg, c)) {
      if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
          (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
        error = reinterpret_cast<const sock_extended_err*>(CMSG_DATA(c));
      }
    }
    if (error == nullptr || n < 8 || Load16(quoted) != port_) continue;
    Key key;
    if (family_ == AF_INET) {
      std::memcpy(key.address.data(),
                  &reinterpret_cast<sockaddr_in*>(&name)->sin_addr, 4);
    } else {
      std::memcpy(key.address.data(), &name.sin6_addr, 16);
    }
    std::memcpy(&key.port, quoted + 2, 2);
    key.seq = Load32(quoted + 4);
    SynProbe* probe = Take(key);
    if (probe == nullptr) continue;
    std::string detail = strerror(error->ee_errno);
    const sockaddr* offender = SO_EE_OFFENDER(error);
    char from[INET6_ADDRSTRLEN] = {};
    if (offender->sa_family == AF_INET) {
      inet_ntop(AF_INET,
                &reinterpret_cast<const sockaddr_in*>(offender)->sin_addr, from,
                sizeof(from));
    } else if (offender->sa_family == AF_INET6) {
      inet_ntop(AF_INET6,
                &reinterpret_cast<const sockaddr_in6*>(offender)->sin6_addr,
                from, sizeof(from));
    }
    if (from[0] != '\0') absl::StrAppend(&detail, " (ICMP from ", from, ")");
    done(probe->id(), ProbeResult::Failure(
                          OutcomeFromErrno(static_cast<int>(error->ee_errno)),
                          std::move(detail)));
  }
}

}  // namespace xlb::health
