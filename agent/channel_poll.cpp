#include "agent/channel_poll.hpp"

#include <nlohmann/json.hpp>

#include "channel/oci_channel.hpp"
#include "util/atomic_file.hpp"
#include "util/http_client.hpp"
#include "util/json_fields.hpp"
#include "util/oci_registry.hpp"

namespace ef::agent {
namespace {

using nlohmann::json;

bool is_url(const std::string& s) {
  return s.starts_with("http://") || s.starts_with("https://");
}

/// The name a channel file claims, before anything in it is trusted: only
/// to pick which remembered version to hold it to (verify_channel then
/// checks that the signed name is that one).
std::string claimed_name(std::string_view bytes) {
  auto file = channel::split_channel(bytes);
  if (!file) return "";
  auto doc = channel::parse_doc(file->signed_bytes);
  return doc ? doc->channel : "";
}

/// The channel a URL names: channel files are NAME.json (channel_dir.hpp),
/// so a file served at .../stable.json must be channel "stable" — another
/// channel's file, however well signed, is not taken for it. "" when the
/// URL does not follow the convention.
std::string name_in_url(const std::string& url) {
  if (url.starts_with("oci://")) {
    // oci://HOST/REPO:NAME: the tag is the channel's name.
    auto ref = parse_oci_reference(url);
    return ref ? ref->tag : "";
  }
  std::string file = url.substr(url.find_last_of('/') + 1);
  if (!file.ends_with(".json") || file.size() == 5) return "";
  return file.substr(0, file.size() - 5);
}

Result<channel::VerifiedChannel> verify(std::string_view bytes, const PollOptions& o,
                                        const WatchState& state) {
  channel::TrustPolicy policy;
  policy.now = o.now;
  policy.channel = name_in_url(o.url);
  if (policy.channel.empty()) policy.channel = claimed_name(bytes);
  if (auto it = state.seen.find(policy.channel); it != state.seen.end()) {
    policy.last_version = it->second.version;
    policy.last_sha256 = it->second.sha256;
    policy.last_release = it->second.release;
    policy.last_state_version = it->second.state_version;
  }
  policy.rollout_keyring = o.rollout_keyring;
  return channel::verify_channel(bytes, *o.keyring, policy);
}

std::optional<std::string> header(const HttpResponse& r, const std::string& name) {
  auto it = r.headers.find(name);
  if (it == r.headers.end()) return std::nullopt;
  return it->second;
}

}  // namespace

Result<WatchState> load_watch_state(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return WatchState{};
  EF_ASSIGN(std::string text, read_file(path));
  auto malformed = [&](const std::string& why) {
    return Error(Errc::invalid_argument,
                 path.string() + ": watch state is " + why +
                     "; move it away to start over (the device then accepts any channel "
                     "version that is not expired)");
  };
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return malformed("not JSON");
  try {
    if (json_integer<int>(j.at("formatVersion")) != 1)
      return malformed("of an unknown format version");
    WatchState s;
    for (const auto& [name, seen] : j.at("seen").items())
      s.seen[name] = {
          json_integer<uint64_t>(seen.at("version")), seen.at("sha256").get<std::string>(),
          seen.value("release", ""),
          seen.contains("stateVersion") ? json_integer<uint64_t>(seen.at("stateVersion")) : 0};
    s.failed = j.at("failed").get<std::vector<std::string>>();
    s.url = j.at("url").get<std::string>();
    s.etag = j.at("etag").get<std::string>();
    s.last_modified = j.at("lastModified").get<std::string>();
    s.polled = json_integer<UnixSeconds>(j.at("polled"));
    s.error = j.at("error").get<std::string>();
    s.channel = j.at("channel").get<std::string>();
    s.metadata_version = json_integer<uint64_t>(j.at("metadataVersion"));
    s.release = j.at("release").get<std::string>();
    s.action = j.at("action").get<std::string>();
    s.why = j.at("why").get<std::string>();
    s.reason = j.value("reason", "");  // absent in files of older agents
    s.wave = j.value("wave", "");
    if (!j.at("until").is_null()) s.until = json_integer<UnixSeconds>(j.at("until"));
    return s;
  } catch (const json::exception& e) {
    return malformed(std::string("incomplete (") + e.what() + ")");
  }
}

Result<void> save_watch_state(const std::filesystem::path& path, const WatchState& s) {
  json seen = json::object();
  for (const auto& [name, v] : s.seen)
    seen[name] = {{"version", v.version},
                  {"sha256", v.sha256},
                  {"release", v.release},
                  {"stateVersion", v.state_version}};
  json j = {{"formatVersion", 1},   {"seen", seen},
            {"failed", s.failed},   {"url", s.url},
            {"etag", s.etag},       {"lastModified", s.last_modified},
            {"polled", s.polled},   {"error", s.error},
            {"channel", s.channel}, {"metadataVersion", s.metadata_version},
            {"release", s.release}, {"action", s.action},
            {"why", s.why},         {"until", s.until ? json(*s.until) : json(nullptr)},
            {"reason", s.reason},   {"wave", s.wave}};
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  return write_file_atomic(path, j.dump(2) + "\n");
}

Result<PollResult> poll_channel(const PollOptions& o, WatchState& state) {
  if (o.keyring == nullptr) return Error(Errc::internal, "poll_channel: no keyring");
  PollResult result;
  std::string bytes;
  const bool same_url = state.url == o.url;
  std::error_code ec;
  const bool cached = same_url && std::filesystem::exists(o.cache, ec);
  std::string etag, last_modified;
  if (is_url(o.url)) {
    HttpStreamOptions http = o.http;
    http.retries = std::min(http.retries, 2);  // the next poll is the retry that matters
    HttpClient client(http);
    HttpRequest request;
    request.url = o.url;
    request.max_bytes = channel::kMaxChannelBytes;
    if (cached && !state.etag.empty()) request.headers.push_back("If-None-Match: " + state.etag);
    if (cached && !state.last_modified.empty())
      request.headers.push_back("If-Modified-Since: " + state.last_modified);
    EF_ASSIGN(HttpResponse response, client.send(request));
    if (response.status == 304 && cached) {
      EF_ASSIGN(bytes, read_file(o.cache));
      result.how = "HTTP 304 (not modified)";
      etag = state.etag;
      last_modified = state.last_modified;
    } else if (response.status == 200) {
      bytes = std::move(response.body);
      result.fetched = true;
      result.how = "HTTP 200";
      etag = header(response, "etag").value_or("");
      last_modified = header(response, "last-modified").value_or("");
    } else {
      return Error(Errc::network, o.url + ": HTTP " + std::to_string(response.status) +
                                      "; the channel stays as it was last read");
    }
  } else if (o.url.starts_with("oci://")) {
    EF_ASSIGN(OciReference ref, parse_oci_reference(o.url));
    if (ref.tag.empty())
      return Error(Errc::invalid_argument,
                   o.url + ": name the channel as the tag (oci://HOST/REPO:CHANNEL)");
    EF_ASSIGN(OciCredentials credentials,
              docker_config_credentials(ref.registry, default_docker_config()));
    HttpStreamOptions http = o.http;
    http.retries = std::min(http.retries, 2);
    OciRegistry registry(ref, credentials, http);
    EF_ASSIGN(auto read, channel::read_oci_channel(registry, ref.tag, cached ? state.etag : ""));
    if (read.not_modified) {
      EF_ASSIGN(bytes, read_file(o.cache));
      result.how = "OCI 304 (not modified)";
    } else {
      bytes = std::move(read.bytes);
      result.fetched = true;
      result.how = "OCI manifest and blob";
    }
    etag = std::move(read.etag);
  } else {
    auto size = std::filesystem::file_size(o.url, ec);
    if (ec)
      return Error(Errc::not_found,
                   o.url + ": cannot read the channel file (" + ec.message() + ")");
    if (size > channel::kMaxChannelBytes)
      return Error(Errc::bad_channel,
                   o.url + ": " + std::to_string(size) + " bytes, larger than any channel file");
    EF_ASSIGN(bytes, read_file(o.url));
    result.fetched = true;
    result.how = "file";
  }

  auto verified = verify(bytes, o, state);
  if (!verified) return Error(verified.error().code(), o.url + ": " + verified.error().message());
  result.channel = std::move(*verified);
  if (result.fetched && (is_url(o.url) || o.url.starts_with("oci://")))
    EF_TRY(write_file_atomic(o.cache, bytes));
  state.url = o.url;
  state.etag = std::move(etag);
  state.last_modified = std::move(last_modified);
  const channel::ChannelDoc& doc = result.channel.doc;
  WatchState::Seen seen{doc.version, result.channel.signed_sha256, "", 0};
  if (doc.state) {
    seen.release = doc.state->release.str();
    seen.state_version = doc.state->version;
  }
  state.seen[doc.channel] = seen;
  return result;
}

}  // namespace ef::agent
