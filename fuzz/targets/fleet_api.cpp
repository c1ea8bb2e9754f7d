// The fleet service's API as devices and the internet reach it: enrolment
// bodies, signed device reports (the target signs each input with the key of
// a device it enrolled, so the report parser is reached), operator calls
// with a valid token, and requests with no credentials. The first byte picks
// which; for operator and anonymous calls the rest is "METHOD PATH\n" and
// the body. The database (SQLite) is made afresh every 2,000 inputs.
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "device/fleet_request.hpp"
#include "fleet/api.hpp"
#include "fleet/database.hpp"
#include "fleet/registry.hpp"
#include "fuzz/support.hpp"
#include "signing/bundle_format.hpp"
#include "signing/keys.hpp"
#include "util/sha256.hpp"

namespace {

using namespace ef::fleet;

constexpr ef::UnixSeconds kNow = 1796083200;
const std::string kOperatorToken = "fuzz-operator-token";
const std::string kDevice = "fuzz-0001";

struct Fleet {
  std::unique_ptr<Database> db;
  std::unique_ptr<Registry> registry;
  std::unique_ptr<Api> api;
  ef::signing::SigningKey key;
  int64_t seq = 0;
  int inputs = 0;
};

ApiResponse call(Fleet& f, const std::string& method, const std::string& path,
                 const std::string& body, std::map<std::string, std::string> headers) {
  ApiRequest r;
  r.method = method;
  r.path = path;
  r.body = body;
  r.headers = std::move(headers);
  r.headers.emplace("content-type", "application/json");
  r.now = kNow;
  return f.api->handle(r);
}

std::unique_ptr<Fleet> make_fleet() {
  auto file = ef::fuzz::scratch_dir() / "fleet.sqlite";
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"})
    std::filesystem::remove(file.string() + suffix, ec);
  auto db = open_database(file.string());
  auto key = ef::signing::SigningKey::generate(ef::signing::Algorithm::ed25519);
  if (!db || !key) ef::fuzz::invariant_failed("a fresh SQLite fleet database and a device key");
  auto f = std::make_unique<Fleet>(Fleet{std::move(*db), nullptr, nullptr, std::move(*key)});
  f->registry = std::make_unique<Registry>(*f->db);
  ApiConfig config;
  config.operators = {{"ops", ef::sha256_hex(kOperatorToken)}};
  f->api = std::make_unique<Api>(*f->registry, config);
  auto token = call(*f, "POST", "/api/v1/tokens", R"({"autoApprove":true})",
                    {{"authorization", "Bearer " + kOperatorToken}});
  auto j = nlohmann::json::parse(token.body, nullptr, false);
  auto t = j.is_object() ? j.find("token") : j.end();
  if (token.status != 201 || t == j.end() || !t->is_string())
    ef::fuzz::invariant_failed("the operator makes an enrolment token");
  auto enrolled = call(*f, "POST", "/api/v1/register",
                       nlohmann::json{{"deviceId", kDevice},
                                      {"publicKey", f->key.public_key().pem()},
                                      {"token", t->get<std::string>()}}
                           .dump(),
                       {});
  if (enrolled.status != 200) ef::fuzz::invariant_failed("the device enrols");
  return f;
}

Fleet& fleet() {
  static std::unique_ptr<Fleet> f;
  if (!f || ++f->inputs > 2000) f = make_fleet();
  return *f;
}

// "METHOD PATH\nBODY" -> the three parts ("GET /" when there is no line).
void request_line(std::string_view in, std::string& method, std::string& path, std::string& body) {
  size_t nl = in.find('\n');
  std::string_view line = nl == std::string_view::npos ? in : in.substr(0, nl);
  body = nl == std::string_view::npos ? "" : std::string(in.substr(nl + 1));
  size_t sp = line.find(' ');
  method = sp == std::string_view::npos ? "GET" : std::string(line.substr(0, sp));
  path = std::string(sp == std::string_view::npos ? line : line.substr(sp + 1));
  if (path.empty() || path.front() != '/') path = "/" + path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Fleet& f = fleet();
  auto rest = ef::fuzz::as_view(data + 1, size - 1);
  ApiResponse r;
  switch (data[0] % 4) {
    case 0:
      r = call(f, "POST", "/api/v1/register", std::string(rest), {});
      break;
    case 1: {
      std::string path = "/api/v1/devices/" + kDevice + "/reports";
      std::string body(rest);
      int64_t seq = ++f.seq;
      auto sig =
          f.key.sign(ef::device::fleet_request_message("POST", path, kDevice, seq, kNow, body));
      if (!sig) ef::fuzz::invariant_failed("the device signs its report");
      r = call(f, "POST", path, body,
               {{"x-edgeforge-device", kDevice},
                {"x-edgeforge-seq", std::to_string(seq)},
                {"x-edgeforge-time", std::to_string(kNow)},
                {"x-edgeforge-signature", ef::signing::base64_encode(*sig)}});
      break;
    }
    default: {
      std::string method, path, body;
      request_line(rest, method, path, body);
      std::map<std::string, std::string> headers;
      if (data[0] % 4 == 2) headers["authorization"] = "Bearer " + kOperatorToken;
      r = call(f, method, path, body, headers);
      break;
    }
  }
  EF_FUZZ_CHECK(r.status >= 200 && r.status < 600);
  // Every API answer is JSON (the dashboard's pages are HTML).
  if (r.content_type == "application/json")
    EF_FUZZ_CHECK(!nlohmann::json::parse(r.body, nullptr, false).is_discarded());
  if (ef::fuzz::tracing()) {
    std::string status = std::to_string(r.status) + " " + r.body.substr(0, 160);
    ef::fuzz::trace_line("handle", &status);
  }
  return 0;
}
