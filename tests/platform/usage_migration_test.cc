// Schema version 3 (usage errors and HTTP status) applied to a version-2 database that already
// holds usage: the old rows stay, as successes, next to new ones. On both backends.
#include <gtest/gtest.h>

#include "backends.h"
#include "hearth/platform/migrations.h"

namespace hearth::platform::testing {
namespace {

using UsageMigrationTest = BackendTest;
HEARTH_INSTANTIATE_FOR_BACKENDS(UsageMigrationTest);

constexpr int64_t kHour0 = 1'704'067'200'000;  // 2024-01-01T00:00:00Z

TEST_P(UsageMigrationTest, AVersion2DatabaseKeepsItsUsageRows) {
  auto builtin = BuiltinMigrations();
  ASSERT_GE(builtin.size(), 3u);
  ASSERT_EQ(builtin[2].version, 3);
  {
    // A database as a version-2 binary left it, with rows written by its INSERT.
    ASSERT_OK_AND_ASSIGN(auto db, OpenScratchDriver());
    ASSERT_OK(ApplyMigrations(*db, builtin.first(2), now_ms));
    ASSERT_OK_AND_ASSIGN(int64_t version, CurrentSchemaVersion(*db));
    ASSERT_EQ(version, 2);
    const std::vector<std::vector<SqlValue>> rows = {
        {int64_t{1}, int64_t{7}, std::string("llama"), kHour0 + 1, int64_t{100}, int64_t{20}},
        {int64_t{1}, int64_t{7}, std::string("llama"), kHour0 + 2, int64_t{50}, int64_t{5}},
        {int64_t{1}, SqlValue{}, std::string("qwen"), kHour0 + 3'600'000, int64_t{9}, int64_t{1}},
        {int64_t{2}, int64_t{8}, std::string("llama"), kHour0 + 4, int64_t{1}, int64_t{1}},
    };
    for (const auto& row : rows) {
      ASSERT_OK(db->Execute("INSERT INTO usage (tenant_id, key_id, deployment, at, prompt_tokens, "
                            "completion_tokens) VALUES (?, ?, ?, ?, ?, ?)",
                            row)
                    .status());
    }
  }

  now_ms += 60'000;
  ASSERT_OK_AND_ASSIGN(auto store, OpenScratchStore());  // migrates in place
  ASSERT_OK_AND_ASSIGN(int64_t version, store->SchemaVersion());
  EXPECT_EQ(version, LatestSchemaVersion());

  ASSERT_OK_AND_ASSIGN(auto totals, store->QueryUsage(1, 0, kHour0 * 2));
  ASSERT_EQ(totals.size(), 2u);
  EXPECT_FALSE(totals[0].key_id.has_value());
  EXPECT_EQ(totals[0].deployment, "qwen");
  EXPECT_EQ(totals[0].requests, 1);
  EXPECT_EQ(totals[0].prompt_tokens, 9);
  EXPECT_EQ(totals[1].key_id, 7);
  EXPECT_EQ(totals[1].requests, 2);
  EXPECT_EQ(totals[1].prompt_tokens, 150);
  EXPECT_EQ(totals[1].completion_tokens, 25);
  EXPECT_EQ(totals[0].errors + totals[1].errors, 0) << "old rows were all successes";
  ASSERT_OK_AND_ASSIGN(auto hours, store->QueryUsageByHour(1, 0, kHour0 * 2));
  ASSERT_EQ(hours.size(), 2u);
  EXPECT_EQ(hours[0].hour, kHour0);
  EXPECT_EQ(hours[0].totals.requests, 2);
  EXPECT_EQ(hours[1].hour, kHour0 + 3'600'000);

  // New rows, errors among them, add to the old ones.
  ASSERT_OK(store->RecordUsage({1, 7, "llama", kHour0 + 5, 0, 0, true, 429}));
  ASSERT_OK_AND_ASSIGN(totals, store->QueryUsage(1, 0, kHour0 * 2));
  ASSERT_EQ(totals.size(), 2u);
  EXPECT_EQ(totals[1].requests, 3);
  EXPECT_EQ(totals[1].errors, 1);
  EXPECT_EQ(totals[1].prompt_tokens, 150);

  // Below the store: old rows have errors 0 and no status; the new one has both.
  ASSERT_OK_AND_ASSIGN(auto db, OpenScratchDriver());
  ASSERT_OK_AND_ASSIGN(
      auto columns,
      db->Query("SELECT errors, http_status FROM usage WHERE tenant_id = 1 ORDER BY at", {}));
  ASSERT_EQ(columns.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    RowReader r(columns[i]);
    const int64_t errors = r.Int();
    const std::optional<int64_t> status = r.OptionalInt();
    ASSERT_OK(r.status());
    if (i == 2) {  // at kHour0 + 5: the new row
      EXPECT_EQ(errors, 1);
      EXPECT_EQ(status, 429);
    } else {
      EXPECT_EQ(errors, 0) << i;
      EXPECT_FALSE(status.has_value()) << i;
    }
  }
  // The new columns' constraints hold for writers other than the store too.
  EXPECT_FALSE(db->Execute("UPDATE usage SET errors = 2 WHERE tenant_id = 2", {}).ok());
}

}  // namespace
}  // namespace hearth::platform::testing
