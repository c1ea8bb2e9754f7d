#include "agent/delta_install.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include "agent/slot_chunks.hpp"
#include "signing/chunk_store.hpp"
#include "signing/delta_plan.hpp"
#include "signing/oci_store.hpp"
#include "signing/verity.hpp"
#include "util/atomic_file.hpp"
#include "util/file_io.hpp"
#include "util/http_client.hpp"
#include "util/oci_registry.hpp"
#include "util/sha256.hpp"
#include "util/unique_fd.hpp"

namespace ef::agent {
namespace {

namespace fs = std::filesystem;
using signing::Chunk;

bool is_url(const std::string& s) {
  return s.starts_with("http://") || s.starts_with("https://");
}

Result<UniqueFd> open_file(const fs::path& path, int flags) {
  UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
  if (!fd) return errno_error(Errc::io, "cannot open " + path.string(), errno);
  return fd;
}

/// One download worker's connections.
struct Connection {
  explicit Connection(const HttpStreamOptions& http) : client(http) {}
  HttpClient client;
  std::unique_ptr<OciRegistry> registry;  // an OCI store's, with its own login
};

/// Where the head and the chunks are: the directory of the head's URL or
/// path (the layout `edgeforge publish` writes), or an OCI repository (the
/// tagged artifact's first layer is the head, chunks are blobs).
class Store {
 public:
  Store(std::string head, HttpStreamOptions http) : head_(std::move(head)), http_(http) {
    http_.same_origin_only = true;
    base_ = head_.substr(0, head_.find_last_of('/') + 1);
  }

  /// For an OCI store: the manifest, then the head blob it names. With
  /// `expected`, the whole head is read now and must be those bytes.
  Result<void> open(const std::optional<ExpectedFile>& expected) {
    if (!head_.starts_with("oci://")) {
      if (!expected) return Ok{};
      if (expected->size > kMaxHeadBytes)
        return Error(Errc::bad_bundle, head_ + ": a bundle head of " +
                                           std::to_string(expected->size) +
                                           " bytes is over the limit");
      head_bytes_.assign(expected->size, '\0');
      if (is_url(head_)) {
        EF_TRY(http_read(head_, 0, head_bytes_.data(), head_bytes_.size(), http_));
      } else {
        EF_ASSIGN(head_bytes_, read_file(head_));
      }
      whole_ = true;
      return check_expected(*expected);
    }
    EF_ASSIGN(auto ref, parse_oci_reference(head_));
    if (ref.tag.empty())
      return Error(Errc::invalid_argument, head_ + ": give the tag (oci://HOST/REPO:VERSION)");
    EF_ASSIGN(credentials_, docker_config_credentials(ref.registry, default_docker_config()));
    oci_ = ref;
    Connection c(http_);
    EF_ASSIGN(OciRegistry * registry, registry_of(c));
    EF_ASSIGN(head_bytes_, signing::fetch_oci_head(*registry, ref.tag, kMaxHeadBytes));
    whole_ = true;
    return expected ? check_expected(*expected) : Ok{};
  }

  Result<void> read_head(uint64_t offset, char* out, size_t size) {
    if (whole_) {
      if (offset + size > head_bytes_.size())
        return Error(Errc::bad_bundle, head_ + ": the bundle head is " +
                                           std::to_string(head_bytes_.size()) + " bytes, short");
      std::copy_n(head_bytes_.data() + offset, size, out);
      return Ok{};
    }
    if (!is_url(head_)) {
      if (!head_fd_) {
        EF_ASSIGN(head_fd_, open_file(head_, O_RDONLY));
      }
      return pread_all(head_fd_.get(), out, size, offset, head_);
    }
    return http_read(head_, offset, out, size, http_);
  }

  std::string chunk_location(const Chunk& c) const {
    if (oci_) return oci_->api_base() + "blobs/sha256:" + c.sha256;
    return base_ + signing::chunk_store_path(c.sha256);
  }

