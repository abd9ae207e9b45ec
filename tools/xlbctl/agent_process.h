// Test harness for xlbctl's end-to-end tests: a real xlbd in its own
// network namespace (a veth pair, XDP attached to one end), with a unique
// bpffs pin directory, state file and Unix socket, and a way to run the real
// xlbctl binary against it. Everything is removed on destruction, whatever
// the test's outcome.
#ifndef XLB_TOOLS_XLBCTL_AGENT_PROCESS_H_
#define XLB_TOOLS_XLBCTL_AGENT_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "lb/testing/netns.h"

namespace xlb::xlbctl::testing {

// What one run of a command printed and how it exited.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// A directory under /tmp removed (with its contents) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class AgentProcess {
 public:
  // Creates the namespace, the veth and the paths; does not start xlbd.
  AgentProcess(std::string xlbd_binary, std::string xlbctl_binary);
  ~AgentProcess();
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  // Starts xlbd (again, after Stop: it adopts its pins and state) and waits
  // until it answers `xlbctl status`. False, with the agent's log in the
  // test failure, if it does not within 30 s.
  bool Start();
  // SIGTERM, then SIGKILL after 10 s; waits for the process.
  void Stop();
  bool running() const { return pid_ > 0; }

  // Flags added to xlbd's command line from the next Start() on.
  void AddAgentFlags(const std::vector<std::string>& flags);

  // Runs xlbctl with `args` against this agent (XLB_SERVER), `stdin_text`
  // on its standard input; inside the agent's namespace (to reach a TCP
  // listener on its loopback) when `in_namespace`.
  CommandResult Run(const std::vector<std::string>& args,
                    const std::string& stdin_text = "",
                    bool in_namespace = false) const;
  // Starts xlbctl in the background with its output in files; Wait() reads
  // them once it exits (or kills it after `timeout_seconds`).
  pid_t Spawn(const std::vector<std::string>& args, const std::string& tag);
  CommandResult Wait(pid_t pid, const std::string& tag, int timeout_seconds);

  const std::string& socket() const { return socket_; }
  const std::string& interface() const { return interface_; }
  const TempDir& dir() const { return dir_; }
  std::string Log() const;

 private:
  std::string CommandLine(const std::vector<std::string>& args) const;

  std::string xlbd_;
  std::string xlbctl_;
  xlb::testing::ScopedNetns netns_;
  TempDir dir_;
  std::string socket_;
  std::string pin_dir_;
  std::string state_file_;
  std::string log_file_;
  std::string interface_ = "xlbt0";
  std::vector<std::string> extra_flags_;
  pid_t pid_ = -1;
};

}  // namespace xlb::xlbctl::testing

#endif  // XLB_TOOLS_XLBCTL_AGENT_PROCESS_H_
