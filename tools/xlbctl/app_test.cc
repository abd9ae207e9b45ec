// In-process checks of the command tree: help, usage errors, local
// validation and the unreachable-agent path, which need no agent.
#include "tools/xlbctl/app.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/xlbctl/exit_codes.h"

namespace xlb::xlbctl {
namespace {

using ::testing::HasSubstr;

struct Result {
  int code;
  std::string out;
  std::string err;
};

Result RunXlbctl(std::vector<std::string> args) {
  args.insert(args.begin(), "xlbctl");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  int code = Main(static_cast<int>(argv.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

// A server nobody listens on.
const char* const kNoAgent = "unix:/nonexistent/xlbctl-test.sock";

TEST(AppTest, EveryVerbHasHelpWithExamples) {
  const std::vector<std::vector<std::string>> verbs = {
      {"status"},
      {"version"},
      {"vip"},
      {"vip", "add"},
      {"vip", "update"},
      {"vip", "del"},
      {"vip", "list"},
      {"vip", "show"},
      {"backend"},
      {"backend", "add"},
      {"backend", "del"},
      {"backend", "weight"},
      {"backend", "drain"},
      {"backend", "undrain"},
      {"backend", "list"},
      {"health"},
      {"health", "set"},
      {"health", "show"},
      {"stats"},
      {"events"},
      {"config"},
      {"config", "get"},
      {"config", "apply"},
      {"completion", "bash"},
  };
  for (auto verb : verbs) {
    verb.push_back("--help");
    Result r = RunXlbctl(verb);
    EXPECT_EQ(r.code, kExitOk) << verb[0];
    EXPECT_THAT(r.out, HasSubstr("Example")) << verb[0] << " " << verb[1];
  }
}

TEST(AppTest, TopLevelHelpDocumentsExitCodesAndServer) {
  Result r = RunXlbctl({"--help"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_THAT(r.out, HasSubstr("Exit codes"));
  EXPECT_THAT(r.out, HasSubstr("XLB_SERVER"));
  EXPECT_THAT(r.out, HasSubstr("/run/xlb/xlbd.sock"));
}

TEST(AppTest, UsageErrorsExitWithTwo) {
  EXPECT_EQ(RunXlbctl({}).code, kExitUsage);
  EXPECT_EQ(RunXlbctl({"frobnicate"}).code, kExitUsage);
  EXPECT_EQ(RunXlbctl({"vip", "add"}).code, kExitUsage);  // VIP missing
  EXPECT_EQ(RunXlbctl({"vip", "list", "--bogus"}).code, kExitUsage);
  EXPECT_EQ(RunXlbctl({"-o", "xml", "status"}).code, kExitUsage);
  EXPECT_EQ(
      RunXlbctl({"backend", "weight", "192.0.2.1:80", "198.51.100.1"}).code,
      kExitUsage);  // --weight missing
}

TEST(AppTest, MalformedValuesExitWithFourBeforeContactingTheAgent) {
  Result r =
      RunXlbctl({"--server", kNoAgent, "vip", "add", "192.0.2.999:80/tcp"});
  EXPECT_EQ(r.code, kExitInvalid);
  EXPECT_THAT(r.err, HasSubstr("not an IPv4 or IPv6 address"));
  r = RunXlbctl({"--server", kNoAgent, "backend", "add", "192.0.2.1:80/tcp",
                 "backend-1"});
  EXPECT_EQ(r.code, kExitInvalid);
  EXPECT_THAT(r.err, HasSubstr("backend-1"));
  r = RunXlbctl({"--server", "no-port-here", "status"});
  EXPECT_EQ(r.code, kExitInvalid);
  EXPECT_THAT(r.err, HasSubstr("--server"));
}

// A file can carry a NUL where a command line cannot: config apply refuses
// it before contacting the agent, and prints it escaped.
TEST(AppTest, ConfigApplyRefusesAHostileFileBeforeContactingTheAgent) {
  const std::string path = ::testing::TempDir() + "/xlbctl-hostile.yaml";
  std::ofstream(path) << "vips:\n  - key: {address: 192.0.2.1, port: 80}\n"
                         "    backends:\n"
                         "      - address: \"198.51.100.99\\0\\e[2J\"\n";
  Result r = RunXlbctl({"--server", kNoAgent, "config", "apply", "-f", path});
  std::remove(path.c_str());
  EXPECT_EQ(r.code, kExitInvalid);
  EXPECT_THAT(r.err, HasSubstr("vips[0].backends[0].address: "
                               "\"198.51.100.99\\x00\\x1b[2J\" holds a NUL "
                               "byte at offset 13"));
  EXPECT_EQ(r.err.find_first_of(std::string("\0\x1b", 2)), std::string::npos);
}

TEST(AppTest, UnreachableAgentExitsWithFiveAndSaysWhere) {
  Result r = RunXlbctl({"--server", kNoAgent, "--timeout", "2s", "status"});
  EXPECT_EQ(r.code, kExitUnavailable);
  EXPECT_THAT(r.err,
              HasSubstr("cannot reach xlbd at " + std::string(kNoAgent)));
}

TEST(AppTest, ServerComesFromTheEnvironment) {
  setenv("XLB_SERVER", kNoAgent, 1);
  Result r = RunXlbctl({"--timeout", "2s", "vip", "list"});
  unsetenv("XLB_SERVER");
  EXPECT_EQ(r.code, kExitUnavailable);
  EXPECT_THAT(r.err, HasSubstr(kNoAgent));
}

TEST(AppTest, SeveralServersAreForTheVerbsThatCompareAgents) {
  // XLB_SERVER takes several, separated by commas, as --server repeated.
  setenv("XLB_SERVER", "unix:/nonexistent/a.sock,unix:/nonexistent/b.sock", 1);
  Result r = RunXlbctl({"vip", "list"});
  unsetenv("XLB_SERVER");
  EXPECT_EQ(r.code, kExitInvalid);
  EXPECT_THAT(r.err, HasSubstr("--server: given 2 times, but this verb talks "
                               "to one agent"));
  r = RunXlbctl(
      {"-s", kNoAgent, "-s", "/nonexistent/xlbctl-test.sock", "status"});
  EXPECT_EQ(r.code, kExitInvalid);
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("\"", kNoAgent,
                                            "\" is given more than once")));
}

TEST(AppTest, TlsFilesAreRefusedForUnixSockets) {
  Result r =
      RunXlbctl({"--server", kNoAgent, "--ca", "/etc/hostname", "status"});
  EXPECT_EQ(r.code, kExitInvalid);
  EXPECT_THAT(r.err, HasSubstr("TCP servers"));
}

TEST(AppTest, CheckedInCompletionScriptMatchesTheCommandTable) {
  Result r = RunXlbctl({"completion", "bash"});
  ASSERT_EQ(r.code, kExitOk);
  EXPECT_THAT(r.out, HasSubstr("complete -F _xlbctl xlbctl"));
  std::ifstream file(XLBCTL_COMPLETION_SCRIPT);
  std::stringstream checked_in;
  checked_in << file.rdbuf();
  EXPECT_EQ(checked_in.str(), r.out)
      << "tools/xlbctl/xlbctl.bash is stale: rebuild target "
         "xlbctl_completion";
}

// Runs the checked-in completion for `words` (the last one being completed)
// with a stand-in xlbctl that answers `vip list` with how it was called,
// and XLB_SERVER set to `server_env` (unset when empty).
std::string CompleteWith(const std::string& words,
                         const std::string& server_env = "") {
  const std::string command = absl::StrCat(
      server_env.empty() ? "env -u XLB_SERVER"
                         : absl::StrCat("env XLB_SERVER=", server_env),
      " bash -c 'xlbctl() { echo VIP; local IFS=_; echo \"$*\"; }; source ",
      XLBCTL_COMPLETION_SCRIPT, "; COMP_WORDS=(", words,
      "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _xlbctl; "
      "echo \"${COMPREPLY[@]}\"'");
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "popen failed";
  char buffer[256];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) out += buffer;
  pclose(pipe);
  return out;
}

TEST(AppTest, CompletionAsksTheFirstAgentGivenForVips) {
  EXPECT_EQ(CompleteWith("xlbctl -s unix:/a -s unix:/b vip show \"\""),
            "--server_unix:/a_vip_list\n");
  EXPECT_EQ(CompleteWith("xlbctl --server=unix:/a,unix:/b vip show \"\""),
            "--server_unix:/a_vip_list\n");
  EXPECT_EQ(CompleteWith("xlbctl vip show \"\""), "vip_list\n");
  EXPECT_EQ(CompleteWith("xlbctl vip show \"\"", "unix:/c,unix:/d"),
            "--server_unix:/c_vip_list\n");
}

}  // namespace
}  // namespace xlb::xlbctl
