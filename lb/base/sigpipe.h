// Writing to a socket whose peer has gone raises SIGPIPE, which ends the
// process by default. OpenSSL writes with write(2), where MSG_NOSIGNAL cannot
// be passed, so a thread that writes through TLS blocks SIGPIPE instead: its
// writes then fail with EPIPE and the signal stays pending, never delivered.
#ifndef XLB_LB_BASE_SIGPIPE_H_
#define XLB_LB_BASE_SIGPIPE_H_

#include <pthread.h>
#include <signal.h>

namespace xlb {

inline void BlockSigpipeInThisThread() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

}  // namespace xlb

#endif  // XLB_LB_BASE_SIGPIPE_H_
