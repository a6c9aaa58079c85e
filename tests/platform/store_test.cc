#include "hearth/platform/store.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "backends.h"

namespace hearth::platform::testing {
namespace {

using StoreTest = BackendTest;
HEARTH_INSTANTIATE_FOR_BACKENDS(StoreTest);

bool Contains(const Status& status, std::string_view text) {
  return status.message().find(text) != std::string::npos;
}

std::string HashOf(char c) { return std::string(64, c); }  // a well-formed hex hash

NewApiKey KeyFor(int64_t tenant_id, std::string name, std::string prefix) {
  NewApiKey key;
  key.tenant_id = tenant_id;
  key.name = std::move(name);
  key.prefix = std::move(prefix);
  key.secret_hash = HashOf('a');
  return key;
}

NewUser Member(int64_t tenant_id, std::string name) {
  return NewUser{tenant_id, std::move(name), Role::kMember, "$argon2id$placeholder"};
}

// Tenants ------------------------------------------------------------------------------------

TEST_P(StoreTest, TenantsAreCreatedFoundListedAndDeleted) {
  ASSERT_OK_AND_ASSIGN(Tenant acme, store().CreateTenant("Acme"));
  EXPECT_GT(acme.id, 0);
  EXPECT_EQ(acme.name, "acme") << "names are stored lower-case";
  EXPECT_EQ(acme.created_at, now_ms);
  now_ms += 1;
  ASSERT_OK_AND_ASSIGN(Tenant globex, store().CreateTenant("globex-2.eu_west"));
  EXPECT_GT(globex.id, acme.id);

  ASSERT_OK_AND_ASSIGN(Tenant found, store().GetTenant(globex.id));
  EXPECT_EQ(found.name, "globex-2.eu_west");
  EXPECT_EQ(found.created_at, now_ms);
  ASSERT_OK_AND_ASSIGN(found, store().FindTenantByName("ACME"));
  EXPECT_EQ(found.id, acme.id);

  ASSERT_OK_AND_ASSIGN(auto all, store().ListTenants());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "acme");
  EXPECT_EQ(all[1].name, "globex-2.eu_west");

  ASSERT_OK(store().DeleteTenant(acme.id));
  EXPECT_CODE(store().GetTenant(acme.id), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(all, store().ListTenants());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(store().DeleteTenant(acme.id).code(), StatusCode::kNotFound);

  // Ids are never reused, so history that names an id stays unambiguous.
  ASSERT_OK_AND_ASSIGN(Tenant next, store().CreateTenant("acme"));
  EXPECT_GT(next.id, globex.id);
}

TEST_P(StoreTest, TenantNamesAreUniqueAndValidated) {
  ASSERT_OK(store().CreateTenant("acme").status());
  auto duplicate = store().CreateTenant("ACME");
  EXPECT_CODE(duplicate, StatusCode::kAlreadyExists);
  EXPECT_EQ(duplicate.status().message(), "tenant 'acme' already exists");

  for (const std::string& bad :
       std::vector<std::string>{"", "-acme", "ac me", "acme/x", "ünicode", std::string(65, 'a'),
                                std::string("nul\0byte", 8)}) {
    auto created = store().CreateTenant(bad);
    EXPECT_CODE(created, StatusCode::kInvalidArgument) << "name: " << bad;
  }
  ASSERT_OK(store().CreateTenant(std::string(64, 'a')).status());
  EXPECT_CODE(store().GetTenant(999), StatusCode::kNotFound);
  EXPECT_EQ(store().FindTenantByName("nobody").status().message(), "tenant 'nobody' not found");
}

TEST_P(StoreTest, ATenantWithUsersOrKeysCannotBeDeleted) {
  ASSERT_OK_AND_ASSIGN(Tenant acme, store().CreateTenant("acme"));
  ASSERT_OK_AND_ASSIGN(User alice, store().CreateUser(Member(acme.id, "alice")));
  ASSERT_OK_AND_ASSIGN(ApiKey key, store().CreateApiKey(KeyFor(acme.id, "ci", "abcdefgh")));
  ASSERT_OK(store().SetQuota(QuotaSubject::Tenant(acme.id), Quota{10, 1000, 2}));
  ASSERT_OK(store().SetQuota(QuotaSubject::ApiKey(key.id), Quota{1, 100, 1}));

  Status refused = store().DeleteTenant(acme.id);
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition) << refused.ToString();
  EXPECT_EQ(
      refused.message(),
      fmt::format("tenant 'acme' (id {}) still has users or API keys; delete them first", acme.id));
  ASSERT_OK(store().DeleteUser(alice.id));
  EXPECT_EQ(store().DeleteTenant(acme.id).code(), StatusCode::kFailedPrecondition);
  ASSERT_OK(store().DeleteApiKey(key.id));
  EXPECT_CODE(store().GetQuota(QuotaSubject::ApiKey(key.id)), StatusCode::kNotFound)
      << "a key's quota goes with the key";

