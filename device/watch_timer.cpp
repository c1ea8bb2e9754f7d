#include "device/watch_timer.hpp"

namespace ef::device {

std::string watch_service_unit() {
  return R"([Unit]
Description=edgeforge: poll the release channel; upgrade when it is this device's turn
Wants=network-online.target
After=network-online.target edgeforge-boot.service

[Service]
Type=oneshot
ExecStart=/usr/bin/edgeforge-agent watch
TimeoutStartSec=3h
StandardOutput=journal+console
)";
}

std::string watch_timer_unit(std::chrono::seconds interval, std::chrono::seconds jitter) {
  return "[Unit]\nDescription=edgeforge: poll the release channel\n\n[Timer]\nOnBootSec=5min\n"
         "OnUnitActiveSec=" +
         std::to_string(interval.count()) +
         "s\nRandomizedDelaySec=" + std::to_string(jitter.count()) +
         "s\n\n[Install]\nWantedBy=timers.target\n";
}

std::string watch_timer_drop_in(std::optional<std::chrono::seconds> interval,
                                std::optional<std::chrono::seconds> jitter) {
  if (!interval && !jitter) return "";
  std::string t = "# edgeforge site: updates.interval and updates.jitter\n[Timer]\n";
  // An empty assignment clears the image's list of timers before the new one.
  if (interval)
    t += "OnUnitActiveSec=\nOnUnitActiveSec=" + std::to_string(interval->count()) + "s\n";
  if (jitter) t += "RandomizedDelaySec=" + std::to_string(jitter->count()) + "s\n";
  return t;
}

}  // namespace ef::device
