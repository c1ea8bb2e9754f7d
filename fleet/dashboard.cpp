#include "fleet/dashboard.hpp"

#include <cctype>
#include <map>

#include "fleet/dashboard_pages.hpp"
#include "fleet/rollup.hpp"

namespace ef::fleet {
namespace {

constexpr const char* kCookie = "ef_session";
constexpr const char* kSecureCookie = "__Host-ef_session";  // HTTPS: bound to this host
constexpr size_t kMaxFormFields = 16;
constexpr size_t kDeviceRows = 1000;

using Form = std::map<std::string, std::string>;

/// Decodes one application/x-www-form-urlencoded name or value; nullopt for
/// a broken %-escape.
std::optional<std::string> form_decode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%') {
      int value = 0;
      for (size_t k = i + 1; k <= i + 2; ++k) {
        if (k >= text.size() || !std::isxdigit(static_cast<unsigned char>(text[k])))
          return std::nullopt;
        const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(text[k])));
        value = value * 16 + (c <= '9' ? c - '0' : c - 'a' + 10);
      }
      out += static_cast<char>(value);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

/// The fields of a form body (the first of a repeated name); nullopt when it
/// is not application/x-www-form-urlencoded, has a broken escape, or more
/// fields than any form here.
std::optional<Form> parse_form(const ApiRequest& r) {
  const std::string type = header(r, "content-type");
  if (type.substr(0, type.find(';')) != "application/x-www-form-urlencoded") return std::nullopt;
  Form form;
  size_t start = 0, fields = 0;
  const std::string& body = r.body;
  while (start <= body.size()) {
    size_t end = body.find('&', start);
    if (end == std::string::npos) end = body.size();
    std::string_view field(body.data() + start, end - start);
    if (!field.empty()) {
      if (++fields > kMaxFormFields) return std::nullopt;
      size_t eq = field.find('=');
      auto name = form_decode(field.substr(0, eq));
      auto value = form_decode(eq == std::string_view::npos ? "" : field.substr(eq + 1));
      if (!name || !value) return std::nullopt;
      form.emplace(*name, *value);
    }
    start = end + 1;
  }
  return form;
}

std::string field(const Form& form, const std::string& name) {
  auto it = form.find(name);
  return it == form.end() ? "" : it->second;
}

/// The value of cookie `name` in the Cookie header, "" for none.
std::string cookie(const ApiRequest& r, std::string_view name) {
  const std::string header_value = header(r, "cookie");
  std::string_view all = header_value;
  while (!all.empty()) {
    size_t end = all.find(';');
    std::string_view pair = all.substr(0, end);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name)
      return std::string(pair.substr(eq + 1));
    if (end == std::string_view::npos) break;
    all.remove_prefix(end + 1);
  }
  return "";
}

ApiResponse page(int status, const std::string& title, const pages::Viewer& viewer,
                 const html::Markup& body) {
  ApiResponse r;
  r.status = status;
  r.content_type = "text/html; charset=utf-8";
  r.body = pages::document(title, viewer, body);
  // No script runs and nothing loads from elsewhere, even if markup got in.
  r.headers["Content-Security-Policy"] =
      "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
      "frame-ancestors 'none'; base-uri 'none'";
  r.headers["X-Frame-Options"] = "DENY";
  r.headers["X-Content-Type-Options"] = "nosniff";
  // "no-referrer" would make Chromium send "Origin: null" with our own forms.
  r.headers["Referrer-Policy"] = "same-origin";
  return r;
}

ApiResponse redirect(const std::string& to) {
  ApiResponse r;
  r.status = 303;
  r.content_type = "text/plain; charset=utf-8";
  r.body = "see " + to + "\n";
  r.headers["Location"] = to;
  return r;
}

ApiResponse error_page(int status, const std::string& heading, const std::string& text,
                       const pages::Viewer& viewer) {
  return page(status, heading, viewer, pages::message(heading, text));
}

/// The page an error of the registry or the rollout control gets.
ApiResponse failure(const Error& e, const pages::Viewer& viewer) {
  switch (e.code()) {
    case Errc::not_found:
      return error_page(404, "Not found", e.message(), viewer);
    case Errc::invalid_argument:
      return error_page(400, "Not taken", e.message(), viewer);
    case Errc::refused:
      return error_page(403, "Refused", e.message(), viewer);
    case Errc::database: {
      ApiResponse r = error_page(503, "Unavailable",
                                 "The fleet database is unavailable; try again shortly.", viewer);
      r.headers["Retry-After"] = "5";
      return r;
    }
    default:
      return error_page(500, "Failed", e.message(), viewer);
  }
}

/// A POST whose Origin header names another site is refused (a browser
/// sends one with every form); without the header the CSRF token decides.
bool foreign_origin(const ApiRequest& r) {
  const std::string origin = header(r, "origin"), host = header(r, "host");
  if (origin.empty() || host.empty()) return false;
  size_t scheme = origin.find("://");
  return scheme == std::string::npos || origin.substr(scheme + 3) != host;
}

}  // namespace

Dashboard::Dashboard(Registry& registry, ApiConfig config, RolloutControl* rollouts)
    : registry_(registry), config_(std::move(config)), rollouts_(rollouts), sessions_(config_) {}

const char* Dashboard::cookie_name() const {
  return config_.secure_cookies ? kSecureCookie : kCookie;
}

std::optional<Dashboard::Session> Dashboard::session(const ApiRequest& r) const {
  std::string value = cookie(r, cookie_name());
  if (value.empty()) return std::nullopt;
  auto name = sessions_.verify(value, r.now);
  if (!name) return std::nullopt;
  return Session{*name, value};
}