  ASSERT_OK(store().DeleteTenant(acme.id));
  EXPECT_CODE(store().GetQuota(QuotaSubject::Tenant(acme.id)), StatusCode::kNotFound)
      << "a tenant's quota goes with the tenant";
}

// Users --------------------------------------------------------------------------------------

TEST_P(StoreTest, UsersRoundTripWithTheirRoleAndTenant) {
  ASSERT_OK_AND_ASSIGN(Tenant acme, store().CreateTenant("acme"));
  ASSERT_OK_AND_ASSIGN(Tenant globex, store().CreateTenant("globex"));
  ASSERT_OK_AND_ASSIGN(User root, store().CreateUser(NewUser{std::nullopt, "Root@Example.COM",
                                                             Role::kPlatformAdmin, "h1"}));
  EXPECT_EQ(root.name, "root@example.com");
  EXPECT_FALSE(root.tenant_id.has_value());
  EXPECT_EQ(root.role, Role::kPlatformAdmin);
  EXPECT_EQ(root.password_hash, "h1");
  EXPECT_EQ(root.created_at, now_ms);
  EXPECT_FALSE(root.disabled);

  ASSERT_OK_AND_ASSIGN(User boss,
                       store().CreateUser(NewUser{acme.id, "boss", Role::kTenantAdmin, "h2"}));
  ASSERT_OK_AND_ASSIGN(User alice, store().CreateUser(Member(acme.id, "alice")));
  ASSERT_OK_AND_ASSIGN(User bob, store().CreateUser(Member(globex.id, "bob")));

  ASSERT_OK_AND_ASSIGN(User found, store().FindUserByName("BOSS"));
  EXPECT_EQ(found.id, boss.id);
  EXPECT_EQ(found.tenant_id, acme.id);
  EXPECT_EQ(found.role, Role::kTenantAdmin);
  ASSERT_OK_AND_ASSIGN(found, store().GetUser(root.id));
  EXPECT_EQ(found.name, "root@example.com");

  ASSERT_OK_AND_ASSIGN(auto acme_users, store().ListUsers(acme.id));
  ASSERT_EQ(acme_users.size(), 2u);
  EXPECT_EQ(acme_users[0].id, boss.id);
  EXPECT_EQ(acme_users[1].id, alice.id);
  ASSERT_OK_AND_ASSIGN(auto everyone, store().ListUsers(std::nullopt));
  EXPECT_EQ(everyone.size(), 4u);
  ASSERT_OK_AND_ASSIGN(int64_t count, store().CountUsers());
  EXPECT_EQ(count, 4);

  ASSERT_OK(store().SetUserDisabled(bob.id, true));
  ASSERT_OK_AND_ASSIGN(found, store().GetUser(bob.id));
  EXPECT_TRUE(found.disabled);
  ASSERT_OK(store().SetUserDisabled(bob.id, false));
  ASSERT_OK_AND_ASSIGN(found, store().GetUser(bob.id));
  EXPECT_FALSE(found.disabled);
  ASSERT_OK(store().SetUserPasswordHash(bob.id, "h9"));
  ASSERT_OK_AND_ASSIGN(found, store().GetUser(bob.id));
  EXPECT_EQ(found.password_hash, "h9");

  EXPECT_EQ(store().SetUserDisabled(12345, true).code(), StatusCode::kNotFound);
  EXPECT_EQ(store().SetUserPasswordHash(12345, "x").code(), StatusCode::kNotFound);
  EXPECT_EQ(store().DeleteUser(12345).code(), StatusCode::kNotFound);
  EXPECT_EQ(store().FindUserByName("nobody").status().message(), "user 'nobody' not found");
}

TEST_P(StoreTest, UserConstraintsMapToPreciseErrors) {
  ASSERT_OK_AND_ASSIGN(Tenant acme, store().CreateTenant("acme"));
  ASSERT_OK(store().CreateUser(Member(acme.id, "alice")).status());

  auto duplicate = store().CreateUser(Member(acme.id, "ALICE"));
  EXPECT_CODE(duplicate, StatusCode::kAlreadyExists);
  EXPECT_EQ(duplicate.status().message(), "user 'alice' already exists");

  auto orphan = store().CreateUser(Member(acme.id + 100, "carol"));
  EXPECT_CODE(orphan, StatusCode::kNotFound);
  EXPECT_TRUE(Contains(orphan.status(), fmt::format("tenant {} does not exist", acme.id + 100)))
      << orphan.status().ToString();

  auto admin_in_tenant = store().CreateUser(NewUser{acme.id, "x", Role::kPlatformAdmin, "h"});
  EXPECT_CODE(admin_in_tenant, StatusCode::kInvalidArgument);
  auto member_without_tenant = store().CreateUser(NewUser{std::nullopt, "y", Role::kMember, "h"});
  EXPECT_CODE(member_without_tenant, StatusCode::kInvalidArgument);
  EXPECT_CODE(store().CreateUser(Member(acme.id, "has space")), StatusCode::kInvalidArgument);
  EXPECT_CODE(store().CreateUser(Member(acme.id, "")), StatusCode::kInvalidArgument);
  EXPECT_CODE(store().CreateUser(NewUser{acme.id, "z", Role::kMember, ""}),
              StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, TheDatabaseItselfRejectsInconsistentRows) {
  // Defence in depth below the validation in code: CHECK constraints and foreign keys.
  ASSERT_OK_AND_ASSIGN(auto db, OpenDriver());
  SqlValue bad_role[] = {std::string("x"), std::string("emperor"), now_ms};
  EXPECT_EQ(db->Execute("INSERT INTO users (tenant_id, name, role, password_hash, created_at) "
                        "VALUES (NULL, ?, ?, 'h', ?)",
                        bad_role)
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  SqlValue admin_without_tenant[] = {std::string("y"), now_ms};
  EXPECT_EQ(db->Execute("INSERT INTO users (tenant_id, name, role, password_hash, created_at) "
                        "VALUES (NULL, ?, 'member', 'h', ?)",
                        admin_without_tenant)
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  SqlValue orphan_key[] = {int64_t{4242}, now_ms};
  EXPECT_EQ(db->Execute("INSERT INTO api_keys (tenant_id, name, prefix, secret_hash, created_at) "
                        "VALUES (?, 'k', 'p', 'h', ?)",
                        orphan_key)
                .status()
                .code(),
            StatusCode::kFailedPrecondition);
}

// API keys -----------------------------------------------------------------------------------

TEST_P(StoreTest, ApiKeysRoundTrip) {
  ASSERT_OK_AND_ASSIGN(Tenant acme, store().CreateTenant("acme"));
  NewApiKey spec = KeyFor(acme.id, "ci runner", "abcdefgh");
  spec.deployments = {"llama-3-8b", "qwen\"2", "back\\slash"};  // JSON-special characters
  spec.expires_at = now_ms + 1000;
  spec.secret_hash = HashOf('b');
  ASSERT_OK_AND_ASSIGN(ApiKey key, store().CreateApiKey(spec));
  EXPECT_GT(key.id, 0);
  EXPECT_EQ(key.tenant_id, acme.id);
  EXPECT_EQ(key.name, "ci runner");
  EXPECT_EQ(key.prefix, "abcdefgh");
  EXPECT_EQ(key.secret_hash, HashOf('b'));
  EXPECT_EQ(key.deployments, spec.deployments);
  EXPECT_EQ(key.created_at, now_ms);
  EXPECT_EQ(key.expires_at, now_ms + 1000);
  EXPECT_FALSE(key.revoked_at.has_value());
  EXPECT_FALSE(key.last_used_at.has_value());

  ASSERT_OK_AND_ASSIGN(ApiKey found, store().FindApiKeyByPrefix("abcdefgh"));
  EXPECT_EQ(found.id, key.id);
  EXPECT_EQ(found.deployments, spec.deployments);
  ASSERT_OK_AND_ASSIGN(found, store().GetApiKey(key.id));
  EXPECT_EQ(found.name, "ci runner");
  EXPECT_CODE(store().FindApiKeyByPrefix("zzzzzzzz"), StatusCode::kNotFound);

  ASSERT_OK(store().CreateApiKey(KeyFor(acme.id, "second", "bbbbbbbb")).status());
  ASSERT_OK_AND_ASSIGN(auto keys, store().ListApiKeys(acme.id));
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].prefix, "abcdefgh");
  EXPECT_TRUE(keys[1].deployments.empty());
  EXPECT_FALSE(keys[1].expires_at.has_value());
}

TEST_P(StoreTest, ApiKeyConstraintsMapToPreciseErrors) {
  ASSERT_OK_AND_ASSIGN(Tenant acme, store().CreateTenant("acme"));
  ASSERT_OK_AND_ASSIGN(Tenant globex, store().CreateTenant("globex"));
  ASSERT_OK(store().CreateApiKey(KeyFor(acme.id, "ci", "aaaaaaaa")).status());

  auto same_prefix = store().CreateApiKey(KeyFor(globex.id, "other", "aaaaaaaa"));
  EXPECT_CODE(same_prefix, StatusCode::kAlreadyExists);
  EXPECT_EQ(same_prefix.status().message(), "API key prefix 'aaaaaaaa' is already in use");

  auto same_name = store().CreateApiKey(KeyFor(acme.id, "ci", "bbbbbbbb"));
  EXPECT_CODE(same_name, StatusCode::kAlreadyExists);
  EXPECT_EQ(same_name.status().message(),
            fmt::format("tenant {} already has an API key named 'ci'", acme.id));
  // Names are unique per tenant only.
  ASSERT_OK(store().CreateApiKey(KeyFor(globex.id, "ci", "cccccccc")).status());

  auto orphan = store().CreateApiKey(KeyFor(9999, "x", "dddddddd"));
  EXPECT_CODE(orphan, StatusCode::kNotFound);
  EXPECT_TRUE(Contains(orphan.status(), "tenant 9999 does not exist"));

  NewApiKey bad = KeyFor(acme.id, "y", "UPPER");
  EXPECT_CODE(store().CreateApiKey(bad), StatusCode::kInvalidArgument);
  bad = KeyFor(acme.id, "y", "eeeeeeee");
  bad.secret_hash = "not-hex";
  EXPECT_CODE(store().CreateApiKey(bad), StatusCode::kInvalidArgument);
  bad = KeyFor(acme.id, "", "eeeeeeee");
  EXPECT_CODE(store().CreateApiKey(bad), StatusCode::kInvalidArgument);
  bad = KeyFor(acme.id, "y", "eeeeeeee");
  bad.deployments = {"has space"};
  EXPECT_CODE(store().CreateApiKey(bad), StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, RevokingIsIdempotentAndTouchNeverGoesBack) {
  ASSERT_OK_AND_ASSIGN(Tenant acme, store().CreateTenant("acme"));
  ASSERT_OK_AND_ASSIGN(ApiKey key, store().CreateApiKey(KeyFor(acme.id, "ci", "aaaaaaaa")));
  now_ms += 10;
  ASSERT_OK_AND_ASSIGN(ApiKey revoked, store().RevokeApiKey(key.id));
  EXPECT_EQ(revoked.revoked_at, now_ms);
  int64_t first = now_ms;
  now_ms += 10;
  ASSERT_OK_AND_ASSIGN(revoked, store().RevokeApiKey(key.id));
  EXPECT_EQ(revoked.revoked_at, first) << "a second revoke keeps the first time";
  EXPECT_CODE(store().RevokeApiKey(key.id + 1), StatusCode::kNotFound);

  ASSERT_OK(store().TouchApiKey(key.id, 500));
  ASSERT_OK(store().TouchApiKey(key.id, 400));
  ASSERT_OK_AND_ASSIGN(ApiKey touched, store().GetApiKey(key.id));
  EXPECT_EQ(touched.last_used_at, 500);
  ASSERT_OK(store().TouchApiKey(key.id, 600));
  ASSERT_OK_AND_ASSIGN(touched, store().GetApiKey(key.id));
  EXPECT_EQ(touched.last_used_at, 600);

  ASSERT_OK(store().DeleteApiKey(key.id));
  EXPECT_CODE(store().GetApiKey(key.id), StatusCode::kNotFound);
  EXPECT_EQ(store().DeleteApiKey(key.id).code(), StatusCode::kNotFound);
}

// Sessions -----------------------------------------------------------------------------------

TEST_P(StoreTest, SessionsAreStoredFoundAndSweptWhenExpired) {
  ASSERT_OK_AND_ASSIGN(Tenant acme, store().CreateTenant("acme"));
  ASSERT_OK_AND_ASSIGN(User alice, store().CreateUser(Member(acme.id, "alice")));
  ASSERT_OK_AND_ASSIGN(Session s1, store().CreateSession(HashOf('1'), alice.id, now_ms + 100));
  EXPECT_EQ(s1.created_at, now_ms);
  EXPECT_EQ(s1.expires_at, now_ms + 100);
  ASSERT_OK(store().CreateSession(HashOf('2'), alice.id, now_ms + 200).status());
  ASSERT_OK(store().CreateSession(HashOf('3'), alice.id, now_ms + 300).status());

  ASSERT_OK_AND_ASSIGN(Session found, store().FindSession(HashOf('2')));
  EXPECT_EQ(found.user_id, alice.id);
  EXPECT_EQ(found.expires_at, now_ms + 200);

  EXPECT_CODE(store().CreateSession(HashOf('1'), alice.id, now_ms), StatusCode::kAlreadyExists);
  auto orphan = store().CreateSession(HashOf('4'), alice.id + 50, now_ms);
  EXPECT_CODE(orphan, StatusCode::kNotFound);
  EXPECT_CODE(store().CreateSession("short", alice.id, now_ms), StatusCode::kInvalidArgument);

  ASSERT_OK_AND_ASSIGN(int64_t swept, store().DeleteExpiredSessions(now_ms + 200));
  EXPECT_EQ(swept, 2) << "expired at or before the given time";
  EXPECT_CODE(store().FindSession(HashOf('1')), StatusCode::kNotFound);
  ASSERT_OK(store().FindSession(HashOf('3')).status());

  ASSERT_OK(store().DeleteSession(HashOf('3')));
  EXPECT_EQ(store().DeleteSession(HashOf('3')).code(), StatusCode::kNotFound);

  // Deleting a user ends their sessions.
  ASSERT_OK(store().CreateSession(HashOf('5'), alice.id, now_ms + 999).status());
  ASSERT_OK(store().DeleteUser(alice.id));
  EXPECT_CODE(store().FindSession(HashOf('5')), StatusCode::kNotFound);
}

// Audit --------------------------------------------------------------------------------------

AuditEntry Audit(std::string actor, std::string action, std::string result) {
  return AuditEntry{
      0, 0, std::move(actor), std::move(action), "tenant:acme", "10.0.0.1", std::move(result), "d"};
}

TEST_P(StoreTest, AuditEntriesAreAppendedAndQueriedNewestFirst) {
  std::vector<AuditEntry> appended;
  const char* actors[] = {"user:alice", "user:bob", "system"};
  const char* actions[] = {"tenant.create", "key.revoke"};
  for (int i = 0; i < 12; ++i) {
    now_ms += 1000;
    ASSERT_OK_AND_ASSIGN(AuditEntry e, store().AppendAudit(Audit(actors[i % 3], actions[i % 2],
                                                                 i % 4 == 0 ? "denied" : "ok")));
    EXPECT_EQ(e.at, now_ms) << "the store's clock stamps entries";
    if (!appended.empty()) {
      EXPECT_GT(e.id, appended.back().id);
    }
    EXPECT_EQ(e.target, "tenant:acme");
    EXPECT_EQ(e.source_ip, "10.0.0.1");
    appended.push_back(e);
  }

  // Reference: filter the appended list in memory, newest first.
  auto expect_query = [&](const AuditFilter& filter, auto predicate) {
    std::vector<int64_t> want;
    for (auto it = appended.rbegin(); it != appended.rend(); ++it) {
      if (predicate(*it) && static_cast<int64_t>(want.size()) < filter.limit) {
        want.push_back(it->id);
      }
    }
    auto got = store().QueryAudit(filter);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    std::vector<int64_t> got_ids;
    for (const AuditEntry& e : *got) got_ids.push_back(e.id);
    EXPECT_EQ(got_ids, want);
  };
  expect_query(AuditFilter{}, [](const AuditEntry&) { return true; });
  AuditFilter by_actor;
  by_actor.actor = "user:bob";
  expect_query(by_actor, [](const AuditEntry& e) { return e.actor == "user:bob"; });
  AuditFilter denied_creates;
  denied_creates.action = "tenant.create";
  denied_creates.result = "denied";
  expect_query(denied_creates, [](const AuditEntry& e) {
    return e.action == "tenant.create" && e.result == "denied";
  });
  AuditFilter window;
  window.from = appended[3].at;
  window.to = appended[7].at;
  expect_query(
      window, [&](const AuditEntry& e) { return e.at >= appended[3].at && e.at < appended[7].at; });
  AuditFilter page;
  page.before_id = appended[9].id;
  page.limit = 4;
  expect_query(page, [&](const AuditEntry& e) { return e.id < appended[9].id; });
  AuditFilter none;
  none.target = "tenant:other";
  expect_query(none, [](const AuditEntry&) { return false; });

  AuditFilter too_many;
  too_many.limit = 0;
  EXPECT_CODE(store().QueryAudit(too_many), StatusCode::kInvalidArgument);
  EXPECT_CODE(store().AppendAudit(Audit("", "x", "ok")), StatusCode::kInvalidArgument);
  AuditEntry huge = Audit("a", "b", "ok");
  huge.detail = std::string(5000, 'x');
  EXPECT_CODE(store().AppendAudit(huge), StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, TheAuditLogRejectsUpdatesAndDeletes) {
  ASSERT_OK_AND_ASSIGN(AuditEntry e, store().AppendAudit(Audit("system", "x", "ok")));
  ASSERT_OK_AND_ASSIGN(auto db, OpenDriver());
  SqlValue id[] = {e.id};
  auto updated = db->Execute("UPDATE audit_log SET result = 'tampered' WHERE id = ?", id);
  EXPECT_EQ(updated.status().code(), StatusCode::kFailedPrecondition)
      << updated.status().ToString();
  EXPECT_TRUE(Contains(updated.status(), "append-only")) << updated.status().ToString();
  auto deleted = db->Execute("DELETE FROM audit_log WHERE id = ?", id);
  EXPECT_EQ(deleted.status().code(), StatusCode::kFailedPrecondition)
      << deleted.status().ToString();
  ASSERT_OK_AND_ASSIGN(auto entries, store().QueryAudit(AuditFilter{}));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].result, "ok");
}

TEST_P(StoreTest, ConcurrentAppendsFromManyThreadsAllLand) {
  constexpr int kThreads = 4;
  constexpr int kEach = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (!store().AppendAudit(Audit("thread:" + std::to_string(t), "x", "ok")).ok()) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  AuditFilter all;
  all.limit = 1000;
  ASSERT_OK_AND_ASSIGN(auto entries, store().QueryAudit(all));
  EXPECT_EQ(entries.size(), static_cast<size_t>(kThreads * kEach));
  std::set<int64_t> ids;
  for (const auto& e : entries) ids.insert(e.id);
  EXPECT_EQ(ids.size(), entries.size());
}

// Usage --------------------------------------------------------------------------------------

TEST_P(StoreTest, UsageIsAggregatedPerKeyAndDeploymentOverATimeRange) {
  // Reference: the same events summed in memory.
  std::mt19937 rng(1234);
  const std::optional<int64_t> keys[] = {std::nullopt, 11, 12};
  const char* deployments[] = {"llama", "qwen", "Qwen", "_r1"};  // case and '_' order matter
  const int64_t from = 10'000, to = 20'000;
  using Group = std::tuple<std::optional<int64_t>, std::string>;
  std::map<Group, UsageTotals> expected;
  for (int i = 0; i < 300; ++i) {
    UsageEvent e;
    e.tenant_id = i % 7 == 0 ? 2 : 1;  // tenant 2's events must not count for tenant 1
    e.key_id = keys[rng() % 3];
    e.deployment = deployments[rng() % 4];
    e.at = 5'000 + static_cast<int64_t>(rng() % 20'000);  // some before, some after the range
    if (i == 0) e.at = from;                              // inclusive start
    if (i == 1) e.at = to;                                // exclusive end
    e.prompt_tokens = rng() % 5000;
    e.completion_tokens = rng() % 3000;
    ASSERT_OK(store().RecordUsage(e));
    if (e.tenant_id == 1 && e.at >= from && e.at < to) {
      UsageTotals& t = expected[{e.key_id, e.deployment}];
      t.key_id = e.key_id;
      t.deployment = e.deployment;
      t.requests += 1;
      t.prompt_tokens += e.prompt_tokens;
      t.completion_tokens += e.completion_tokens;
    }
  }
  ASSERT_OK_AND_ASSIGN(auto totals, store().QueryUsage(1, from, to));
  ASSERT_EQ(totals.size(), expected.size());
  size_t i = 0;
  for (const auto& [group, want] : expected) {  // std::map order: no key first, then by id, name
    const UsageTotals& got = totals[i++];
    EXPECT_EQ(got.key_id, want.key_id);
    EXPECT_EQ(got.deployment, want.deployment);
    EXPECT_EQ(got.requests, want.requests);
    EXPECT_EQ(got.prompt_tokens, want.prompt_tokens);
    EXPECT_EQ(got.completion_tokens, want.completion_tokens);
  }

  ASSERT_OK_AND_ASSIGN(auto empty, store().QueryUsage(3, from, to));
  EXPECT_TRUE(empty.empty());
  EXPECT_CODE(store().QueryUsage(1, to, from), StatusCode::kInvalidArgument);
  UsageEvent negative{1, std::nullopt, "llama", 1, -1, 0};
  EXPECT_EQ(store().RecordUsage(negative).code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, LargeTokenSumsDoNotOverflow32Bits) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(store().RecordUsage(UsageEvent{1, 5, "big", 100, 3'000'000'000, 1}));
  }
  ASSERT_OK_AND_ASSIGN(auto totals, store().QueryUsage(1, 0, 1000));
  ASSERT_EQ(totals.size(), 1u);
  EXPECT_EQ(totals[0].prompt_tokens, 9'000'000'000);
  EXPECT_EQ(totals[0].requests, 3);
}

TEST_P(StoreTest, AUsageBatchIsRecordedWhollyOrNotAtAll) {
  std::vector<UsageEvent> batch;
  for (int i = 0; i < 50; ++i) batch.push_back(UsageEvent{1, i % 2, "llama", 100 + i, i, 2 * i});
  ASSERT_OK(store().RecordUsageBatch(batch));
  ASSERT_OK_AND_ASSIGN(auto totals, store().QueryUsage(1, 0, 1000));
  ASSERT_EQ(totals.size(), 2u);
  EXPECT_EQ(totals[0].key_id, 0);
  EXPECT_EQ(totals[0].requests + totals[1].requests, 50);
  EXPECT_EQ(totals[0].prompt_tokens + totals[1].prompt_tokens, 49 * 50 / 2);
  EXPECT_EQ(totals[0].completion_tokens + totals[1].completion_tokens, 49 * 50);

  // One bad event refuses the whole batch; nothing of it is recorded.
  std::vector<UsageEvent> bad = batch;
  bad[30].deployment.clear();
  EXPECT_EQ(store().RecordUsageBatch(bad).code(), StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(totals, store().QueryUsage(1, 0, 1000));
  EXPECT_EQ(totals[0].requests + totals[1].requests, 50);
  ASSERT_OK(store().RecordUsageBatch({}));
}

// Quotas -------------------------------------------------------------------------------------

TEST_P(StoreTest, QuotasAreSetReplacedAndDeleted) {
  ASSERT_OK_AND_ASSIGN(Tenant acme, store().CreateTenant("acme"));
  ASSERT_OK_AND_ASSIGN(ApiKey key, store().CreateApiKey(KeyFor(acme.id, "ci", "aaaaaaaa")));
  auto tenant = QuotaSubject::Tenant(acme.id);
  auto per_key = QuotaSubject::ApiKey(key.id);
  EXPECT_CODE(store().GetQuota(tenant), StatusCode::kNotFound);

  ASSERT_OK(store().SetQuota(tenant, Quota{60, 100'000, 4}));
  ASSERT_OK_AND_ASSIGN(Quota q, store().GetQuota(tenant));
  EXPECT_EQ(q, (Quota{60, 100'000, 4}));
  EXPECT_CODE(store().GetQuota(per_key), StatusCode::kNotFound)
      << "a tenant quota is not a key quota";

  ASSERT_OK(store().SetQuota(tenant, Quota{std::nullopt, 5'000, std::nullopt}));
  ASSERT_OK_AND_ASSIGN(q, store().GetQuota(tenant));
  EXPECT_EQ(q, (Quota{std::nullopt, 5'000, std::nullopt})) << "set replaces every field";

  // A key id equal to the tenant id must not collide with the tenant's row.
  ASSERT_OK(store().SetQuota(per_key, Quota{1, 2, 3}));
  ASSERT_OK_AND_ASSIGN(q, store().GetQuota(per_key));
  EXPECT_EQ(q, (Quota{1, 2, 3}));
  ASSERT_OK_AND_ASSIGN(q, store().GetQuota(tenant));
  EXPECT_EQ(q.tokens_per_minute, 5'000);

  ASSERT_OK(store().DeleteQuota(tenant));
  EXPECT_CODE(store().GetQuota(tenant), StatusCode::kNotFound);
  EXPECT_EQ(store().DeleteQuota(tenant).code(), StatusCode::kNotFound);
  ASSERT_OK(store().GetQuota(per_key).status());

  Status orphan = store().SetQuota(QuotaSubject::Tenant(9999), Quota{1, 1, 1});
  EXPECT_EQ(orphan.code(), StatusCode::kNotFound) << orphan.ToString();
  EXPECT_TRUE(Contains(orphan, "tenant 9999 does not exist"));
  EXPECT_EQ(store().SetQuota(QuotaSubject::ApiKey(9999), Quota{}).code(), StatusCode::kNotFound);
  EXPECT_EQ(store().SetQuota(tenant, Quota{-1, 1, 1}).code(), StatusCode::kInvalidArgument);
}

// Two stores on one database (two processes) see each other's writes.
TEST_P(StoreTest, ASecondStoreOnTheSameDatabaseSeesWrites) {
  ASSERT_OK_AND_ASSIGN(auto other, OpenStore());
  ASSERT_OK_AND_ASSIGN(Tenant acme, store().CreateTenant("acme"));
  ASSERT_OK_AND_ASSIGN(Tenant seen, other->FindTenantByName("acme"));
  EXPECT_EQ(seen.id, acme.id);
  EXPECT_CODE(other->CreateTenant("acme"), StatusCode::kAlreadyExists);
  EXPECT_EQ(other->backend(), store().backend());
}

}  // namespace
}  // namespace hearth::platform::testing
