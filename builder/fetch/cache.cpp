#include "builder/fetch/cache.hpp"
#include "util/unique_fd.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "util/atomic_file.hpp"
#include "util/http_stream.hpp"
#include "util/sha256.hpp"

namespace ef::fetch {
namespace {

namespace fs = std::filesystem;

constexpr long kConnectTimeoutSeconds = 30;
constexpr long kLowSpeedBytesPerSecond = 1024;
constexpr long kMaxRedirects = 10;
constexpr const char* kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

using CurlHandle = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;

Result<void> init_curl_once() {
  // curl_global_init is not thread-safe itself; call_once makes it so.
  static std::once_flag once;
  static CURLcode rc = CURLE_OK;
  std::call_once(once, [] { rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (rc != CURLE_OK)
    return Error(Errc::internal, std::string("curl_global_init: ") + curl_easy_strerror(rc));
  return Ok{};
}

Result<void> make_dirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error(Errc::io, "cannot create " + dir.string() + ": " + ec.message());
  return Ok{};
}

std::string to_lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

Result<void> sync_fd(int fd, const fs::path& path) {
  if (::fsync(fd) != 0) return errno_error(Errc::io, "cannot sync " + path.string(), errno);
  return Ok{};
}

/// Makes a rename into `dir` durable; failure only weakens crash safety.
void sync_dir(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() >= 0) ::fsync(fd.get());
}

/// Opens `path` for appending and takes an exclusive flock on it, so two
/// processes never write the same partial download. Retries when the file
/// was renamed or removed while we waited (our lock would be on a stale inode).
Result<UniqueFd> open_locked(const fs::path& path) {
  while (true) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (fd.get() < 0) return errno_error(Errc::io, "cannot open " + path.string(), errno);
    int rc;
    while ((rc = ::flock(fd.get(), LOCK_EX)) != 0 && errno == EINTR) {
    }
    if (rc != 0) return errno_error(Errc::io, "cannot lock " + path.string(), errno);
    struct stat held {};
    struct stat now {};
    if (::fstat(fd.get(), &held) == 0 && ::stat(path.c_str(), &now) == 0 &&
        held.st_ino == now.st_ino && held.st_dev == now.st_dev)
      return fd;
  }
}

/// Shared between one curl transfer and its write callback.
struct Transfer {
  CURL* curl = nullptr;
  int fd = -1;
  Sha256 hash;
  curl_off_t resume_from = 0;
  std::string content_range;  // of the latest response
  bool body_started = false;
  bool range_mismatch = false;  // the server sent a different range than asked
  int write_errno = 0;
};

size_t on_header(char* data, size_t size, size_t nmemb, void* userdata) {
  auto& t = *static_cast<Transfer*>(userdata);
  size_t total = size * nmemb;
  std::string_view line(data, total);
  // Each response (a redirect's too) starts with a status line.
  if (line.starts_with("HTTP/")) t.content_range.clear();
  if (auto header = parse_header_line(line); header && header->first == "content-range")
    t.content_range = header->second;
  return total;
}

/// Called before the first body byte (and after an empty body): a server
/// that answers a Range request with 200 sends the whole file, so the part
/// written so far is dropped.
bool begin_body(Transfer& t) {
  t.body_started = true;
  if (t.resume_from == 0) return true;
  long code = 0;
  curl_easy_getinfo(t.curl, CURLINFO_RESPONSE_CODE, &code);
  if (code == 206) {
    auto range = parse_content_range(t.content_range);
    t.range_mismatch = !range || range->first != static_cast<uint64_t>(t.resume_from);
    return !t.range_mismatch;
  }
  if (code != 200) return true;  // 0 for file://, which honours the offset
  spdlog::info("server ignored the range request; downloading from the start");
  t.resume_from = 0;
  t.hash = Sha256();
  if (::ftruncate(t.fd, 0) == 0) return true;
  t.write_errno = errno;
  return false;
}

size_t on_write(char* data, size_t size, size_t nmemb, void* userdata) {
  auto& t = *static_cast<Transfer*>(userdata);
  size_t total = size * nmemb;
  if (!t.body_started && !begin_body(t)) return 0;
  // O_APPEND: bytes always land after what the part file already holds.
  for (size_t done = 0; done < total;) {
    ssize_t n = ::write(t.fd, data + done, total - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      t.write_errno = errno;
      return 0;  // makes curl fail with CURLE_WRITE_ERROR
    }
    done += static_cast<size_t>(n);
  }
  t.hash.update(data, total);
  return total;
}

/// What one transfer attempt came to.
struct Attempt {
  enum class Kind { complete, retry, fail };
  Kind kind = Kind::fail;
  bool unreachable = false;  // fail: the host could not be resolved or connected to
  bool resumed = false;      // complete: the digest covers bytes from an earlier attempt
  std::string digest;        // complete
  std::optional<Error> error;
};

Attempt failed(Attempt::Kind kind, Error error) {
  return {kind, false, false, "", std::move(error)};
}

bool retryable_http(long code) {
  return code >= 500 || code == 408 || code == 429;
}

// A host that cannot be resolved or refuses the connection is not there
// now and will not be there in a second: with no network every download
// would otherwise wait through all the retries. Retries are for transfers
// that started (resets, timeouts, truncated bodies) and for 5xx answers.
bool unreachable_host(CURLcode rc) {
  return rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY ||
         rc == CURLE_COULDNT_CONNECT;
}

bool retryable_curl(CURLcode rc) {
  if (unreachable_host(rc)) return false;
  switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_FILE_COULDNT_READ_FILE:
    case CURLE_REMOTE_FILE_NOT_FOUND:
    case CURLE_WRITE_ERROR:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_LOGIN_DENIED:
    case CURLE_TOO_MANY_REDIRECTS:
      return false;
    default:
      return true;  // resets, timeouts, truncated bodies: worth another try
  }
}