  /// The stored form of `c` (at most c.size bytes).
  Result<std::string> fetch(const Chunk& c, Connection& conn) const {
    if (oci_) {
      EF_ASSIGN(OciRegistry * registry, registry_of(conn));
      return registry->get_blob("sha256:" + c.sha256, c.size);
    }
    std::string where = chunk_location(c);
    if (is_url(where)) return conn.client.get(where, c.size);
    std::error_code ec;
    auto size = fs::file_size(where, ec);
    if (ec) return Error(Errc::not_found, where + ": " + ec.message());
    if (size > c.size)
      return Error(Errc::checksum, where + ": " + std::to_string(size) +
                                       " bytes, more than the chunk's " + std::to_string(c.size));
    return read_file(where);
  }

  const HttpStreamOptions& http() const { return http_; }

  static constexpr uint64_t kMaxHeadBytes = 64ull << 20;

 private:
  Result<OciRegistry*> registry_of(Connection& conn) const {
    if (!conn.registry) conn.registry = std::make_unique<OciRegistry>(*oci_, credentials_, http_);
    return conn.registry.get();
  }

  std::string head_, base_;
  HttpStreamOptions http_;
  UniqueFd head_fd_;
  std::optional<OciReference> oci_;
  OciCredentials credentials_;
  std::string head_bytes_;
  bool whole_ = false;  // head_bytes_ holds the whole head

  Result<void> check_expected(const ExpectedFile& e) const {
    std::string sha = sha256_hex(head_bytes_);
    if (head_bytes_.size() != e.size || sha != e.sha256)
      return Error(Errc::checksum,
                   head_ + ": the bundle head is " + std::to_string(head_bytes_.size()) +
                       " bytes with sha256 " + sha + ", not the " + std::to_string(e.size) +
                       " bytes with sha256 " + e.sha256 +
                       " the channel names; nothing else of the release was fetched");
    return Ok{};
  }
};

/// A slot's squashfs image: bytes_used at byte 40 of the superblock, padded
/// to 4 KiB; 0 when the slot holds no squashfs.
uint64_t seed_image_size(int fd) {
  char sb[48];
  if (::pread(fd, sb, sizeof sb, 0) != static_cast<ssize_t>(sizeof sb) ||
      std::string_view(sb, 4) != "hsqs")
    return 0;
  uint64_t used = 0;
  for (int i = 7; i >= 0; --i) used = (used << 8) | static_cast<uint8_t>(sb[40 + i]);
  return (used + 4095) / 4096 * 4096;
}

/// How much of a seed slot to cut: its image (`image_size` bytes) and the
/// verity tree after it.
uint64_t seed_length(uint64_t image_size, uint64_t capacity) {
  if (image_size == 0) return 0;
  return std::min(capacity, image_size + signing::verity_tree_size(image_size / 4096));
}

struct SeedChunk {
  size_t seed = 0;
  uint64_t offset = 0;
};

class DeltaInstall {
 public:
  DeltaInstall(const SlotInstallOptions& o, Store& store, const signing::BundleManifest& m,
               std::vector<Chunk> chunks, std::optional<SlotChunks> target_kept)
      : o_(o),
        store_(store),
        m_(m),
        chunks_(std::move(chunks)),
        done_(chunks_.size(), false),
        target_kept_(std::move(target_kept)) {
    stats_.used = true;
    stats_.chunks = chunks_.size();
    stats_.payload_bytes = m.payload.size;
  }

  Result<DeltaStats> run() {
    auto t0 = std::chrono::steady_clock::now();
    EF_ASSIGN(target_, open_file(o_.slot, O_RDWR));
    EF_TRY(keep_what_the_target_has());
    EF_TRY(copy_from_seeds(t0));
    EF_TRY(fetch_the_rest());
    EF_TRY(compute_the_tree());
    if (::fdatasync(target_.get()) != 0)
      return errno_error(Errc::io, "cannot sync slot " + o_.slot.string(), errno);
    return stats_;
  }

 private:
  // The download workers report too: one at a time, so the callback (the
  // CLI's keeps the last percentage it printed) is never run concurrently.
  void progress() {
    std::lock_guard lock(mutex_);
    if (o_.progress) o_.progress(written_bytes_.load(), m_.payload.size);
  }

