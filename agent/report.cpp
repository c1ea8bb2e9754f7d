#include "agent/report.hpp"

#include "agent/status_report.hpp"
#include "device/site.hpp"
#include "util/atomic_file.hpp"

namespace ef::agent {

Result<std::optional<FlushResult>> report_status(const DevicePaths& paths, const ReportOptions& o) {
  EF_ASSIGN(auto registration, load_registration(paths.registration));
  if (!registration) return std::optional<FlushResult>{};
  EF_ASSIGN(std::string id, resolve_device_id(o.device_id, registration->device_id, o.id_sources));
  FleetOptions fo;
  fo.dir = paths.state.parent_path() / "fleet";
  fo.registration = *registration;
  fo.device_id = id;
  fo.http = o.http;
  EF_ASSIGN(FleetClient client, FleetClient::open(fo));
  nlohmann::json report = status_document(paths);
  report["reason"] = o.reason;
  // The site's tags: the service counts by them.
  report["tags"] = nlohmann::json::object();
  std::error_code ec;
  if (std::filesystem::exists(o.site, ec)) {
    auto text = read_file(o.site);
    auto site = text ? site::parse_site(*text, o.site.string()) : Result<site::Site>(text.error());
    if (!site)
      report["tagsError"] = site.error().message();
    else
      report["tags"] = site->tags;
  }
  const UnixSeconds now = o.now ? o.now : now_utc();
  EF_TRY(client.queue(std::move(report), now));
  if (!o.send) {
    FlushResult queued;
    queued.state = client.state();
    return std::optional<FlushResult>(queued);
  }
  EF_ASSIGN(FlushResult r, client.flush(now));
  return std::optional<FlushResult>(r);
}

void report_change(const DevicePaths& paths, const std::string& reason, const Log& log) {
  ReportOptions o;
  o.reason = reason;
  o.http.retries = 0;  // the heartbeat sends what this cannot
  o.http.connect_timeout_seconds = 5;
  o.http.low_speed_seconds = 10;
  auto r = report_status(paths, o);
  if (!r)
    log("status report not made: " + r.error().message());
  else if (*r && !(*r)->error.empty())
    log("status report queued (" + std::to_string((*r)->queued) + " waiting): " + (*r)->error);
  else if (*r)
    log("status reported to the fleet service (" + std::to_string((*r)->sent) + " sent)");
}

}  // namespace ef::agent
