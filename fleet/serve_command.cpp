// edgeforge-fleet serve: the database, the API and the dashboard, the
// HTTP(S) server, until SIGTERM or SIGINT.
#include <arpa/inet.h>

#include <CLI/CLI.hpp>
#include <condition_variable>
#include <csignal>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "fleet/commands.hpp"
#include "fleet/config.hpp"
#include "fleet/database.hpp"
#include "fleet/http_server.hpp"
#include "util/atomic_file.hpp"

namespace ef::fleet {
namespace {

struct ServeArgs {
  std::string db = "fleet.sqlite";
  std::string listen = "127.0.0.1:8480";
  std::string config = "/etc/edgeforge/fleet.yaml";
  std::string tls_cert, tls_key;
  // Workers wait for the database; PostgreSQL commits the reports of all
  // waiting workers in one disk flush, so more workers take more reports.
  unsigned threads = 32;
};

Result<ServerOptions> server_options(const ServeArgs& a) {
  ServerOptions o;
  size_t colon = a.listen.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return Error(Errc::invalid_argument, "--listen " + a.listen + ": expected HOST:PORT");
  o.host = a.listen.substr(0, colon);
  in_addr parsed{};
  if (inet_pton(AF_INET, o.host.c_str(), &parsed) != 1)
    return Error(Errc::invalid_argument,
                 "--listen " + a.listen + ": give an IPv4 address (0.0.0.0 for all)");
  char* end = nullptr;
  unsigned long port = std::strtoul(a.listen.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port > 65535 || colon + 1 == a.listen.size())
    return Error(Errc::invalid_argument, "--listen " + a.listen + ": the port is 0 to 65535");
  o.port = static_cast<uint16_t>(port);
  o.threads = a.threads;
  if (a.tls_cert.empty() != a.tls_key.empty())
    return Error(Errc::invalid_argument, "give both --tls-cert and --tls-key, or neither");
  if (!a.tls_cert.empty()) {
    EF_ASSIGN(o.tls_cert_pem, read_file(a.tls_cert));
    EF_ASSIGN(o.tls_key_pem, read_file(a.tls_key));
  }
  return o;
}

int serve(const ServeArgs& a) {
  auto fail = [](const Error& e) { return cmdline::report_failure("edgeforge-fleet", e, false); };
  auto config = load_config(a.config);
  if (!config) return fail(config.error());
  auto options = server_options(a);
  if (!options) return fail(options.error());
  auto db = open_database(a.db);
  if (!db) return fail(db.error());
  Registry registry(**db);
  auto gate_config = load_gate_config(a.config);
  if (!gate_config) return fail(gate_config.error());
  auto gates = GateEngine::open(**db, registry, *gate_config);
  if (!gates) return fail(gates.error());
  // Served over HTTPS, the dashboard's session cookie is only sent back so.
  config->secure_cookies = !options->tls_cert_pem.empty();
  Api api(registry, *config, gate_config->channels.empty() ? nullptr : gates->get());
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);  // the server's threads inherit the mask
  auto server = HttpServer::start(api, *options);
  if (!server) return fail(server.error());
  std::cout << "edgeforge-fleet: serving /api/v1/ on "
            << (options->tls_cert_pem.empty() ? "http" : "https") << "://" << options->host << ":"
            << (*server)->port() << " with " << (*db)->engine() << " (" << config->operators.size()
            << " operator" << (config->operators.size() == 1 ? "" : "s") << "); the dashboard at /"
            << std::endl;
  // The gates: every channel evaluated each interval, the first time now.
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::thread gate_thread;
  if (!gate_config->channels.empty()) {
    std::cout << "edgeforge-fleet: watching " << gate_config->channels.size()
              << " channel(s), gates every " << gate_config->interval_seconds << " s" << std::endl;
    gate_thread = std::thread([&] {
      std::unique_lock lock(mutex);
      while (!stopping) {
        lock.unlock();
        for (const std::string& line : (*gates)->run_once(now_utc()))
          std::cout << "edgeforge-fleet: " << line << std::endl;
        lock.lock();
        wake.wait_for(lock, std::chrono::seconds(gate_config->interval_seconds),
                      [&] { return stopping; });
      }
    });
  }
  int sig = 0;
  sigwait(&stop, &sig);
  std::cout << "edgeforge-fleet: stopping (signal " << sig << ")" << std::endl;
  {
    std::lock_guard lock(mutex);
    stopping = true;
  }
  wake.notify_all();
  if (gate_thread.joinable()) gate_thread.join();
  return 0;
}

}  // namespace

cmdline::Command add_serve_command(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve",
                                 "Serve the fleet API to devices and operators, and the dashboard");
  cmd->add_option("--db", a->db,
                  "SQLite file (default fleet.sqlite) or postgresql://USER@HOST/DB (several "
                  "instances may share one PostgreSQL database)");
  cmd->add_option("--listen", a->listen, "HOST:PORT to listen on (default 127.0.0.1:8480)");
  cmd->add_option("--config", a->config,
                  "Configuration: operator tokens and passwords, sessions, limits (default "
                  "/etc/edgeforge/fleet.yaml)");
  cmd->add_option("--tls-cert", a->tls_cert, "Serve HTTPS with this certificate (PEM)");
  cmd->add_option("--tls-key", a->tls_key, "... and this private key (PEM)");
  cmd->add_option("--threads", a->threads,
                  "Worker threads (default 32; each may hold one PostgreSQL connection)")
      ->check(CLI::Range(1, 64));
  cmd->footer("docs/fleet-api.md describes the API and the configuration file.");
  return {cmd, [a] { return serve(*a); }};
}

}  // namespace ef::fleet
