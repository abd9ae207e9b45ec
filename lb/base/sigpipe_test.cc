// A thread that blocks SIGPIPE survives writing to a closed peer.
#include "lb/base/sigpipe.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "gtest/gtest.h"

namespace xlb {
namespace {

TEST(SigpipeTest, WriteToAClosedPeerFailsWithEpipeInsteadOfKilling) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  close(fds[1]);
  int error = 0;
  std::thread writer([&] {
    BlockSigpipeInThisThread();
    const char byte = 'x';
    if (write(fds[0], &byte, 1) < 0) error = errno;
  });
  writer.join();
  close(fds[0]);
  EXPECT_EQ(error, EPIPE);  // reaching this line: the process was not killed
}

}  // namespace
}  // namespace xlb
