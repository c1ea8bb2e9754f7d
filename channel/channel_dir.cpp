#include "channel/channel_dir.hpp"

#include <fcntl.h>

#include "signing/bundle.hpp"
#include "signing/chunk_store.hpp"
#include "util/atomic_file.hpp"
#include "util/duration.hpp"
#include "util/file_io.hpp"
#include "util/sha256.hpp"
#include "util/unique_fd.hpp"

namespace ef::channel {
namespace {

namespace fs = std::filesystem;

/// `file`'s path relative to `dir`, when it lies inside it.
Result<std::string> inside(const fs::path& dir, const fs::path& file) {
  std::error_code ec;
  fs::path d = fs::weakly_canonical(dir, ec);
  fs::path f = fs::weakly_canonical(file, ec);
  if (!fs::is_regular_file(f)) return Error(Errc::not_found, file.string() + ": no such file");
  fs::path rel = f.lexically_relative(d);
  if (rel.empty() || *rel.begin() == "..")
    return Error(Errc::invalid_argument,
                 file.string() + " is not inside " + dir.string() +
                     ": devices fetch what a channel names from the channel's directory; copy or "
                     "publish it there first");
  EF_TRY(check_artifact_url(rel.generic_string()));
  return rel.generic_string();
}

Result<Artifact> artifact(const fs::path& dir, const fs::path& file) {
  EF_ASSIGN(std::string rel, inside(dir, file));
  Artifact a;
  a.url = rel;
  EF_ASSIGN(a.sha256, sha256_file(file));
  a.size = fs::file_size(file);
  return a;
}

Result<signing::BundleManifest> head_manifest(const fs::path& file) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error(Errc::io, file.string(), errno);
  auto read_at = [&](uint64_t offset, char* out, size_t size) {
    return pread_all(fd.get(), out, size, offset, file.string());
  };
  EF_ASSIGN(auto head, signing::BundleHead::read_front(read_at));
  return head.manifest();
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t end = text.find(sep, start);
    out.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

Result<void> parse_wave_option(Wave& w, const std::string& option, const std::string& spec) {
  auto bad = [&](const std::string& what) {
    return Error(Errc::invalid_argument, "--wave " + spec + ": " + what);
  };
  size_t eq = option.find('=');
  if (eq == std::string::npos) return bad("\"" + option + "\" is not KEY=VALUE");
  std::string key = option.substr(0, eq), value = option.substr(eq + 1);
  if (key == "soak") {
    auto d = parse_duration(value);
    if (!d) return bad(d.error().message());
    w.soak_seconds = static_cast<uint64_t>(d->count());
  } else if (key == "not-before") {
    auto t = parse_utc(value);
    if (!t) return bad(t.error().message());
    w.not_before = *t;
  } else if (key == "max-per-hour") {
    char* end = nullptr;
    unsigned long n = std::strtoul(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || n == 0 || n > UINT32_MAX)
      return bad("max-per-hour must be a whole number from 1");
    w.max_per_hour = static_cast<uint32_t>(n);
  } else {
    return bad("unknown option \"" + key + "\" (soak, not-before, max-per-hour)");
  }
  return Ok{};
}

}  // namespace

fs::path channel_path(const fs::path& dir, const std::string& name) {
  return dir / (name + ".json");
}

Result<Release> release_from_files(const fs::path& dir, const std::optional<fs::path>& bundle,
                                   const std::optional<fs::path>& head) {
  if (!bundle && !head)
    return Error(Errc::invalid_argument, "a release needs --bundle FILE.efb or --head FILE.efbh");
  Release r;
  std::optional<signing::BundleManifest> manifest;
  if (bundle) {
    EF_ASSIGN(r.bundle, artifact(dir, *bundle));
    auto b = signing::Bundle::open(*bundle);
    if (!b) return b.error().with_context(bundle->string());
    auto m = b->manifest();
    if (!m) return m.error().with_context(bundle->string());
    manifest = std::move(*m);
  }
  if (head) {
    EF_ASSIGN(r.head, artifact(dir, *head));
    auto m = head_manifest(*head);
    if (!m) return m.error().with_context(head->string());
    if (manifest && (m->version != manifest->version || m->product != manifest->product ||
                     m->payload.sha256 != manifest->payload.sha256))
      return Error(Errc::invalid_argument, head->string() + " is not the head of " +
                                               bundle->string() + " (" + m->product + " " +
                                               m->version.str() + ")");
    manifest = std::move(*m);
  }
  r.product = manifest->product;
  r.compatible = manifest->compatible;
  r.version = manifest->version;
  return r;
}

Result<Wave> parse_wave_spec(const std::string& spec) {
  auto bad = [&](const std::string& what) {
    return Error(Errc::invalid_argument,
                 "--wave " + spec + ": " + what +
                     " (NAME=N% | NAME=tag:K=V[+K=V] | NAME=device:ID[+ID], then ,soak=DUR "
                     ",not-before=TIME ,max-per-hour=N)");
  };
  auto parts = split(spec, ',');
  size_t eq = parts[0].find('=');
  if (eq == std::string::npos || eq == 0) return bad("no NAME=");
  Wave w;
  w.name = parts[0].substr(0, eq);
  std::string selector = parts[0].substr(eq + 1);
  if (selector.starts_with("tag:")) {
    auto tags = split(selector.substr(4), '+');
    for (const auto& t : tags) {
      size_t teq = t.find('=');
      if (teq == std::string::npos || teq == 0 || teq + 1 == t.size())
        return bad("\"" + t + "\" is not KEY=VALUE");
      w.tags[t.substr(0, teq)] = t.substr(teq + 1);
    }
  } else if (selector.starts_with("device:")) {
    w.devices = split(selector.substr(7), '+');
    for (const auto& d : w.devices)
      if (d.empty()) return bad("an empty device ID");
  } else if (selector.size() >= 2 && selector.back() == '%') {
    std::string n = selector.substr(0, selector.size() - 1);
    char* end = nullptr;
    unsigned long p = std::strtoul(n.c_str(), &end, 10);
    if (n.empty() || *end != '\0' || p > 100) return bad("the share must be 0% to 100%");
    w.percent = static_cast<uint32_t>(p);
  } else {
    return bad("\"" + selector + "\" is not a selector");
  }
  for (size_t i = 1; i < parts.size(); ++i) EF_TRY(parse_wave_option(w, parts[i], spec));
  return w;
}

Result<std::optional<Gate>> parse_gate_spec(const std::string& spec) {
  auto bad = [&](const std::string& what) {
    return Error(Errc::invalid_argument,
                 "--gate " + spec + ": " + what +
                     " (off, or min-succeeded=N,max-failed=P%,min-finished=N,deadline=DUR)");
  };
  if (spec == "off") return std::optional<Gate>{};
  Gate g;
  auto number = [&](const std::string& text, uint64_t& out) -> bool {
    char* end = nullptr;
    out = std::strtoull(text.c_str(), &end, 10);
    return !text.empty() && *end == '\0' && text[0] != '-';
  };
  for (const auto& part : split(spec, ',')) {
    size_t eq = part.find('=');
    std::string key = part.substr(0, eq),
                value = eq == std::string::npos ? "" : part.substr(eq + 1);
    uint64_t n = 0;
    if (key == "min-succeeded") {
      if (!number(value, n)) return bad("min-succeeded: a whole number");
      g.min_succeeded = n;
    } else if (key == "min-finished") {
      if (!number(value, n) || n == 0) return bad("min-finished: a whole number above 0");
      g.min_finished = n;
    } else if (key == "max-failed") {
      if (!value.ends_with("%") || !number(value.substr(0, value.size() - 1), n) || n > 100)
        return bad("max-failed: 0% to 100%");
      g.max_failed_percent = static_cast<uint32_t>(n);
    } else if (key == "deadline") {
      auto d = parse_duration(value);
      if (!d || d->count() <= 0) return bad("deadline: a duration such as 6h");
      g.deadline_seconds = static_cast<uint64_t>(d->count());
    } else {
      return bad("unknown setting \"" + key + "\"");
    }
  }
  return std::optional<Gate>(g);
}

ChannelDoc next_version(const std::optional<ChannelDoc>& current, const std::string& name,
                        UnixSeconds now, uint64_t lifetime) {
  ChannelDoc d;
  if (current) d = *current;
  d.channel = name;
  d.version = current ? current->version + 1 : 1;
  // A clock that went back must not make the new file look older.
  d.issued = current ? std::max(now, current->issued) : now;
  d.expires = d.issued + static_cast<UnixSeconds>(lifetime);
  if (!current) d.rollout.start = d.issued;
  return d;
}

}  // namespace ef::channel

