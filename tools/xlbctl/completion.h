// Shell completion generated from the command tree, so it never disagrees
// with the parser: `xlbctl completion bash`.
#ifndef XLB_TOOLS_XLBCTL_COMPLETION_H_
#define XLB_TOOLS_XLBCTL_COMPLETION_H_

#include <string>

#include "CLI/CLI.hpp"

namespace xlb::xlbctl {

// A bash script defining and registering the completion function for
// `program`: verbs and sub-verbs, each verb's options, choices of options
// with a fixed set of values, file names for file options, and configured
// VIPs (asked from the first agent on the command line or in XLB_SERVER)
// where a VIP argument is expected.
std::string BashCompletionScript(const CLI::App& app,
                                 const std::string& program);

}  // namespace xlb::xlbctl

#endif  // XLB_TOOLS_XLBCTL_COMPLETION_H_
