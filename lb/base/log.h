// A small leveled, structured logger: one line per record on stderr,
//
//   2024-05-01T12:00:00.123456Z INFO api: change applied generation=7
//   method=UpdateBackends
//
// i.e. time (UTC), level, component, message, then key=value fields (values
// with spaces or quotes are quoted). Records below the process-wide minimum
// level (SetLogLevel) are skipped. Thread-safe: a record is one write(2).
#ifndef XLB_LB_BASE_LOG_H_
#define XLB_LB_BASE_LOG_H_

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace xlb {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

inline std::atomic<int>& MinLogLevel() {
  static std::atomic<int> level{static_cast<int>(LogLevel::kInfo)};
  return level;
}
inline void SetLogLevel(LogLevel level) {
  MinLogLevel().store(static_cast<int>(level));
}
// "debug", "info", "warning", "error"; false for anything else.
inline bool ParseLogLevel(absl::string_view text, LogLevel* level) {
  const std::string t = absl::AsciiStrToLower(text);
  if (t == "debug")
    *level = LogLevel::kDebug;
  else if (t == "info")
    *level = LogLevel::kInfo;
  else if (t == "warning" || t == "warn")
    *level = LogLevel::kWarning;
  else if (t == "error")
    *level = LogLevel::kError;
  else
    return false;
  return true;
}

// A key=value field of a record.
struct LogField {
  template <typename T>
  LogField(absl::string_view k, const T& v) : key(k), value(absl::StrCat(v)) {}
  LogField(absl::string_view k, absl::string_view v) : key(k), value(v) {}
  LogField(absl::string_view k, const char* v) : key(k), value(v) {}
  LogField(absl::string_view k, const std::string& v) : key(k), value(v) {}
  LogField(absl::string_view k, bool v) : key(k), value(v ? "true" : "false") {}

  std::string key;
  std::string value;
};

inline void Log(LogLevel level, absl::string_view component,
                absl::string_view message,
                std::initializer_list<LogField> fields = {}) {
  if (static_cast<int>(level) < MinLogLevel().load()) return;
  static constexpr const char* kNames[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  std::string line = absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(),
                       absl::UTCTimeZone()),
      " ", kNames[static_cast<int>(level)], " ", component, ": ", message);
  for (const LogField& f : fields) {
    const bool quote = f.value.empty() ||
                       f.value.find_first_of(" \"=\n\t") != std::string::npos;
    if (!quote) {
      absl::StrAppend(&line, " ", f.key, "=", f.value);
      continue;
    }
    std::string escaped;
    for (char c : f.value) {
      if (c == '"' || c == '\\') escaped.push_back('\\');
      escaped.push_back(c == '\n' ? ' ' : c);
    }
    absl::StrAppend(&line, " ", f.key, "=\"", escaped, "\"");
  }
  line.push_back('\n');
  // One write per record keeps lines from concurrent threads whole.
  (void)!write(STDERR_FILENO, line.data(), line.size());
}

inline void LogDebug(absl::string_view c, absl::string_view m,
                     std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kDebug, c, m, f);
}
inline void LogInfo(absl::string_view c, absl::string_view m,
                    std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kInfo, c, m, f);
}
inline void LogWarning(absl::string_view c, absl::string_view m,
                       std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kWarning, c, m, f);
}
inline void LogError(absl::string_view c, absl::string_view m,
                     std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kError, c, m, f);
}

}  // namespace xlb

#endif  // XLB_LB_BASE_LOG_H_
