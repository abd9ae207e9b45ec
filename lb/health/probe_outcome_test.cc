#include "lb/health/probe_outcome.h"

#include <cerrno>
#include <set>
#include <string>

#include "gtest/gtest.h"

namespace xlb::health {
namespace {

TEST(ProbeOutcomeTest, LabelsAreDistinctIdentifiers) {
  std::set<std::string> seen;
  for (size_t i = 0; i < kProbeOutcomeCount; ++i) {
    const std::string label(ProbeOutcomeLabel(static_cast<ProbeOutcome>(i)));
    EXPECT_EQ(label.find(' '), std::string::npos) << label;
    EXPECT_TRUE(seen.insert(label).second) << label;
  }
  EXPECT_EQ(ProbeOutcomeLabel(ProbeOutcome::kWrongStatus), "wrong_status");
  EXPECT_EQ(ProbeOutcomeLabel(ProbeOutcome::kTimeout), "timeout");
  EXPECT_EQ(ProbeOutcomeName(ProbeOutcome::kTlsError), "tls error");
}

TEST(ProbeOutcomeTest, ErrnoMapsToTheBackendsFault) {
  EXPECT_EQ(OutcomeFromErrno(ECONNREFUSED), ProbeOutcome::kRefused);
  EXPECT_EQ(OutcomeFromErrno(ECONNRESET), ProbeOutcome::kReset);
  EXPECT_EQ(OutcomeFromErrno(ETIMEDOUT), ProbeOutcome::kTimeout);
}

}  // namespace
}  // namespace xlb::health
