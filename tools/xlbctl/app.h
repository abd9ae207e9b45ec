// xlbctl's entry point as a library function, so the command tree (and the
// completion script generated from it) can be built and tested in-process.
#ifndef XLB_TOOLS_XLBCTL_APP_H_
#define XLB_TOOLS_XLBCTL_APP_H_

#include <ostream>

namespace xlb::xlbctl {

// Parses the command line, runs the command and returns the exit code
// (tools/xlbctl/exit_codes.h). Output goes to `out`, diagnostics to `err`.
int Main(int argc, const char* const* argv, std::ostream& out,
         std::ostream& err);

}  // namespace xlb::xlbctl

#endif  // XLB_TOOLS_XLBCTL_APP_H_
