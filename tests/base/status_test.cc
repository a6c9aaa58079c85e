#include "hearth/base/status.h"

#include <gtest/gtest.h>

#include <memory>

namespace hearth {
namespace {

Result<int> ParsePositive(int x) {
  if (x <= 0) return Status::InvalidArgument(fmt::format("{} is not positive", x));
  return x;
}

Result<int> Doubled(int x) {
  HEARTH_ASSIGN_OR_RETURN(int v, ParsePositive(x));
  return v * 2;
}

Status CheckBoth(int a, int b) {
  HEARTH_RETURN_IF_ERROR(ParsePositive(a).status());
  HEARTH_RETURN_IF_ERROR(ParsePositive(b).status());
  return Status::Ok();
}

TEST(StatusTest, OkAndErrorCarryCodeAndMessage) {
  EXPECT_TRUE(Status::Ok().ok());
  EXPECT_EQ(Status::Ok().ToString(), "OK");
  Status s = Status::NotFound("model x");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "NotFound: model x");
  EXPECT_EQ(s.WithContext("registry").message(), "registry: model x");
  EXPECT_EQ(s.WithContext("registry").code(), StatusCode::kNotFound);
}

TEST(StatusTest, MacrosPropagateFirstFailure) {
  EXPECT_EQ(*Doubled(4), 8);
  Result<int> bad = Doubled(-3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "-3 is not positive");
  EXPECT_TRUE(CheckBoth(1, 2).ok());
  EXPECT_EQ(CheckBoth(1, 0).message(), "0 is not positive");
}

TEST(StatusTest, ResultFromOkStatusIsAnInternalError) {
  Result<int> r{Status::Ok()};
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

TEST(StatusTest, ResultHoldsMoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
  EXPECT_EQ(Result<int>(Status::Internal("x")).value_or(5), 5);
}

}  // namespace
}  // namespace hearth
