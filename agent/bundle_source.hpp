// Where the agent reads a bundle from: a local file or an HTTP(S) URL. Both
// give the bounded, checked bundle head first and then stream the payload
// once, so a device never stores a bundle it installs from the network.
#pragma once

#include <memory>
#include <string>

#include "signing/bundle.hpp"
#include "util/error.hpp"
#include "util/http_stream.hpp"

namespace ef::agent {

class BundleSource {
 public:
  virtual ~BundleSource() = default;

  /// A path, or an http:// or https:// URL. Reads and checks the head (not
  /// the signatures: see signing::BundleHead::check_signatures).
  static Result<std::unique_ptr<BundleSource>> open(const std::string& location,
                                                    const HttpStreamOptions& http = {});

  const signing::BundleHead& head() const { return head_; }
  const std::string& location() const { return location_; }

  /// Streams payload bytes [offset, offset + length) to `sink` in order.
  virtual Result<void> stream_payload(uint64_t offset, uint64_t length, const ByteSink& sink) = 0;

  /// True when read_payload() works (local files): callers can then read
  /// straight into their own buffers instead of copying from the sink.
  virtual bool can_read_at() const { return false; }
  /// Reads payload bytes [offset, offset + size) into `out`.
  virtual Result<void> read_payload(uint64_t offset, char* out, size_t size) {
    (void)offset, (void)out, (void)size;
    return Error(Errc::internal, "this bundle source only streams");
  }

 protected:
  BundleSource(std::string location, signing::BundleHead head)
      : location_(std::move(location)), head_(std::move(head)) {}

 private:
  std::string location_;
  signing::BundleHead head_;
};

}  // namespace ef::agent
