#include "hearth/platform/bootstrap.h"

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <sstream>

#include "backends.h"

namespace hearth::platform::testing {
namespace {

using BootstrapTest = BackendTest;
HEARTH_INSTANTIATE_FOR_BACKENDS(BootstrapTest);

EnvLookup FakeEnv(std::map<std::string, std::string, std::less<>> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

IdentityOptions Fast() {
  IdentityOptions o;
  o.password_params = {1, 8, 1};
  return o;
}

TEST_P(BootstrapTest, CreatesOneAdminWithAPasswordPrintedOnce) {
  std::ostringstream out;
  ASSERT_OK_AND_ASSIGN(BootstrapResult first,
                       EnsureBootstrapAdmin(store(), FakeEnv({}), out, Fast()));
  ASSERT_TRUE(first.created);
  EXPECT_TRUE(first.password_generated);
  ASSERT_TRUE(first.admin.has_value());
  EXPECT_EQ(first.admin->name, "admin");
  EXPECT_EQ(first.admin->role, Role::kPlatformAdmin);
  EXPECT_FALSE(first.admin->tenant_id.has_value());

  std::smatch m;
  std::string printed = out.str();
  ASSERT_TRUE(std::regex_search(printed, m, std::regex("one-time password: ([a-z2-7]{32})\n")))
      << printed;
  std::string password = m[1].str();
  Identity identity(store(), Fast());
  ASSERT_OK_AND_ASSIGN(User logged_in, identity.Authenticate("admin", password));
  EXPECT_EQ(logged_in.id, first.admin->id);

  // Every later start finds a user and does nothing, printing nothing.
  std::ostringstream again;
  ASSERT_OK_AND_ASSIGN(BootstrapResult second,
                       EnsureBootstrapAdmin(store(), FakeEnv({}), again, Fast()));
  EXPECT_FALSE(second.created);
  EXPECT_TRUE(again.str().empty());
  ASSERT_OK_AND_ASSIGN(int64_t users, store().CountUsers());
  EXPECT_EQ(users, 1);
  ASSERT_OK(identity.Authenticate("admin", password).status());

  AuditFilter filter;
  filter.action = "bootstrap.admin";
  ASSERT_OK_AND_ASSIGN(auto audit, store().QueryAudit(filter));
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].actor, "system");
  EXPECT_EQ(audit[0].target, "user:admin");
  EXPECT_EQ(audit[0].detail.find(password), std::string::npos);
}

TEST_P(BootstrapTest, TakesThePasswordAndNameFromTheEnvironment) {
  std::ostringstream out;
  ASSERT_OK_AND_ASSIGN(BootstrapResult result,
                       EnsureBootstrapAdmin(store(),
                                            FakeEnv({{"HEARTH_ADMIN_PASSWORD", "s3cret-from-env"},
                                                     {"HEARTH_ADMIN_USER", "root"}}),
                                            out, Fast()));
  ASSERT_TRUE(result.created);
  EXPECT_FALSE(result.password_generated);
  EXPECT_EQ(out.str().find("s3cret-from-env"), std::string::npos)
      << "a password the operator supplied is not echoed";
  EXPECT_NE(out.str().find("HEARTH_ADMIN_PASSWORD"), std::string::npos);
  Identity identity(store(), Fast());
  ASSERT_OK(identity.Authenticate("root", "s3cret-from-env").status());
}

TEST_P(BootstrapTest, RefusesAWeakEnvironmentPasswordAndCreatesNothing) {
  std::ostringstream out;
  auto result =
      EnsureBootstrapAdmin(store(), FakeEnv({{"HEARTH_ADMIN_PASSWORD", "short"}}), out, Fast());
  EXPECT_CODE(result, StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("HEARTH_ADMIN_PASSWORD"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(int64_t users, store().CountUsers());
  EXPECT_EQ(users, 0);
  EXPECT_TRUE(out.str().empty());
}

TEST_P(BootstrapTest, DoesNothingWhenAnyUserExists) {
  ASSERT_OK_AND_ASSIGN(Tenant acme, store().CreateTenant("acme"));
  ASSERT_OK(store().CreateUser(NewUser{acme.id, "alice", Role::kMember, "h"}).status());
  std::ostringstream out;
  ASSERT_OK_AND_ASSIGN(BootstrapResult result,
                       EnsureBootstrapAdmin(store(), FakeEnv({}), out, Fast()));
  EXPECT_FALSE(result.created);
  EXPECT_CODE(store().FindUserByName("admin"), StatusCode::kNotFound);
}

}  // namespace
}  // namespace hearth::platform::testing