ApiResponse Dashboard::handle(const ApiRequest& r) {
  const auto parts = split_path(r.path);
  if (parts.size() == 1 && parts[0] == "login") {
    if (r.method == "GET" || r.method == "HEAD")
      return page(200, "Log in", {}, pages::login("", ""));
    if (r.method == "POST") return log_in(r);
    return error_page(405, "Method not allowed", "GET or POST " + r.path, {});
  }
  // Without a valid session every other path is the log-in, known or not.
  auto s = session(r);
  if (!s) return redirect("/login");
  if (r.method == "POST") return post(r, *s, parts);
  // HEAD as GET: the server sends its headers without the body.
  if (r.method == "GET" || r.method == "HEAD") return get(r, *s, parts);
  return error_page(405, "Method not allowed", "GET or POST only",
                    {s->name, sessions_.csrf_token(s->cookie)});
}

ApiResponse Dashboard::log_in(const ApiRequest& r) {
  if (foreign_origin(r)) return error_page(403, "Refused", "a log-in from another site", {});
  auto form = parse_form(r);
  if (!form)
    return error_page(400, "Not a form", "send the log-in form (application/x-www-form-urlencoded)",
                      {});
  const std::string name = field(*form, "operator");
  auto who = sessions_.log_in(name, field(*form, "secret"));
  if (!who)
    return page(401, "Log in", {},
                pages::login(name.substr(0, 128), "Wrong operator, token or password."));
  const std::string value = sessions_.issue(*who, r.now);
  if (value.empty())
    return error_page(500, "Failed", "no random numbers for a session; try again", {});
  ApiResponse ok = redirect("/");
  std::string set = std::string(cookie_name()) + "=" + value +
                    "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                    std::to_string(sessions_.lifetime_seconds());
  if (config_.secure_cookies) set += "; Secure";
  ok.headers["Set-Cookie"] = set;
  return ok;
}

ApiResponse Dashboard::post(const ApiRequest& r, const Session& s,
                            const std::vector<std::string>& parts) {
  const pages::Viewer viewer{s.name, sessions_.csrf_token(s.cookie)};
  auto form = parse_form(r);
  if (!form) return error_page(400, "Not a form", "send a form of this dashboard", viewer);
  if (foreign_origin(r) || !sessions_.csrf_matches(s.cookie, field(*form, "csrf")))
    return error_page(403, "Refused",
                      "This form did not come from this session's pages; reload the page and "
                      "try again.",
                      viewer);
  if (parts.size() == 1 && parts[0] == "logout") {
    ApiResponse out = redirect("/login");
    out.headers["Set-Cookie"] = std::string(cookie_name()) +
                                "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" +
                                (config_.secure_cookies ? "; Secure" : "");
    return out;
  }
  if (parts.size() == 3 && parts[0] == "channels" &&
      (parts[2] == "pause" || parts[2] == "resume")) {
    if (!rollouts_) return error_page(404, "Not found", "this service watches no channel", viewer);
    std::string reason = field(*form, "reason").substr(0, 200);
    if (reason.empty()) reason = "paused from the dashboard by " + s.name;
    auto done = parts[2] == "pause" ? rollouts_->pause(parts[1], s.name, reason, r.now)
                                    : rollouts_->resume(parts[1], s.name, r.now);
    if (!done) return failure(done.error(), viewer);
    return redirect("/");
  }
  return error_page(404, "Not found", "no form is sent to " + r.path.substr(0, 200), viewer);
}

ApiResponse Dashboard::get(const ApiRequest& r, const Session& s,
                           const std::vector<std::string>& parts) {
  if (parts.empty()) return fleet_page(r, s);
  if (parts.size() == 1 && parts[0] == "devices") return devices_page(r, s);
  if (parts.size() == 2 && parts[0] == "devices") return device_page(r, s, parts[1]);
  return error_page(404, "Not found", "no page " + r.path.substr(0, 200),
                    {s.name, sessions_.csrf_token(s.cookie)});
}

ApiResponse Dashboard::fleet_page(const ApiRequest& r, const Session& s) {
  const pages::Viewer viewer{s.name, sessions_.csrf_token(s.cookie)};
  auto all = registry_.devices();
  if (!all) return failure(all.error(), viewer);
  RollupOptions o;
  o.now = r.now;
  o.silent_after_seconds = config_.silent_after_seconds;
  const nlohmann::json counts = rollup(*all, o);
  std::optional<Result<nlohmann::json>> channels;
  if (rollouts_) channels = rollouts_->channels(r.now);
  return page(200, "Fleet", viewer,
              pages::fleet(counts, channels ? &*channels : nullptr, viewer, r.now));
}

ApiResponse Dashboard::device_page(const ApiRequest& r, const Session& s, const std::string& id) {
  const pages::Viewer viewer{s.name, sessions_.csrf_token(s.cookie)};
  if (!check_device_id(id))
    return error_page(404, "Not found", "no device " + id.substr(0, 128), viewer);
  auto d = registry_.device(id);
  if (!d) return failure(d.error(), viewer);
  if (!*d) return error_page(404, "Not found", "no device " + id, viewer);
  auto reports = registry_.reports(id, 20);
  if (!reports) return failure(reports.error(), viewer);
  return page(200, "Device " + id, viewer, pages::device(**d, *reports, r.now));
}

ApiResponse Dashboard::devices_page(const ApiRequest& r, const Session& s) {
  const pages::Viewer viewer{s.name, sessions_.csrf_token(s.cookie)};
  auto all = registry_.devices();
  if (!all) return failure(all.error(), viewer);
  return page(200, "Devices", viewer, pages::devices(*all, kDeviceRows, r.now));
}

}  // namespace ef::fleet
