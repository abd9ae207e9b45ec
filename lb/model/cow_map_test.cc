#include "lb/model/cow_map.h"

#include <map>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"

namespace xlb {
namespace {

std::map<int, int> Contents(const CowMap<int, int>& map) {
  std::map<int, int> out;
  map.ForEach([&](int key, int value) { out[key] = value; });
  return out;
}

using Difference = std::tuple<int, int, int>;  // key, a or -1, b or -1

std::vector<Difference> Differences(const CowMap<int, int>& a,
                                    const CowMap<int, int>& b) {
  std::vector<Difference> out;
  ForEachDifference(a, b, [&](int key, const int* x, const int* y) {
    out.emplace_back(key, x ? *x : -1, y ? *y : -1);
  });
  std::sort(out.begin(), out.end());
  return out;
}

TEST(CowMapTest, CopiesAreIndependent) {
  CowMap<int, int> a;
  for (int i = 0; i < 1000; ++i) a[i] = i;
  CowMap<int, int> b = a;
  b[5] = 50;
  b.Erase(6);
  b[2000] = 1;
  a[7] = 70;
  EXPECT_EQ(a.size(), 1000u);
  EXPECT_EQ(b.size(), 1000u);
  EXPECT_EQ(*a.Find(5), 5);
  EXPECT_EQ(*b.Find(5), 50);
  EXPECT_TRUE(a.contains(6));
  EXPECT_FALSE(b.contains(6));
  EXPECT_FALSE(a.contains(2000));
  EXPECT_EQ(*a.Find(7), 70);
  EXPECT_EQ(*b.Find(7), 7);
  std::map<int, int> expected;
  for (int i = 0; i < 1000; ++i) expected[i] = i;
  expected[7] = 70;
  EXPECT_EQ(Contents(a), expected);
}

TEST(CowMapTest, DifferencesAreTheChangedKeysOnly) {
  CowMap<int, int> a;
  for (int i = 0; i < 1000; ++i) a[i] = i;
  CowMap<int, int> b = a;
  EXPECT_TRUE(Differences(a, b).empty());
  b[5] = 50;    // changed
  b.Erase(6);   // removed
  b[2000] = 1;  // added
  b[8] = 8;     // written, same value
  EXPECT_EQ(Differences(a, b),
            (std::vector<Difference>{{5, 5, 50}, {6, 6, -1}, {2000, -1, 1}}));
  EXPECT_EQ(Differences(b, a),
            (std::vector<Difference>{{5, 50, 5}, {6, -1, 6}, {2000, 1, -1}}));
  EXPECT_EQ(Differences(CowMap<int, int>(), a).size(), 1000u);
}

TEST(CowMapTest, EraseOfAnAbsentKeyChangesNothing) {
  CowMap<int, int> a;
  a[1] = 1;
  a.Erase(2);
  EXPECT_EQ(a.size(), 1u);
}

TEST(IndexBitmapTest, FirstAbsent) {
  IndexBitmap bits(200);
  EXPECT_EQ(bits.FirstAbsent(0), 0u);
  for (uint32_t i = 0; i < 130; ++i) bits.insert(i);
  EXPECT_EQ(bits.FirstAbsent(0), 130u);
  EXPECT_EQ(bits.FirstAbsent(131), 131u);
  bits.erase(64);
  EXPECT_EQ(bits.FirstAbsent(1), 64u);
  EXPECT_EQ(bits.FirstAbsent(65), 130u);
  EXPECT_TRUE(bits.contains(63));
  EXPECT_FALSE(bits.contains(64));
  EXPECT_FALSE(bits.contains(500));
  for (uint32_t i = 0; i < 200; ++i) bits.insert(i);
  EXPECT_EQ(bits.FirstAbsent(0), 200u);  // full: size()
  EXPECT_EQ(bits.FirstAbsent(199), 200u);
}

}  // namespace
}  // namespace xlb
