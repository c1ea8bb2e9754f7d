// Where an operator keeps a channel: a directory (what a web server, bucket
// or USB stick serves: DIR/NAME.json beside the bundles and heads it names)
// or an OCI repository (the channel tagged NAME beside the heads `edgeforge
// publish` tagged there; channel/oci_channel.hpp). The channel commands
// read, change and write a channel through this one interface.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "channel/channel.hpp"
#include "signing/keys.hpp"
#include "util/error.hpp"
#include "util/oci_registry.hpp"

namespace ef::channel {

class ChannelStore {
 public:
  virtual ~ChannelStore() = default;
  /// Where channel `name` is: DIR/NAME.json or oci://HOST/REPO:NAME.
  virtual std::string where(const std::string& name) const = 0;
  /// Channel `name`'s file as it stands; Errc::not_found when there is none.
  virtual Result<std::string> read(const std::string& name) = 0;
  /// Replaces channel `name` with `file_bytes` in one step readers see whole.
  virtual Result<void> write(const std::string& name, const std::string& file_bytes) = 0;
  /// The release made of what the store holds: `bundle` (a full .efb)
  /// and/or `head` (a published head); either may be empty. Product,
  /// compatible and version come from the signed manifest they carry.
  virtual Result<Release> release(const std::string& bundle, const std::string& head) = 0;
};

/// A channel directory (created on the first write).
std::unique_ptr<ChannelStore> open_dir_store(const std::filesystem::path& dir);
/// A repository of `registry` (its reference's tag is ignored).
std::unique_ptr<ChannelStore> open_oci_store(std::unique_ptr<OciRegistry> registry);

/// Channel `name` as it stands, parsed but not trusted (the operator's keys
/// sign what comes next). Errc::not_found when there is none.
Result<ChannelDoc> read_current(ChannelStore& store, const std::string& name);

/// Signs `doc` and replaces it in `store`. Returns the file bytes.
Result<std::string> write_channel(ChannelStore& store, const ChannelDoc& doc,
                                  const std::vector<const signing::SigningKey*>& keys);

}  // namespace ef::channel
