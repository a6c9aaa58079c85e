// The SQLite driver: an embedded database file, normally in the data directory.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>

#include "hearth/platform/sql_driver.h"

namespace hearth::platform {

struct SqliteOptions {
  // How long a statement waits for another process's write lock before failing kUnavailable.
  std::chrono::milliseconds busy_timeout{5000};
};

// Opens (creating if absent) the database file at `path` with WAL journaling (readers do not
// block the writer), foreign keys enforced (SQLite leaves them off by default) and a busy
// timeout. The parent directory must exist.
Result<std::unique_ptr<SqlDriver>> OpenSqliteDriver(const std::filesystem::path& path,
                                                    const SqliteOptions& options = {});

}  // namespace hearth::platform
