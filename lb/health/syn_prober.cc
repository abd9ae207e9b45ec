#include "lb/health/syn_prober.h"

#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <linux/filter.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace xlb::health {
namespace {

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;
// MSS option advertised in the SYN, as a client's kernel would.
constexpr uint16_t kMss4 = 1460, kMss6 = 1440;
constexpr size_t kTcpHeaderLength = 20;
constexpr size_t kSynLength = 24;  // with the MSS option
// Replies read per recvmmsg, and bytes kept of each: an IPv4 header with
// options and a TCP header without.
constexpr int kReplyBatch = 32;
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

// Ones' complement sum of 16-bit big-endian words.
uint32_t SumWords(const uint8_t* p, size_t n, uint32_t sum) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += Load16(p + i);
  if (n % 2) sum += uint32_t(p[n - 1]) << 8;
  return sum;
}
uint16_t Fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
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

// One SYN in flight; the prober reports its verdict.
class SynProber::SynProbe : public Probe {
 public:
  SynProbe(SynProber* prober, std::shared_ptr<const ProbePlan> plan,
           uint64_t id, in_addr* source)
      : prober_(prober), plan_(std::move(plan)), id_(id), source_(source) {}
  ~SynProbe() override {
    if (sent_) prober_->Forget(key_);
  }

  uint64_t id() const { return id_; }
  const ProbePlan& plan() const { return *plan_; }
  in_addr* source() const { return source_; }

  ProbeProgress Start() override {
    if (auto failure = prober_->Send(*this, &key_)) {
      return ProbeProgress::Done(*std::move(failure));
    }
    sent_ = true;
    return ProbeProgress::Wait(EPOLLIN);
  }
  // The verdict comes through SynProber::Drain, never through fd().
  ProbeProgress OnReady(uint32_t) override {
    return ProbeProgress::Done(
        ProbeResult::Failure(ProbeOutcome::kLocalError, "no own socket"));
  }
  int fd() const override { return -1; }

 private:
  SynProber* const prober_;
  const std::shared_ptr<const ProbePlan> plan_;
  const uint64_t id_;
  in_addr* const source_;
  Key key_;
  bool sent_ = false;
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

  // A bound TCP socket that never listens or connects: the kernel hands
  // its port to no one else and answers segments to it with RST.
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
  if (bind(reservation.get(), &any.any, len) != 0 ||
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

std::optional<ProbeResult> SynProber::Send(SynProbe& probe, Key* key) {
  const ProbePlan& plan = probe.plan();
  in_addr* source = probe.source();
  if (family_ == AF_INET) {
    std::memcpy(key->address.data(), &plan.address.v4.sin_addr, 4);
    key->port = plan.address.v4.sin_port;
  } else {
    std::memcpy(key->address.data(), &plan.address.v6.sin6_addr, 16);
    key->port = plan.address.v6.sin6_port;
  }
  do {
    key->seq = random_();
  } while (in_flight_.contains(*key));

  int error = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (family_ == AF_INET && source->s_addr == 0) {
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
    error = SendSegment(plan, source, key->seq, kSyn);
    if (family_ != AF_INET || (error != EINVAL && error != EADDRNOTAVAIL)) {
      break;
    }
    // The cached source address is no longer ours: resolve it again.
    source->s_addr = 0;
  }
  if (error != 0) return ErrnoFailure("send SYN", error);
  in_flight_.emplace(*key, &probe);
  return std::nullopt;
}

int SynProber::SendSegment(const ProbePlan& plan, const in_addr* source,
                           uint32_t seq, uint8_t flags) {
  uint8_t segment[kSynLength] = {};
  const size_t length = flags == kSyn ? kSynLength : kTcpHeaderLength;
  const bool v4 = family_ == AF_INET;
  Store16(segment, port_);
  std::memcpy(segment + 2,
              v4 ? &plan.address.v4.sin_port : &plan.address.v6.sin6_port, 2);
  Store32(segment + 4, seq);
  segment[12] = (length / 4) << 4;
  segment[13] = flags;
  if (flags == kSyn) {
    Store16(segment + 14, 65535);  // window
    segment[20] = TCPOPT_MAXSEG;
    segment[21] = TCPOLEN_MAXSEG;
    Store16(segment + 22, v4 ? kMss4 : kMss6);
  }

  ProbeAddress to = plan.address;
  // Raw sockets take no port (IPv6 would read it as the protocol).
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo)) +
                                CMSG_SPACE(sizeof(uint32_t))] = {};
  msghdr msg{};
  msg.msg_name = &to;
  msg.msg_namelen = plan.address_len;
  iovec iov{segment, length};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  size_t control_len = 0;
  cmsghdr* cmsg = reinterpret_cast<cmsghdr*>(control);
  if (v4) {
    to.v4.sin_port = 0;
    // The checksum covers the source address, so the segment must leave
    // from the address it was computed with.
    uint8_t pseudo[12] = {};
    std::memcpy(pseudo, source, 4);
    std::memcpy(pseudo + 4, &plan.address.v4.sin_addr, 4);
    pseudo[9] = IPPROTO_TCP;
    Store16(pseudo + 10, static_cast<uint16_t>(length));
    Store16(segment + 16, Fold(SumWords(segment, length,
                                        SumWords(pseudo, sizeof(pseudo), 0))));
    cmsg->cmsg_level = SOL_IP;
    cmsg->cmsg_type = IP_PKTINFO;
    cmsg->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo info{};
    info.ipi_spec_dst = *source;
    std::memcpy(CMSG_DATA(cmsg), &info, sizeof(info));
    control_len += CMSG_SPACE(sizeof(in_pktinfo));
    cmsg = reinterpret_cast<cmsghdr*>(control + control_len);
  } else {
    to.v6.sin6_port = 0;
  }
  if (plan.mark != 0) {
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SO_MARK;
    cmsg->cmsg_len = CMSG_LEN(sizeof(uint32_t));
    std::memcpy(CMSG_DATA(cmsg), &plan.mark, sizeof(uint32_t));
    control_len += CMSG_SPACE(sizeof(uint32_t));
  }
  msg.msg_controllen = control_len;
  if (control_len == 0) msg.msg_control = nullptr;
  if (sendmsg(raw_.get(), &msg, MSG_DONTWAIT) < 0) return errno;
  return 0;
}

SynProber::SynProbe* SynProber::Take(const Key& key) {
  auto it = in_flight_.find(key);
  if (it == in_flight_.end()) return nullptr;
  SynProbe* probe = it->second;
  in_flight_.erase(it);
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
      if (family_ == AF_INET) {
        const size_t ihl = size_t(p[0] & 0x0f) * 4;
        if (len < sizeof(iphdr) || ihl < sizeof(iphdr) || len < ihl + 20) {
          continue;
        }
        std::memcpy(key.address.data(), p + 12, 4);  // the IP source
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
      SynProbe* probe = Take(key);
      if (probe == nullptr) continue;  // late, duplicate or not ours
      if (flags & kRst) {
        done(probe->id(), ProbeResult::Failure(ProbeOutcome::kRefused,
                                               "connection refused (RST)"));
        continue;
      }
      // The local kernel answers the SYN-ACK with a RST (no socket owns the
      // connection). A marked (tunnelled) probe's RST must also carry the
      // mark to take the SYN's path to its backend, so send one that does.
      if (probe->plan().mark != 0) {
        SendSegment(probe->plan(), probe->source(), key.seq + 1, kRst);
      }
      done(probe->id(), ProbeResult::Success());
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
