#include "agent/slot_writer.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "signing/bundle.hpp"
#include "util/file_io.hpp"
#include "util/unique_fd.hpp"

namespace ef::agent {
namespace {

namespace fs = std::filesystem;

constexpr size_t kBufferSize = 4 << 20;  // a multiple of every device's logical block
constexpr size_t kBuffers = 4;           // filling, writing, spares
constexpr size_t kAlignment = 4096;

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<char, FreeDeleter>;

Result<UniqueFd> open_slot(const fs::path& slot, int flags) {
  UniqueFd fd(::open(slot.c_str(), flags | O_CLOEXEC));
  if (!fd) return errno_error(Errc::io, "cannot open slot " + slot.string(), errno);
  return fd;
}

/// Filled buffers go to a writer thread, which writes them at increasing
/// offsets; a buffer is reused when it is written, so the caller's reading
/// (or copying) and the device write overlap. Nothing is hashed here: the
/// payload's sha256 and its verity tree are checked on the bytes read back
/// from the slot (verify_slot), where the one sequential sha256 runs beside
/// the disk reads; hashing here as well bound the write to one core's
/// sha256 (0.73x dd on a 2 GB/s disk, docs/benchmarks.md).
class SlotPipeline {
 public:
  SlotPipeline(int fd, const fs::path& slot) : fd_(fd), slot_(slot) {
    for (size_t i = 0; i < kBuffers; ++i) {
      void* p = nullptr;
      if (::posix_memalign(&p, kAlignment, kBufferSize) == 0) {
        free_.push_back(AlignedBuffer(static_cast<char*>(p)));
      }
    }
    allocated_ = free_.size();
    writer_ = std::thread([this] { run(); });
  }
  ~SlotPipeline() {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    cv_.notify_all();
    writer_.join();
  }
  bool ok() const { return allocated_ == kBuffers; }

  /// A free buffer (waits until one comes back).
  Result<AlignedBuffer> take() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return !free_.empty() || error_; });
    if (error_) return *error_;
    AlignedBuffer b = std::move(free_.front());
    free_.pop_front();
    return b;
  }
  /// Queues the first `size` bytes of `buffer` as the next part of the payload.
  void put(AlignedBuffer buffer, size_t size) {
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(Job{std::move(buffer), size});
    }
    cv_.notify_all();
  }
  /// Waits until every queued buffer is written.
  Result<void> finish() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return (jobs_.empty() && !busy_) || error_; });
    if (error_) return *error_;
    return Ok{};
  }

 private:
  struct Job {
    AlignedBuffer buffer;
    size_t size;
  };

  void run() {
    std::unique_lock lock(mutex_);
    while (true) {
      cv_.wait(lock, [&] { return !jobs_.empty() || closing_; });
      if (jobs_.empty()) return;
      Job job = std::move(jobs_.front());
      jobs_.pop_front();
      busy_ = true;
      lock.unlock();
      Result<void> r = Ok{};
      if (!error_) r = pwrite_all(fd_, job.buffer.get(), job.size, offset_, slot_);
      offset_ += job.size;
      lock.lock();
      busy_ = false;
      if (!r && !error_) error_ = r.error();
      free_.push_back(std::move(job.buffer));
      cv_.notify_all();
    }
  }

  int fd_;
  const fs::path& slot_;
  uint64_t offset_ = 0;  // writer thread only
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<AlignedBuffer> free_;
  std::deque<Job> jobs_;
  size_t allocated_ = 0;
  bool busy_ = false;  // the writer holds a job
  bool closing_ = false;
  std::optional<Error> error_;
  std::thread writer_;
};

}  // namespace

Result<uint64_t> slot_capacity(const fs::path& slot) {
  EF_ASSIGN(UniqueFd fd, open_slot(slot, O_RDONLY));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    return errno_error(Errc::io, "cannot stat " + slot.string(), errno);
  if (S_ISBLK(st.st_mode)) {
    uint64_t size = 0;
    if (::ioctl(fd.get(), BLKGETSIZE64, &size) != 0) {
      return errno_error(Errc::io, "cannot size block device " + slot.string(), errno);
    }
    return size;
  }
  if (!S_ISREG(st.st_mode)) {
    return Error(Errc::invalid_argument, slot.string() + " is neither a block device nor a file");
  }
  return static_cast<uint64_t>(st.st_size);
}

Result<void> write_slot(BundleSource& source, const signing::BundleManifest& m,
                        const fs::path& slot, const WriteProgress& progress) {
  EF_ASSIGN(uint64_t capacity, slot_capacity(slot));
  if (capacity < m.payload.size) {
    return Error(Errc::invalid_argument,
                 "slot " + slot.string() + " holds " + std::to_string(capacity) +
                     " bytes; the bundle needs " + std::to_string(m.payload.size));
  }
  // Direct I/O keeps a large image from flooding the page cache of a small
  // device; file systems that refuse it (tmpfs) get buffered writes.
  auto fd = open_slot(slot, O_WRONLY | O_DIRECT);
  if (!fd) fd = open_slot(slot, O_WRONLY);
  if (!fd) return std::move(fd).error();

  SlotPipeline pipeline(fd->get(), slot);
  if (!pipeline.ok()) return Error(Errc::internal, "cannot allocate slot write buffers");
  AlignedBuffer current;
  size_t filled = 0;
  uint64_t done = 0;
  auto sink = [&](const char* p, size_t n) -> Result<void> {
    while (n > 0) {
      if (!current) {
        EF_ASSIGN(current, pipeline.take());
        filled = 0;
      }
      size_t take = std::min(n, kBufferSize - filled);
      std::memcpy(current.get() + filled, p, take);
      filled += take;
      p += take;
      n -= take;
      done += take;
      if (filled == kBufferSize) {
        pipeline.put(std::move(current), filled);
        if (progress) progress(done, m.payload.size);
      }
    }
    return Ok{};
  };
  if (source.can_read_at()) {
    // A local bundle: read straight into the aligned buffers, no extra copy.
    while (done < m.payload.size) {
      EF_ASSIGN(current, pipeline.take());
      filled = static_cast<size_t>(std::min<uint64_t>(kBufferSize, m.payload.size - done));
      EF_TRY(source.read_payload(done, current.get(), filled));
      done += filled;
      pipeline.put(std::move(current), filled);
      if (progress) progress(done, m.payload.size);
    }
  } else {
    EF_TRY(source.stream_payload(0, m.payload.size, sink));
  }
  // The payload is a multiple of 4096 bytes, so the last buffer stays aligned.
  if (current && filled > 0) pipeline.put(std::move(current), filled);
  EF_TRY(pipeline.finish());
  if (::fdatasync(fd->get()) != 0) {
    return errno_error(Errc::io, "cannot flush slot " + slot.string(), errno);
  }
  if (progress) progress(done, m.payload.size);
  return Ok{};
}

Result<void> verify_slot(const fs::path& slot, const signing::BundleManifest& m) {
  EF_ASSIGN(UniqueFd fd, open_slot(slot, O_RDONLY));
  // Read the device, not what the page cache remembers of the write.
  ::posix_fadvise(fd.get(), 0, static_cast<off_t>(m.payload.size), POSIX_FADV_DONTNEED);
  return signing::verify_payload_at(fd.get(), 0, m, slot.string());
}

}  // namespace ef::agent
