#include "tools/xlbctl/agent_process.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace xlb::xlbctl::testing {
namespace {

std::string ShellQuote(const std::string& s) {
  return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "'\\''"}}), "'");
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  return 128 + (WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0);
}

// Waits up to `timeout` for `pid`; true (and its status) if it exited.
bool WaitFor(pid_t pid, absl::Duration timeout, int* status) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    pid_t done = waitpid(pid, status, WNOHANG);
    if (done == pid) return true;
    if (done < 0) return true;  // not our child any more
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

}  // namespace

TempDir::TempDir() {
  char pattern[] = "/tmp/xlbctl-test-XXXXXX";
  char* made = mkdtemp(pattern);
  EXPECT_NE(made, nullptr);
  if (made != nullptr) path_ = made;
}

TempDir::~TempDir() {
  if (!path_.empty()) {
    std::system(absl::StrCat("rm -rf ", ShellQuote(path_)).c_str());
  }
}

AgentProcess::AgentProcess(std::string xlbd_binary, std::string xlbctl_binary)
    : xlbd_(std::move(xlbd_binary)), xlbctl_(std::move(xlbctl_binary)) {
  static std::atomic<int> counter{0};
  socket_ = absl::StrCat(dir_.path(), "/xlbd.sock");
  state_file_ = absl::StrCat(dir_.path(), "/state");
  log_file_ = absl::StrCat(dir_.path(), "/xlbd.log");
  pin_dir_ = absl::StrCat("/sys/fs/bpf/xlbctl-test-", getpid(), "-", counter++);
  if (!netns_.ok()) return;
  // The agent's interface: one end of a veth pair, the peer with an XDP_PASS
  // program not needed since no traffic is sent.
  netns_.Exec(
      absl::StrCat("ip link add ", interface_, " type veth peer name xlbt1"));
  netns_.Exec(absl::StrCat("ip link set ", interface_, " up"));
  netns_.Exec("ip link set xlbt1 up");
  netns_.Exec(absl::StrCat("ip addr add 198.51.100.10/24 dev ", interface_));
  netns_.Exec("ip link set lo up");
}

AgentProcess::~AgentProcess() {
  Stop();
  if (netns_.ok()) {
    // Detach and unpin: the namespace's deletion removes the veth, not pins.
    std::system(absl::StrCat("nsenter --net=/run/netns/", netns_.name(), " ",
                             ShellQuote(xlbd_),
                             " --remove --bpffs_dir=", ShellQuote(pin_dir_),
                             " --interface=", interface_, " >/dev/null 2>&1")
                    .c_str());
  }
  std::system(absl::StrCat("rm -rf ", ShellQuote(pin_dir_)).c_str());
}

bool AgentProcess::Start() {
  if (!netns_.ok()) return false;
  std::vector<std::string> argv = {
      "nsenter",
      absl::StrCat("--net=/run/netns/", netns_.name()),
      xlbd_,
      absl::StrCat("--interface=", interface_),
      absl::StrCat("--bpffs_dir=", pin_dir_),
      absl::StrCat("--state_file=", state_file_),
      absl::StrCat("--listen_unix=", socket_),
      "--metrics_address=",
      "--source_v4=198.51.100.10/32",
      "--gateway_mac=02:00:00:00:00:01",
      "--max_conns=4096",
  };
  argv.insert(argv.end(), extra_flags_.begin(), extra_flags_.end());
  pid_t pid = fork();
  if (pid == 0) {
    int log = open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  if (pid < 0) {
    ADD_FAILURE() << "fork failed";
    return false;
  }
  pid_ = pid;
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      ADD_FAILURE() << "xlbd exited with " << ExitCodeOf(status)
                    << " at start; its log:\n"
                    << Log();
      return false;
    }
    if (access(socket_.c_str(), F_OK) == 0 &&
        Run({"--timeout", "2s", "status"}).exit_code == 0) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  ADD_FAILURE() << "xlbd did not answer within 30 s; its log:\n" << Log();
  Stop();
  return false;
}

void AgentProcess::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int status = 0;
  if (!WaitFor(pid_, absl::Seconds(10), &status)) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
  }
  pid_ = -1;
}

std::string AgentProcess::Log() const { return ReadFile(log_file_); }

std::string AgentProcess::CommandLine(
    const std::vector<std::string>& args) const {
  std::vector<std::string> quoted = {ShellQuote(xlbctl_)};
  for (const auto& a : args) quoted.push_back(ShellQuote(a));
  return absl::StrCat(
      "env XLB_SERVER=", ShellQuote(absl::StrCat("unix:", socket_)), " ",
      absl::StrJoin(quoted, " "));
}

void AgentProcess::AddAgentFlags(const std::vector<std::string>& flags) {
  extra_flags_.insert(extra_flags_.end(), flags.begin(), flags.end());
}

CommandResult AgentProcess::Run(const std::vector<std::string>& args,
                                const std::string& stdin_text,
                                bool in_namespace) const {
  static std::atomic<int> counter{0};
  std::string base = absl::StrCat(dir_.path(), "/run-", counter++);
  WriteFile(base + ".in", stdin_text);
  std::string prefix = in_namespace ? absl::StrCat("nsenter --net=/run/netns/",
                                                   netns_.name(), " ")
                                    : "";
  int status = std::system(absl::StrCat(prefix, CommandLine(args), " <", base,
                                        ".in >", base, ".out 2>", base, ".err")
                               .c_str());
  CommandResult result{ExitCodeOf(status), ReadFile(base + ".out"),
                       ReadFile(base + ".err")};
  std::remove((base + ".in").c_str());
  std::remove((base + ".out").c_str());
  std::remove((base + ".err").c_str());
  return result;
}

pid_t AgentProcess::Spawn(const std::vector<std::string>& args,
                          const std::string& tag) {
  std::string base = absl::StrCat(dir_.path(), "/", tag);
  pid_t pid = fork();
  if (pid == 0) {
    std::string command =
        absl::StrCat("exec ", CommandLine(args), " </dev/null >", base,
                     ".out 2>", base, ".err");
    execl("/bin/sh", "sh", "-c", command.c_str(), nullptr);
    _exit(127);
  }
  return pid;
}

CommandResult AgentProcess::Wait(pid_t pid, const std::string& tag,
                                 int timeout_seconds) {
  std::string base = absl::StrCat(dir_.path(), "/", tag);
  int status = 0;
  if (!WaitFor(pid, absl::Seconds(timeout_seconds), &status)) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  return {ExitCodeOf(status), ReadFile(base + ".out"), ReadFile(base + ".err")};
}

}  // namespace xlb::xlbctl::testing
