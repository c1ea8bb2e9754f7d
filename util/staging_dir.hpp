// A set of files that appear in a directory together or not at all: each is
// written under its final name into a private staging directory inside the
// target directory (same filesystem, so moving it out is a rename), and all
// are moved into place by commit(). Until then the target directory keeps
// what it had, so a run that fails halfway neither leaves part of its output
// set behind nor destroys an earlier run's files of the same names.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace ef {

class StagingDir {
 public:
  /// Creates `dir` (and missing parents) and a staging directory in it named
  /// ".`label`.staging-XXXXXX". `dir` may be relative; every path this
  /// object hands out is absolute, so tools run from any working directory
  /// find the files.
  static Result<StagingDir> create(const std::filesystem::path& dir, const std::string& label);

  StagingDir(StagingDir&& other) noexcept;
  StagingDir& operator=(StagingDir&& other) noexcept;
  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;
  /// Unless commit() succeeded: removes the staging directory with whatever
  /// is in it, and the directories create() made when they are empty again.
  ~StagingDir();

  /// The staging directory (absolute).
  const std::filesystem::path& path() const { return staging_; }
  /// Where the file `name` is written before commit (absolute).
  std::filesystem::path staged(const std::string& name) const { return staging_ / name; }

  /// Renames the staged files `names`, in this order, into the target
  /// directory (replacing files of the same names), syncs the directory and
  /// removes the staging directory with anything else left in it. Put the
  /// file that describes the others (a manifest) last.
  Result<void> commit(const std::vector<std::string>& names);

 private:
  StagingDir(std::filesystem::path dir, std::filesystem::path staging,
             std::vector<std::filesystem::path> created)
      : dir_(std::move(dir)), staging_(std::move(staging)), created_(std::move(created)) {}
  void discard();

  std::filesystem::path dir_;
  std::filesystem::path staging_;
  std::vector<std::filesystem::path> created_;  // by create(), deepest first
};

}  // namespace ef