template <typename T>
void set_opt(CURL* curl, CURLoption option, T value) {
  // Options only fail on bad values or when built without a feature; a
  // missing feature then shows up as a transfer error with a clear message.
  (void)curl_easy_setopt(curl, option, value);
}

void configure(CURL* curl, const std::string& url, Transfer& t, const CacheOptions& options,
               const std::string& range, char* error_buffer) {
  set_opt(curl, CURLOPT_URL, url.c_str());
  set_opt(curl, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM games in a threaded program
  set_opt(curl, CURLOPT_PROTOCOLS_STR, "http,https,file");
  set_opt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");  // a redirect may not read local files
  set_opt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  set_opt(curl, CURLOPT_MAXREDIRS, kMaxRedirects);
  set_opt(curl, CURLOPT_FAILONERROR, 1L);  // 4xx/5xx bodies never reach the part file
  set_opt(curl, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutSeconds);
  set_opt(curl, CURLOPT_LOW_SPEED_LIMIT, kLowSpeedBytesPerSecond);
  set_opt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.low_speed_time.count()));
  set_opt(curl, CURLOPT_USERAGENT, "edgeforge");
  set_opt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  set_opt(curl, CURLOPT_WRITEFUNCTION, &on_write);
  set_opt(curl, CURLOPT_WRITEDATA, static_cast<void*>(&t));
  set_opt(curl, CURLOPT_HEADERFUNCTION, &on_header);
  set_opt(curl, CURLOPT_HEADERDATA, static_cast<void*>(&t));
  // CURLOPT_RANGE rather than RESUME_FROM: the latter fails outright when a
  // server answers 200, where we can simply take the whole body instead.
  if (t.resume_from > 0) set_opt(curl, CURLOPT_RANGE, range.c_str());
}

/// Feeds the bytes already in the part file into `hash`; returns their count.
Result<curl_off_t> hash_existing(int fd, const fs::path& path, Sha256& hash) {
  std::array<char, 65536> buf{};
  curl_off_t offset = 0;
  while (true) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error(Errc::io, "cannot read " + path.string(), errno);
    if (n == 0) return offset;
    hash.update(buf.data(), static_cast<size_t>(n));
    offset += n;
  }
}

