// Time to build one Maglev table. Budget (DESIGN.md): M = 65537, N = 1000
// within 1 ms; M = 655373, N = 1000 within 15 ms.
#include <cstdint>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "lb/maglev/maglev.h"

namespace xlb {
namespace {

// Keys as the model writes them: family byte, then 16 address bytes
// (2001:db8::/96 plus a 32-bit host part).
std::vector<MaglevBackend> MakeBackends(int n, bool mixed_weights) {
  std::vector<MaglevBackend> backends;
  backends.reserve(n);
  for (int i = 0; i < n; ++i) {
    std::string key(17, '\0');
    key[0] = 6;
    key[1] = 0x20;
    key[2] = 0x01;
    key[3] = 0x0d;
    key[4] = static_cast<char>(0xb8);
    for (int b = 0; b < 4; ++b) key[16 - b] = static_cast<char>(i >> (8 * b));
    const uint32_t weight = mixed_weights ? 1 + i % 10 : 1;
    backends.push_back({.key = std::move(key),
                        .weight = weight,
                        .index = static_cast<uint32_t>(i + 1)});
  }
  return backends;
}

void RunBuild(benchmark::State& state, bool mixed_weights) {
  const auto table_size = static_cast<uint32_t>(state.range(0));
  const std::vector<MaglevBackend> backends =
      MakeBackends(static_cast<int>(state.range(1)), mixed_weights);
  for (auto _ : state) {
    auto table = BuildMaglevTable(backends, table_size, /*seed=*/42);
    if (!table.ok()) {
      state.SkipWithError(table.status().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(table->data());
  }
}

void BM_BuildEqualWeights(benchmark::State& state) { RunBuild(state, false); }
void BM_BuildWeights1To10(benchmark::State& state) { RunBuild(state, true); }

void TableSizesAndBackends(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N"});
  for (int64_t m : {65537, 655373}) {
    for (int64_t n : {10, 100, 1000}) b->Args({m, n});
  }
  b->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_BuildEqualWeights)->Apply(TableSizesAndBackends);
BENCHMARK(BM_BuildWeights1To10)->Apply(TableSizesAndBackends);

}  // namespace
}  // namespace xlb

BENCHMARK_MAIN();
