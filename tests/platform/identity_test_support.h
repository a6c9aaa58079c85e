// Identity options for tests of the platform's identity, admin API and gateway.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>

#include "hearth/platform/identity.h"

namespace hearth::platform::testing {

// The test's clock and the cheapest argon2id cost: the tests check logic, not hardness.
inline IdentityOptions TestIdentityOptions(std::function<int64_t()> clock) {
  IdentityOptions options;
  options.clock = std::move(clock);
  options.password_params = {1, 8, 1};
  return options;
}

}  // namespace hearth::platform::testing