Result<void> truncate_part(int fd, const fs::path& path) {
  if (::ftruncate(fd, 0) != 0)
    return errno_error(Errc::io, "cannot truncate " + path.string(), errno);
  return Ok{};
}

/// One download of `url` into the locked part file, resuming after the bytes
/// it already holds.
class Download {
 public:
  Download(const CacheOptions& options, std::string url, std::string sha256, fs::path part,
           int part_fd)
      : options_(options),
        url_(std::move(url)),
        sha256_(std::move(sha256)),
        part_(std::move(part)),
        part_fd_(part_fd) {}

  /// Attempts the download (with retries) and moves the verified file to `blob`.
  Result<fs::path> run(const fs::path& blob);
  /// After a failed run: the host could not be resolved or connected to.
  bool unreachable() const { return unreachable_; }

 private:
  Attempt attempt();
  Attempt classify(CURLcode rc, const Transfer& t, const char* error_buffer);
  Result<void> publish(const fs::path& blob);
  Error checksum_error(const std::string& actual) const;
  void remove_if_empty();

  const CacheOptions& options_;
  std::string url_;
  std::string sha256_;
  fs::path part_;
  int part_fd_;
  bool unreachable_ = false;
};

Result<fs::path> Download::run(const fs::path& blob) {
  int attempts = 1 + std::max(0, options_.retries);
  std::optional<Error> last;
  for (int i = 1; i <= attempts; ++i) {
    if (i > 1) std::this_thread::sleep_for(options_.retry_backoff * (i - 1));
    Attempt a = attempt();
    if (a.kind == Attempt::Kind::complete && a.digest == sha256_) {
      EF_TRY(publish(blob));
      return blob;
    }
    if (a.kind == Attempt::Kind::complete) {
      // A resumed file may have mixed two versions of the content: one
      // fresh try. A fresh download that mismatches is simply wrong.
      EF_TRY(truncate_part(part_fd_, part_));
      if (!a.resumed) {
        remove_if_empty();
        return checksum_error(a.digest);
      }
      a.error = checksum_error(a.digest);
    } else if (a.kind == Attempt::Kind::fail) {
      unreachable_ = a.unreachable;
      remove_if_empty();
      return std::move(*a.error);
    }
    spdlog::warn("download attempt {}/{} failed: {}", i, attempts, a.error->message());
    last = std::move(a.error);
  }
  remove_if_empty();
  return std::move(*last).with_context("giving up after " + std::to_string(attempts) + " attempts");
}

// Bytes already downloaded are kept for the next run to resume; an empty
// part file is only litter.
void Download::remove_if_empty() {
  struct stat st {};
  if (::fstat(part_fd_, &st) == 0 && st.st_size == 0) ::unlink(part_.c_str());
}

Attempt Download::attempt() {
  Transfer t;
  auto existing = hash_existing(part_fd_, part_, t.hash);
  if (!existing) return failed(Attempt::Kind::fail, existing.error());
  t.resume_from = *existing;
  t.fd = part_fd_;
  CurlHandle curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return failed(Attempt::Kind::fail, Error(Errc::internal, "curl_easy_init failed"));
  t.curl = curl.get();
  std::array<char, CURL_ERROR_SIZE> error_buffer{};
  std::string range = std::to_string(t.resume_from) + "-";  // must outlive the transfer
  configure(curl.get(), url_, t, options_, range, error_buffer.data());
  if (t.resume_from > 0) spdlog::info("resuming {} at byte {}", url_, t.resume_from);
  CURLcode rc = curl_easy_perform(curl.get());
  if (rc == CURLE_OK && !t.body_started && !begin_body(t)) rc = CURLE_WRITE_ERROR;
  if (rc != CURLE_OK) return classify(rc, t, error_buffer.data());
  return {Attempt::Kind::complete, false, t.resume_from > 0, t.hash.hex_digest(), std::nullopt};
}