namespace ef::channel {
namespace {

/// Copies dir/rel to out/rel unless it is there with `sha256` already; the
/// source must have that digest.
Result<void> copy_checked(const fs::path& dir, const fs::path& out, const std::string& rel,
                          const std::string& sha256, ExportReport& report) {
  fs::path to = out / rel;
  std::error_code ec;
  if (fs::exists(to, ec)) {
    auto have = sha256_file(to);
    if (have && *have == sha256) {
      ++report.kept_files;
      return Ok{};
    }
  }
  EF_ASSIGN(std::string bytes, read_file(dir / rel));
  if (sha256_hex(bytes) != sha256)
    return Error(Errc::checksum, (dir / rel).string() + ": sha256 " + sha256_hex(bytes) +
                                     ", not the " + sha256 +
                                     " that names it; nothing of it copied");
  fs::create_directories(to.parent_path(), ec);
  EF_TRY(write_file_atomic(to, bytes));
  ++report.copied_files;
  report.copied_bytes += bytes.size();
  return Ok{};
}

}  // namespace

Result<ExportReport> export_channel(const fs::path& dir, const std::string& name,
                                    const fs::path& out) {
  fs::path file = channel_path(dir, name);
  EF_ASSIGN(std::string bytes, read_file(file));
  auto split = split_channel(bytes);
  if (!split) return split.error().with_context(file.string());
  auto doc = parse_doc(split->signed_bytes);
  if (!doc) return doc.error().with_context(file.string());
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return Error(Errc::io, out.string() + ": " + ec.message());
  ExportReport report;
  if (doc->release) {
    const Release& r = *doc->release;
    if (r.bundle) EF_TRY(copy_checked(dir, out, r.bundle->url, r.bundle->sha256, report));
    if (r.head) {
      // The head first, then every chunk its signed index names.
      EF_TRY(copy_checked(dir, out, r.head->url, r.head->sha256, report));
      fs::path head = dir / r.head->url;
      UniqueFd fd(::open(head.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) return errno_error(Errc::io, head.string(), errno);
      auto read_at = [&](uint64_t offset, char* to, size_t size) {
        return pread_all(fd.get(), to, size, offset, head.string());
      };
      EF_ASSIGN(auto front, signing::BundleHead::read_front(read_at));
      EF_ASSIGN(auto manifest, front.manifest());
      if (!manifest.chunks)
        return Error(Errc::bad_bundle, head.string() + ": the bundle head has no chunk index");
      std::string index(manifest.chunks->index_size, '\0');
      EF_TRY(read_at(front.header().payload_offset, index.data(), index.size()));
      EF_ASSIGN(auto chunks,
                signing::parse_chunk_index(index, *manifest.chunks, manifest.payload.size));
      // A chunk is stored under the sha256 of its data; the stored form may
      // be compressed, so its own digest is checked when a device reads it.
      fs::path head_dir = fs::path(r.head->url).parent_path();
      for (const auto& c : chunks) {
        fs::path rel = head_dir / signing::chunk_store_path(c.sha256);
        fs::path to = out / rel;
        if (auto there = read_file(to); there && signing::decode_stored_chunk(*there, c)) {
          ++report.kept_files;
          continue;
        }
        auto stored = read_file(dir / rel);
        if (!stored) return stored.error().with_context("chunk " + c.sha256);
        auto data = signing::decode_stored_chunk(*stored, c);
        if (!data) return data.error().with_context((dir / rel).string());
        fs::create_directories(to.parent_path(), ec);
        EF_TRY(write_file_atomic(to, *stored));
        ++report.copied_files;
        report.copied_bytes += stored->size();
      }
    }
  }
  EF_TRY(write_file_atomic(out / file.filename(), bytes));
  EF_TRY(write_file_atomic(out / kMediaMarker, file.filename().string() + "\n"));
  report.copied_files += 2;
  report.copied_bytes += bytes.size();
  return report;
}

}  // namespace ef::channel
