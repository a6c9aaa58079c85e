// The data directory: where Hearth keeps its store, models and state (default ~/.hearth).
#pragma once

#include <filesystem>

#include "hearth/base/status.h"

namespace hearth {

// $HOME/.hearth, or ./.hearth when HOME is unset.
std::filesystem::path DefaultDataDir();

// Creates `dir` (and parents) if needed and proves it writable by creating and removing a probe
// file. Fails with one line naming the directory and the reason.
Status EnsureDataDir(const std::filesystem::path& dir);

}  // namespace hearth
