// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// One process at a time owns a data directory for writing it wholesale: `lotse-relay serve` for
// its whole life, `lotse-relay backup restore` while it replaces the files. Both take an exclusive
// flock(2) on data_dir/lotse-relay.lock; the kernel drops it when the process ends, however it
// ends, so a crash never leaves a stale lock. (Admin commands that only add rows, such as
// `invite create`, and `backup create` work beside a running relay and take no lock.)
#include <filesystem>
#include <string>

namespace lotse::app {

class DataDirLock {
public:
  static constexpr const char* file_name = "lotse-relay.lock";

  // Takes the lock (creating the file, 0600). Throws std::runtime_error if another process
  // holds it: `refusal` and then the lock file's name.
  DataDirLock(const std::filesystem::path& data_dir, const std::string& refusal);
  ~DataDirLock();
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

private:
  int fd_ = -1;
};

}  // namespace lotse::app