Attempt Download::classify(CURLcode rc, const Transfer& t, const char* error_buffer) {
  std::string prefix = "cannot download " + url_ + ": ";
  if (t.write_errno != 0)
    return failed(Attempt::Kind::fail,
                  errno_error(Errc::io, prefix + "cannot write " + part_.string(), t.write_errno));
  long code = 0;
  curl_easy_getinfo(t.curl, CURLINFO_RESPONSE_CODE, &code);
  bool bad_range = (rc == CURLE_HTTP_RETURNED_ERROR && code == 416) ||
                   rc == CURLE_BAD_DOWNLOAD_RESUME || t.range_mismatch;
  if (bad_range && t.resume_from > 0) {
    // The part file does not fit the remote file (changed or complete):
    // start over rather than guess.
    if (auto r = truncate_part(part_fd_, part_); !r) return failed(Attempt::Kind::fail, r.error());
    return failed(Attempt::Kind::retry,
                  Error(Errc::network, prefix + "resume rejected; restarting from zero"));
  }
  if (rc == CURLE_HTTP_RETURNED_ERROR) {
    Error e(Errc::network, prefix + "HTTP status " + std::to_string(code));
    return failed(retryable_http(code) ? Attempt::Kind::retry : Attempt::Kind::fail, e);
  }
  std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc);
  if (unreachable_host(rc)) {
    Attempt a =
        failed(Attempt::Kind::fail, Error(Errc::network, prefix + detail +
                                                             " (not retried: the host cannot be "
                                                             "reached; check the network or use "
                                                             "--artifact-mirror)"));
    a.unreachable = true;
    return a;
  }
  Error e(Errc::network, prefix + detail);
  return failed(retryable_curl(rc) ? Attempt::Kind::retry : Attempt::Kind::fail, e);
}

Result<void> Download::publish(const fs::path& blob) {
  EF_TRY(sync_fd(part_fd_, part_));
  if (::rename(part_.c_str(), blob.c_str()) != 0)
    return errno_error(Errc::io, "cannot rename " + part_.string() + " to " + blob.string(), errno);
  sync_dir(blob.parent_path());
  return Ok{};
}

Error Download::checksum_error(const std::string& actual) const {
  return Error(Errc::checksum, "checksum mismatch for " + url_ + ": expected sha256 " + sha256_ +
                                   ", got " + actual);
}

/// Removes a directory tree when it goes out of scope.
class TempTree {
 public:
  explicit TempTree(fs::path path) : path_(std::move(path)) {}
  ~TempTree() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

Result<std::unique_ptr<TempTree>> make_temp_dir(const fs::path& parent, const std::string& stem) {
  std::string tmpl = (parent / (stem + "-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    return errno_error(Errc::io, "cannot create a temporary directory in " + parent.string(),
                       errno);
  return std::make_unique<TempTree>(tmpl);
}

/// Keys become file names: only characters that cannot form a path.
bool valid_key(const std::string& key) {
  return !key.empty() && key.front() != '.' &&
         std::all_of(key.begin(), key.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '-' || c == '_' || c == '.';
         });
}

Result<void> sync_file(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return errno_error(Errc::io, "cannot open " + path.string(), errno);
  return sync_fd(fd.get(), path);
}

/// "host:port" of a network URL (the port defaulted by its scheme), or ""
/// for file:// and URLs that do not parse.
std::string host_key(const std::string& url) {
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), &curl_url_cleanup);
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return "";
  char* host = nullptr;
  char* port = nullptr;
  std::string key;
  if (curl_url_get(u.get(), CURLUPART_HOST, &host, 0) == CURLUE_OK &&
      curl_url_get(u.get(), CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
    key = std::string(host) + ":" + port;
  curl_free(host);
  curl_free(port);
  return key;
}

fs::path home_dir() {
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') return home;
  std::array<char, 4096> buf{};
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(::getuid(), &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr)
    return found->pw_dir;
  return fs::temp_directory_path();
}

}  // namespace