  // After a power cut or a dropped link, what an earlier try wrote stays;
  // so do the chunks the target's old release has at the same offsets. With
  // the index kept at its last install only the chunks it lists at the
  // release's offsets are read (and checked); without one every offset is.
  Result<void> keep_what_the_target_has() {
    std::set<std::pair<uint64_t, std::string>> listed;
    if (target_kept_)
      for (const Chunk& c : target_kept_->chunks) listed.emplace(c.offset, c.sha256);
    std::string buf;
    for (size_t i = 0; i < chunks_.size(); ++i) {
      const Chunk& c = chunks_[i];
      if (target_kept_ && !listed.contains({c.offset, c.sha256})) continue;
      buf.resize(c.size);
      if (!pread_all(target_.get(), buf.data(), c.size, c.offset, o_.slot)) break;
      stats_.scanned_bytes += c.size;
      if (sha256_hex(buf) != c.sha256) continue;
      done_[i] = true;
      ++stats_.in_target_chunks;
      written_bytes_ += c.size;
    }
    progress();
    return Ok{};
  }

  // What a seed slot holds: the index kept for it when that still fits its
  // image, else its image and verity tree cut as the release's payload was
  // (and that index kept for the next time). Empty when nothing is usable.
  std::vector<Chunk> seed_chunks_of(const SeedSlot& seed, int fd) {
    auto capacity = slot_capacity(seed.slot);
    uint64_t image_bytes = seed_image_size(fd);
    uint64_t length = capacity ? seed_length(image_bytes, *capacity) : 0;
    if (length == 0) return {};
    const signing::ChunkParams& params = m_.chunks->params;
    if (auto kept = load_slot_chunks(seed.chunks, params, image_bytes);
        kept && kept->payload_size <= *capacity) {
      ++stats_.seeds_from_kept_index;
      return std::move(kept->chunks);
    }
    // The seed's image is cut where its own blocks start, as the release's was.
    uint64_t image_size = std::min(length, image_bytes);
    auto blocks = signing::image_block_starts(seed.slot, 0, image_size, params);
    if (!blocks) return {};  // not a readable squashfs: nothing to reuse
    signing::Chunker chunker(params, std::move(*blocks));
    auto cut = stream_range(fd, 0, length, seed.slot,
                            [&](const char* p, size_t n, uint64_t) -> Result<void> {
                              chunker.update(p, n);
                              return Ok{};
                            });
    if (!cut) return {};  // an unreadable seed only costs downloads
    stats_.scanned_bytes += length;
    std::vector<Chunk> chunks = chunker.finish();
    // A hint for the next install: failing to keep it costs only time.
    if (!seed.chunks.empty())
      (void)keep_slot_chunks(seed.chunks, SlotChunks{params, image_size, length, chunks});
    return chunks;
  }

  Result<void> copy_from_seeds(std::chrono::steady_clock::time_point t0) {
    std::vector<Chunk> seed_chunks;
    std::vector<SeedChunk> where;
    for (size_t s = 0; s < o_.seeds.size(); ++s) {
      const SeedSlot& seed = o_.seeds[s];
      auto fd = open_file(seed.slot, O_RDONLY);
      std::error_code ec;
      if (!fd || fs::equivalent(seed.slot, o_.slot, ec)) continue;
      auto chunks = seed_chunks_of(seed, fd->get());
      if (chunks.empty()) continue;
      for (auto& c : chunks) {
        where.push_back({s, c.offset});
        seed_chunks.push_back(std::move(c));
      }
      seed_fds_.emplace(s, std::move(*fd));
    }
    std::vector<Chunk> remaining;
    for (size_t i = 0; i < chunks_.size(); ++i)
      if (!done_[i]) remaining.push_back(chunks_[i]);
    auto plan = signing::plan_delta(seed_chunks, remaining, m_.payload.size, m_.chunks->index_size,
                                    m_.image.size);
    stats_.full = plan.full;
    stats_.plan = plan.reason;
    stats_.plan_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (plan.full) return Ok{};
    for (size_t i = 0, r = 0; i < chunks_.size(); ++i) {
      if (done_[i]) continue;
      if (plan.sources[r++].kind != signing::ChunkSource::Kind::computed) continue;
      done_[i] = true;
      ++stats_.computed_chunks;
      stats_.computed_bytes += chunks_[i].size;
    }
    std::unordered_map<std::string, size_t> by_hash;
    for (size_t k = 0; k < seed_chunks.size(); ++k) by_hash.emplace(seed_chunks[k].sha256, k);
    std::string buf;
    for (size_t i = 0; i < chunks_.size(); ++i) {
      if (done_[i]) continue;
      const Chunk& c = chunks_[i];
      auto it = by_hash.find(c.sha256);
      if (it == by_hash.end()) continue;
      const SeedChunk& from = where[it->second];
      buf.resize(c.size);
      // The seed is read again and checked: it may have changed since it was cut.
      if (!pread_all(seed_fds_.at(from.seed).get(), buf.data(), c.size, from.offset,
                     o_.seeds[from.seed].slot) ||
          sha256_hex(buf) != c.sha256)
        continue;
      EF_TRY(pwrite_all(target_.get(), buf.data(), c.size, c.offset, o_.slot));
      done_[i] = true;
      ++stats_.seeded_chunks;
      stats_.seeded_bytes += c.size;
      written_bytes_ += c.size;
    }
    progress();
    return Ok{};
  }

