#include "agent/bundle_source.hpp"

#include <algorithm>
#include <vector>

#include "util/file_io.hpp"

namespace ef::agent {
namespace {

class FileSource : public BundleSource {
 public:
  FileSource(std::string location, signing::Bundle bundle)
      : BundleSource(std::move(location), bundle.head()), bundle_(std::move(bundle)) {}

  bool can_read_at() const override { return true; }
  Result<void> read_payload(uint64_t offset, char* out, size_t size) override {
    return pread_all(bundle_.fd(), out, size, head().header().payload_offset + offset,
                     bundle_.path());
  }

  Result<void> stream_payload(uint64_t offset, uint64_t length, const ByteSink& sink) override {
    return stream_range(bundle_.fd(), head().header().payload_offset + offset, length,
                        bundle_.path(),
                        [&](const char* p, size_t n, uint64_t) { return sink(p, n); });
  }

 private:
  signing::Bundle bundle_;
};

class HttpSource : public BundleSource {
 public:
  HttpSource(std::string url, signing::BundleHead head, HttpStreamOptions options)
      : BundleSource(url, std::move(head)), url_(std::move(url)), options_(options) {}

  Result<void> stream_payload(uint64_t offset, uint64_t length, const ByteSink& sink) override {
    return http_stream(url_, head().header().payload_offset + offset, length, sink, options_);
  }

 private:
  std::string url_;
  HttpStreamOptions options_;
};

bool is_url(const std::string& s) {
  return s.starts_with("http://") || s.starts_with("https://");
}

}  // namespace

Result<std::unique_ptr<BundleSource>> BundleSource::open(const std::string& location,
                                                         const HttpStreamOptions& http) {
  if (!is_url(location)) {
    EF_ASSIGN(signing::Bundle bundle, signing::Bundle::open(location));
    return std::unique_ptr<BundleSource>(new FileSource(location, std::move(bundle)));
  }
  // The header says how long the bundle is; the head is then read against
  // that length (a short download is caught while streaming the payload).
  std::string first(signing::kBundleHeaderSize, '\0');
  EF_TRY(http_read(location, 0, first.data(), first.size(), http));
  EF_ASSIGN(auto header, signing::decode_header(first));
  uint64_t total = header.payload_offset + header.payload_size;
  EF_ASSIGN(auto head, signing::BundleHead::read(
                           [&](uint64_t offset, char* out, size_t size) {
                             return http_read(location, offset, out, size, http);
                           },
                           total));
  return std::unique_ptr<BundleSource>(new HttpSource(location, std::move(head), http));
}

}  // namespace ef::agent