fs::path default_cache_dir() {
  // The XDG spec says to ignore a relative XDG_CACHE_HOME.
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && xdg[0] == '/')
    return fs::path(xdg) / "edgeforge";
  return home_dir() / ".cache" / "edgeforge";
}

Cache::Cache(CacheOptions options) : options_(std::move(options)) {
  if (options_.dir.empty()) options_.dir = default_cache_dir();
}

fs::path Cache::blob_path(const std::string& sha256) const {
  return options_.dir / "blobs" / "sha256" / to_lower(sha256);
}

// A blob is trusted by its name: only verified files are ever renamed into
// blobs/, so re-hashing every input on every build would only catch disk
// corruption, at the cost of reading gigabytes. The size check catches the
// one cheap-to-detect failure (a truncated file from a crashed filesystem).
bool Cache::has_blob(const std::string& sha256) const {
  std::error_code ec;
  auto path = blob_path(sha256);
  if (!fs::is_regular_file(path, ec)) return false;
  return fs::file_size(path, ec) > 0 || to_lower(sha256) == kEmptySha256;
}

Result<fs::path> Cache::fetch(const std::string& url, const std::string& sha256) {
  std::string hex = to_lower(sha256);
  if (!is_sha256_hex(hex))
    return Error(Errc::invalid_argument, "invalid sha256 '" + sha256 + "' for " + url);
  fs::path blob = blob_path(hex);
  if (has_blob(hex)) return blob;
  if (options_.offline)
    return Error(Errc::offline, "not in cache (offline): " + url + " sha256 " + hex);
  EF_TRY(init_curl_once());
  std::string host = host_key(url);
  if (!host.empty() && unreachable_hosts_.count(host) != 0)
    return Error(Errc::network, "cannot download " + url + ": " + host +
                                    " could not be reached earlier in this run (not tried again)");
  EF_TRY(make_dirs(options_.dir / "tmp"));
  EF_TRY(make_dirs(blob.parent_path()));
  fs::path part = options_.dir / "tmp" / (hex + ".part");
  EF_ASSIGN(UniqueFd fd, open_locked(part));
  if (has_blob(hex)) {  // another process finished it while we waited for the lock
    ::unlink(part.c_str());
    return blob;
  }
  spdlog::info("downloading {}", url);
  Download download(options_, url, hex, part, fd.get());
  auto result = download.run(blob);
  if (!result && download.unreachable() && !host.empty()) unreachable_hosts_.insert(host);
  return result;
}

fs::path Cache::keyed_path(const std::string& key) const {
  return options_.dir / "keyed" / (key + ".tar");
}

Result<fs::path> Cache::get_or_create(const std::string& key,
                                      const std::function<Result<void>(const fs::path&)>& produce) {
  if (!valid_key(key)) return Error(Errc::invalid_argument, "invalid cache key '" + key + "'");
  fs::path target = keyed_path(key);
  std::error_code ec;
  // Trusted like a blob: an entry only appears by rename after produce succeeded.
  if (fs::is_regular_file(target, ec)) return target;
  if (options_.offline) return Error(Errc::offline, "not in cache (offline): key " + key);
  EF_TRY(make_dirs(options_.dir / "tmp"));
  EF_TRY(make_dirs(target.parent_path()));
  // A fresh directory per producer: concurrent builds never share a temp
  // file, and the name inside keeps the .tar extension tools look at.
  EF_ASSIGN(auto temp_dir, make_temp_dir(options_.dir / "tmp", key));
  fs::path temp = temp_dir->path() / target.filename();
  EF_TRY(produce(temp));
  if (!fs::is_regular_file(temp, ec))
    return Error(Errc::internal, "cache entry " + key + " was not created at " + temp.string());
  EF_TRY(sync_file(temp));
  if (::rename(temp.c_str(), target.c_str()) != 0)
    return errno_error(Errc::io, "cannot rename " + temp.string() + " to " + target.string(),
                       errno);
  sync_dir(target.parent_path());
  return target;
}

}  // namespace ef::fetch