  // One chunk from the store: fetched, checked, refetched once when its
  // bytes are wrong, then written at every offset the index lists it.
  Result<void> fetch_one(const std::vector<size_t>& at, Connection& conn) {
    const Chunk& c = chunks_[at.front()];
    Result<std::string> data = Error(Errc::internal, "not fetched");
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto stored = store_.fetch(c, conn);
      if (!stored) return std::move(stored).error().with_context("chunk " + c.sha256);
      {
        std::lock_guard lock(mutex_);
        ++stats_.fetched_chunks;
        stats_.fetched_bytes += stored->size();
      }
      data = signing::decode_stored_chunk(*stored, c);
      if (data) break;
    }
    if (!data)
      return std::move(data).error().with_context(store_.chunk_location(c) + " (fetched twice)");
    for (size_t i : at) {
      EF_TRY(pwrite_all(target_.get(), data->data(), c.size, chunks_[i].offset, o_.slot));
      written_bytes_ += c.size;
    }
    return Ok{};
  }

  // The verity tree's chunks are not fetched: the tree is built from the
  // image now in the slot, written after it, and must give the signed root
  // hash (the slot is verified again as a whole afterwards). After a power
  // cut the tree chunks the slot still held intact were kept and the rest
  // planned as computed again, so the whole tree is rewritten (the kept
  // chunks with the same bytes) and checked again.
  Result<void> compute_the_tree() {
    if (stats_.computed_chunks == 0) return Ok{};
    signing::VerityParams params;
    params.salt_hex = m_.verity.salt_hex;
    params.data_block_size = m_.verity.data_block_size;
    params.hash_block_size = m_.verity.hash_block_size;
    EF_ASSIGN(auto tree, signing::build_verity_tree(o_.slot, o_.slot, m_.image.size, params));
    if (tree.root_hash_hex != m_.verity.root_hash_hex || tree.tree_size != m_.verity.tree_size)
      return Error(Errc::checksum, o_.slot.string() +
                                       ": the verity tree built from the written image does not "
                                       "give the signed root hash (the slot is left inactive)");
    written_bytes_ += stats_.computed_bytes;
    progress();
    return Ok{};
  }

  Result<void> fetch_the_rest() {
    std::map<std::string, std::vector<size_t>> missing;  // each distinct chunk once
    for (size_t i = 0; i < chunks_.size(); ++i)
      if (!done_[i]) missing[chunks_[i].sha256].push_back(i);
    std::vector<const std::vector<size_t>*> work;
    for (const auto& [sha, at] : missing) work.push_back(&at);
    std::atomic<size_t> next{0};
    std::atomic<bool> stop{false};
    std::optional<Error> failure;
    auto worker = [&] {
      Connection conn(store_.http());
      while (!stop) {
        size_t k = next++;
        if (k >= work.size()) return;
        auto r = fetch_one(*work[k], conn);
        if (!r) {
          std::lock_guard lock(mutex_);
          if (!failure) failure = std::move(r).error();
          stop = true;
        }
        progress();
      }
    };
    size_t n = std::min<size_t>(std::max(1, o_.parallel_fetches), work.size());
    std::vector<std::thread> threads;
    for (size_t t = 0; t < n; ++t) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
    if (failure) return std::move(*failure);
    return Ok{};
  }

