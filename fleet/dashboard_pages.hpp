// The dashboard's pages as HTML; fleet/dashboard.hpp decides which page
// answers a request and gathers what it shows. Every value from devices or
// the database goes through html::fill, which escapes it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fleet/html.hpp"
#include "fleet/registry.hpp"
#include "util/error.hpp"
#include "util/utc_time.hpp"

namespace ef::fleet::pages {

/// Who looks at a page: the operator logged in and the session's CSRF token
/// for the page's forms; both empty on the log-in page.
struct Viewer {
  std::string name;
  std::string csrf;
};

/// A whole document titled `title`: the inline style, the top bar for
/// `viewer` (its log-out form) and `body`.
std::string document(const std::string& title, const Viewer& viewer, const html::Markup& body);

/// The log-in form, with the operator `name` filled in and `message` (why
/// the last try failed) above it when not empty.
html::Markup login(const std::string& name, const std::string& message);

/// The fleet at a glance: `rollup` as fleet::rollup() makes it, and
/// `channels` as RolloutControl::channels() answers (null: the service
/// watches no channel), each with the forms that pause and resume it.
html::Markup fleet(const nlohmann::json& rollup, const Result<nlohmann::json>* channels,
                   const Viewer& viewer, UnixSeconds now);

/// One device: its record, placement and `reports` (newest first).
html::Markup device(const Device& d, const std::vector<Registry::Report>& reports, UnixSeconds now);

/// Every device, one row each, up to `limit` rows.
html::Markup devices(const std::vector<Device>& all, size_t limit, UnixSeconds now);

/// A page that only says `text` (errors: not found, refused, unavailable).
html::Markup message(const std::string& heading, const std::string& text);

}  // namespace ef::fleet::pages
