// The platform's front-door limits come from configuration keys whose defaults are the code's
// own defaults, and out-of-range values are refused with the key's name.
#include "hearth/platform/platform_config.h"

#include <gtest/gtest.h>

#include "hearth/cli/global_options.h"
#include "hearth/platform/api_key_cache.h"
#include "hearth/platform/gateway.h"
#include "hearth/platform/login_throttle.h"
#include "hearth/server/http_server.h"

namespace hearth {
namespace {

TEST(PlatformConfigTest, FrontDoorDefaultsAreTheComponentsOwn) {
  Config config(cli::ConfigSchema());
  auto options = platform::PlatformOptionsFromConfig(config);
  ASSERT_TRUE(options.ok()) << options.status().message();
  EXPECT_EQ(options->api_key_cache_ttl, platform::ApiKeyCacheOptions{}.ttl);
  EXPECT_EQ(options->login_max_failures, platform::LoginThrottleOptions{}.max_failures_per_user);
  EXPECT_EQ(options->stream_window_bytes, platform::GatewayOptions{}.stream_window_bytes);
  EXPECT_EQ(options->http.write_timeout, server::HttpServerOptions{}.write_timeout);
}

TEST(PlatformConfigTest, FrontDoorKeysAreApplied) {
  Config config(cli::ConfigSchema());
  ASSERT_TRUE(config.SetFromFlag("platform.api_key_cache_ms", "0").ok());
  ASSERT_TRUE(config.SetFromFlag("platform.login_max_failures", "3").ok());
  ASSERT_TRUE(config.SetFromFlag("platform.stream_window", "1M").ok());
  ASSERT_TRUE(config.SetFromFlag("server.write_timeout_ms", "2500").ok());
  auto options = platform::PlatformOptionsFromConfig(config);
  ASSERT_TRUE(options.ok()) << options.status().message();
  EXPECT_EQ(options->api_key_cache_ttl.count(), 0);
  EXPECT_EQ(options->login_max_failures, 3);
  EXPECT_EQ(options->stream_window_bytes, 1u << 20);
  EXPECT_EQ(options->http.write_timeout.count(), 2500);
}

TEST(PlatformConfigTest, OutOfRangeValuesNameTheirKey) {
  for (auto [key, value] : {std::pair{"platform.login_max_failures", "0"},
                            {"platform.api_key_cache_ms", "-1"},
                            {"platform.stream_window", "1K"},
                            {"server.write_timeout_ms", "5"}}) {
    Config config(cli::ConfigSchema());
    ASSERT_TRUE(config.SetFromFlag(key, value).ok()) << key;
    auto options = platform::PlatformOptionsFromConfig(config);
    ASSERT_FALSE(options.ok()) << key << "=" << value;
    EXPECT_NE(options.status().message().find(key), std::string::npos)
        << options.status().message();
  }
}

}  // namespace
}  // namespace hearth