  const SlotInstallOptions& o_;
  Store& store_;
  const signing::BundleManifest& m_;
  std::vector<Chunk> chunks_;
  std::vector<bool> done_;  // written before the downloads start; read-only after
  UniqueFd target_;
  std::map<size_t, UniqueFd> seed_fds_;
  std::optional<SlotChunks> target_kept_;  // what the target held at its last install
  DeltaStats stats_;
  std::mutex mutex_;
  std::atomic<uint64_t> written_bytes_{0};
};

}  // namespace

bool is_bundle_head(const std::string& location) {
  return location.ends_with(".efbh") || location.starts_with("oci://");
}

Result<SlotInstallResult> install_delta_to_slot(const SlotInstallOptions& o) {
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  };
  auto run = [&]() -> Result<SlotInstallResult> {
    EF_ASSIGN(auto keyring, signing::Keyring::load(o.keyring));
    Store store(o.bundle, o.http);
    EF_TRY(store.open(o.expected_head));
    auto read_at = [&](uint64_t offset, char* out, size_t size) {
      return store.read_head(offset, out, size);
    };
    EF_ASSIGN(auto head, signing::BundleHead::read_front(read_at));
    EF_ASSIGN(auto signature, head.check_signatures(keyring));
    EF_ASSIGN(auto manifest, head.manifest());
    EF_TRY(signing::check_policy(manifest, o.policy));
    if (!manifest.chunks)
      return Error(Errc::bad_bundle,
                   "the bundle head has no chunk index; publish a bundle made by this edgeforge");
    std::string index(manifest.chunks->index_size, '\0');
    EF_TRY(store.read_head(head.header().payload_offset, index.data(), index.size()));
    EF_ASSIGN(auto chunks,
              signing::parse_chunk_index(index, *manifest.chunks, manifest.payload.size));
    EF_ASSIGN(uint64_t capacity, slot_capacity(o.slot));
    if (capacity < manifest.payload.size)
      return Error(Errc::invalid_argument,
                   "slot " + o.slot.string() + " holds " + std::to_string(capacity) +
                       " bytes, the payload needs " + std::to_string(manifest.payload.size));
    // What the target held at its last install, read before that record
    // goes: it stops describing the slot with the first byte written.
    std::optional<SlotChunks> target_kept;
    if (auto fd = open_file(o.slot, O_RDONLY))
      target_kept =
          load_slot_chunks(o.target_chunks, manifest.chunks->params, seed_image_size(fd->get()));
    EF_TRY(forget_slot_chunks(o.target_chunks));
    if (o.on_accepted) EF_TRY(o.on_accepted(manifest));
    auto t0 = Clock::now();
    SlotChunks now_held{manifest.chunks->params, manifest.image.size, manifest.payload.size,
                        chunks};
    DeltaInstall install(o, store, manifest, std::move(chunks), std::move(target_kept));
    EF_ASSIGN(DeltaStats stats, install.run());
    auto t1 = Clock::now();
    if (o.on_written) EF_TRY(o.on_written());
    EF_TRY(verify_slot(o.slot, manifest));
    auto t2 = Clock::now();
    // The slot now holds exactly what the signed index lists: the next
    // delta install from (or into) it need not read it to know that.
    if (!o.target_chunks.empty()) (void)keep_slot_chunks(o.target_chunks, now_held);
    SlotInstallResult r{std::move(manifest), std::move(signature), seconds(t0, t1), seconds(t1, t2),
                        std::move(stats)};
    return r;
  };
  auto r = run();
  if (!r) return std::move(r).error().with_context(o.bundle);
  return r;
}

}  // namespace ef::agent
