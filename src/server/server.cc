#include "server/server.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/logging.h"
#include "common/printable.h"
#include "common/strings.h"
#include "common/random.h"
#include "config/loader.h"
#include "metrics/registry.h"
#include "network/listener.h"
#include "proxy/explain.h"
#include "proxy/snapshot.h"
#include "proxy/worker.h"
#include "server/access_command.h"
#include "server/background_loader.h"
#include "server/route_controls.h"
#include "server/snapshot_job.h"

namespace vallum::server {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

/// The config file is polled this often; a change is applied once two polls in a row see the
/// same file (so a file being written is not read half-way).
constexpr auto kConfigPollInterval = std::chrono::milliseconds(250);
/// How long stopping waits for a config load that is still running (bounded by the drain
/// deadline too).
constexpr auto kLoaderGrace = std::chrono::seconds(1);
/// Upstream host names are resolved again this often; a changed address republishes the
/// snapshot (health and pools are kept).
constexpr auto kDnsRefreshInterval = std::chrono::seconds(30);

/// Identity of the config file's current content, for change detection (editors often
/// replace the file, which changes the inode).
struct FileStamp {
  ino_t inode = 0;
  off_t size = -1;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  bool exists = false;

  static FileStamp of(const std::string& path) {
    FileStamp s;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
      s.exists = true;
      s.inode = st.st_ino;
      s.size = st.st_size;
      s.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
      s.ctime_ns = int64_t(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
    }
    return s;
  }
  bool operator==(const FileStamp&) const = default;
};

void logDiagnostics(const config::Diagnostics& diagnostics) {
  for (const config::Diagnostic& d : diagnostics.items()) {
    if (d.severity == config::Severity::Error) {
      VALLUM_LOG_ERROR("{}", d.format());
    } else {
      VALLUM_LOG_WARN("{}", d.format());
    }
  }
}

class Server {
 public:
  explicit Server(const ServeOptions& options) : options_(options) {}

  int run() {
    size_t n = options_.concurrency;
    if (n == 0) {
      n = std::max<size_t>(1, std::thread::hardware_concurrency());
    }
    metrics_ = std::make_shared<metrics::Registry>(n);
    controls_ = std::make_unique<RouteControls>(control_, *metrics_, random_.next());
    // The first load runs here: nothing else is running yet.
    std::atomic<bool> never{false};
    LoadOutcome first = loadAndCompile(options_.config_path, compileInputs(), never);
    snapshot_ = std::move(first.snapshot);
    if (snapshot_) {
      applyLogLevel(*snapshot_);  // before the diagnostics: log_level: error hides warnings
    }
    logDiagnostics(first.diagnostics);
    if (!snapshot_) {
      VALLUM_LOG_ERROR("{}: invalid config, not starting", options_.config_path);
      return 1;
    }
    stamp_ = FileStamp::of(options_.config_path);
    if (snapshot_->options.metrics_address) {
      auto exporter = metrics::Exporter::start(*snapshot_->options.metrics_address, metrics_);
      if (!exporter) {
        VALLUM_LOG_ERROR("metrics_address: {}", exporter.error().detail());
        return 1;
      }
      exporter_ = std::move(*exporter);
      VALLUM_LOG_INFO("metrics on http://{}:{}/metrics",
                      snapshot_->options.metrics_address->host.empty()
                          ? std::string("0.0.0.0")
                          : snapshot_->options.metrics_address->host,
                      exporter_->port());
    }
    auto endpoint = network::resolveListenAddress(snapshot_->options.address);
    if (!endpoint) {
      VALLUM_LOG_ERROR("{}", endpoint.error().detail());
      return 1;
    }
    listen_address_ = snapshot_->options.address.toString();
    insecure_ = snapshot_->options.insecure_server;
    for (size_t i = 0; i < n; ++i) {
      workers_.push_back(std::make_unique<proxy::Worker>(i));
      workers_.back()->setConnectionGauges(&metrics_->connectionGauges(i));
    }
    // The first bind may pick a free port (port 0); the other workers bind the same one.
    tcp::endpoint bound = *endpoint;
    for (auto& worker : workers_) {
      auto acceptor = network::openListener(worker->io(), bound);
      if (!acceptor) {
        VALLUM_LOG_ERROR("{}", acceptor.error().detail());
        return 1;
      }
      bound = acceptor->local_endpoint();
      worker->install(snapshot_);
      worker->startAccepting(std::move(*acceptor));
    }
    if (snapshot_->tls && snapshot_->tls->selfSigned()) {
      VALLUM_LOG_WARN(
          "no certificate configured: serving a generated self-signed certificate "
          "(set `certificates` or `certificate_file`/`certificate_key_file`)");
    }
    // Signals are caught from here on: a SIGHUP sent as soon as "listening" shows (scripts and
    // tests do) must reload, not kill the process with the default action. asio queues a
    // signal that arrives before waitSignal() below.
    asio::signal_set signals(control_, SIGHUP, SIGTERM, SIGINT);
    VALLUM_LOG_INFO("listening on {} ({}), {} worker{}, {} route{}", network::formatEndpoint(bound),
                    insecure_ ? "http" : "https", n, n == 1 ? "" : "s", snapshot_->routes.size(),
                    snapshot_->routes.size() == 1 ? "" : "s");

    generation_ = snapshot_->generation;
    for (auto& worker : workers_) {
      worker->setOutlierReport([this](const std::string& route_id, uint32_t host) {
        asio::post(control_,
                   [this, route_id, host] { controls_->onOutlierThreshold(route_id, host); });
      });
    }
    loader_.retire(controls_->apply(*snapshot_, std::move(first.plan)));
    for (auto& worker : workers_) {
      proxy::Worker* w = worker.get();
      threads_.emplace_back([w] { w->run(); });
    }

    waitSignal(signals);
    asio::steady_timer poll(control_);
    pollConfig(poll);
    asio::steady_timer dns(control_);
    refreshDns(dns);
    control_.run();

    loader_.cancel();
    controls_->stopAll();
    for (auto& worker : workers_) {
      worker->stop();
    }
    for (auto& t : threads_) {
      t.join();
    }
    // A cancelled parse stops within a few hundred YAML events, but compiling or a DNS lookup
    // cannot be interrupted: the exit does not wait past the drain deadline (or a second).
    auto wait_until = std::min(drain_deadline_, std::chrono::steady_clock::now() + kLoaderGrace);
    if (!loader_.waitIdle(wait_until)) {
      VALLUM_LOG_WARN("a config load is still running; exiting without waiting for it");
    }
    VALLUM_LOG_INFO("stopped");
    return 0;
  }

 private:
  void applyLogLevel(const proxy::Snapshot& snapshot) {
    const std::string& level =
        options_.log_level.empty() ? snapshot.options.log_level : options_.log_level;
    spdlog::set_level(spdlog::level::from_str(level));
  }

  void waitSignal(asio::signal_set& signals) {
    signals.async_wait([this, &signals](const boost::system::error_code& ec, int signo) {
      if (ec) {
        return;
      }
      if (signo == SIGHUP) {
        VALLUM_LOG_INFO("SIGHUP: reloading {}", options_.config_path);
        requestReload();
        waitSignal(signals);
        return;
      }
      if (draining_) {
        VALLUM_LOG_WARN("second stop signal: exiting without waiting for the drain");
        control_.stop();
        return;
      }
      beginDrain();
      waitSignal(signals);
    });
  }

  void pollConfig(asio::steady_timer& timer) {
    timer.expires_after(kConfigPollInterval);
    timer.async_wait([this, &timer](const boost::system::error_code& ec) {
      if (ec || draining_) {
        return;
      }
      FileStamp now = FileStamp::of(options_.config_path);
      if (now == stamp_ || !now.exists) {
        pending_stamp_.reset();
      } else if (pending_stamp_ && *pending_stamp_ == now) {
        pending_stamp_.reset();
        VALLUM_LOG_INFO("{} changed: reloading", options_.config_path);
        requestReload();
      } else {
        pending_stamp_ = now;  // changed: wait until it stops changing
      }
      pollConfig(timer);
    });
  }

  /// Starts a reload on the loader thread, or, while a load is running, schedules one more
  /// for when it finishes (any number of requests meanwhile make one reload: it reads the file
  /// as it is then).
  void requestReload() {
    if (draining_) {
      return;
    }
    if (loader_.busy()) {
      if (!reload_pending_) {
        VALLUM_LOG_INFO("{}: a reload is in progress; reloading again when it finishes",
                        options_.config_path);
      }
      reload_pending_ = true;
      return;
    }
    stamp_ = FileStamp::of(options_.config_path);
    if (stamp_.exists && stamp_.size == 0) {
      // An editor or a tool truncated the file and has not written it yet; an empty config
      // would drop every route and certificate. Keep serving and wait for the content.
      VALLUM_LOG_ERROR("{}: the file is empty; keeping the running config (generation {})",
                       options_.config_path, generation_);
      return;
    }
    // Parsing, validation and compilation (DNS lookups included) run off the control thread,
    // which keeps running health checks, outlier sweeps, signals and drain meanwhile. The job
    // gets copies of what it needs; its result comes back here to be published.
    loader_.start([this, path = options_.config_path, inputs = compileInputs()](
                      const std::atomic<bool>& cancel) mutable -> std::function<void()> {
      auto outcome = std::make_shared<LoadOutcome>(loadAndCompile(path, std::move(inputs), cancel));
      if (cancel.load(std::memory_order_relaxed)) {
        VALLUM_LOG_INFO("reload cancelled: stopping");
        return nullptr;
      }
      logDiagnostics(outcome->diagnostics);  // spdlog is thread-safe; spares the control thread
      return [this, outcome] { finishReload(*outcome); };
    });
  }

  /// Control thread: publishes a loaded snapshot (or keeps the running one).
  void finishReload(LoadOutcome& outcome) {
    if (draining_) {
      return;
    }
    metrics_->configReloaded(outcome.snapshot != nullptr);
    const proxy::SnapshotConstSharedPtr& next = outcome.snapshot;
    if (!next) {
      VALLUM_LOG_ERROR("{}: reload failed; keeping the running config (generation {})",
                       options_.config_path, generation_);
    } else {
      generation_ = next->generation;
      if (next->options.address.toString() != listen_address_ ||
          next->options.insecure_server != insecure_) {
        VALLUM_LOG_WARN("address/insecure_server changed: the listener keeps {} until restart",
                        listen_address_);
      }
      if (next->options.insecure_server != insecure_) {
        VALLUM_LOG_ERROR("insecure_server cannot change on reload; keeping the running config");
      } else {
        applyLogLevel(*next);
        publish(next, std::move(outcome.plan));
        using std::chrono::duration_cast;
        using std::chrono::milliseconds;
        VALLUM_LOG_INFO(
            "config reloaded (generation {}, {} routes, loaded in {} ms, of which "
            "compiling {} ms)",
            generation_, next->routes.size(), duration_cast<milliseconds>(outcome.elapsed).count(),
            duration_cast<milliseconds>(outcome.compile_elapsed).count());
      }
    }
    afterJob();
  }

  /// A reload asked for while the last job ran starts now.
  void afterJob() {
    if (reload_pending_ && !draining_) {
      reload_pending_ = false;
      requestReload();
    }
  }

  void publish(const proxy::SnapshotConstSharedPtr& next, PublishPlan plan) {
    snapshot_ = next;
    for (auto& worker : workers_) {
      proxy::Worker* w = worker.get();
      w->post([w, next] { w->install(next); });
    }
    // The health map and endpoint gauges it replaces are freed on the loader thread.
    loader_.retire(controls_->apply(*next, std::move(plan)));
  }

  /// What a load or compile job needs, copied (control thread).
  CompileInputs compileInputs() {
    CompileInputs inputs;
    inputs.generation = generation_ + 1;
    inputs.metrics = metrics_;
    if (controls_) {
      inputs.health = controls_->health();
    }
    return inputs;
  }

  /// Re-resolves upstream host names every kDnsRefreshInterval; when an address changed, the
  /// same options are compiled again and published (health and pools are kept). The lookups
  /// block, so all of it runs as a loader job (skipped while a reload runs; a reload asked for
  /// meanwhile waits for it).
  void refreshDns(asio::steady_timer& timer) {
    timer.expires_after(kDnsRefreshInterval);
    timer.async_wait([this, &timer](const boost::system::error_code& ec) {
      if (ec || draining_) {
        return;
      }
      if (!loader_.busy()) {
        loader_.start([this, base = snapshot_, inputs = compileInputs()](
                          const std::atomic<bool>&) mutable -> std::function<void()> {
          std::shared_ptr<LoadOutcome> outcome;
          if (hasNamedUpstreams(*base)) {
            outcome = std::make_shared<LoadOutcome>(recompile(base->options, std::move(inputs)));
            if (!outcome->snapshot || !addressesChanged(*base, *outcome->snapshot)) {
              outcome.reset();
            }
          }
          return [this, base, outcome] {
            if (outcome && !draining_ && base == snapshot_) {
              generation_ = outcome->snapshot->generation;
              VALLUM_LOG_INFO("upstream addresses changed: publishing generation {}", generation_);
              publish(outcome->snapshot, std::move(outcome->plan));
            }
            afterJob();
          };
        });
      }
      refreshDns(timer);
    });
  }

  static bool hasNamedUpstreams(const proxy::Snapshot& snapshot) {
    for (const proxy::RouteRuntime& route : snapshot.routes) {
      for (const config::UpstreamUrl& url : route.config->to) {
        boost::system::error_code parse_error;
        boost::asio::ip::make_address(url.host, parse_error);
        if (parse_error && url.host != "localhost") {
          return true;
        }
      }
    }
    return false;
  }

  static bool addressesChanged(const proxy::Snapshot& a, const proxy::Snapshot& b) {
    if (a.routes.size() != b.routes.size()) {
      return true;
    }
    for (size_t r = 0; r < a.routes.size(); ++r) {
      const auto& x = a.routes[r].cluster.endpoints;
      const auto& y = b.routes[r].cluster.endpoints;
      if (x.size() != y.size()) {
        return true;
      }
      for (size_t i = 0; i < x.size(); ++i) {
        if (x[i].resolved != y[i].resolved || x[i].address != y[i].address) {
          return true;
        }
      }
    }
    return false;
  }

  void beginDrain() {
    draining_ = true;
    drain_deadline_ = std::chrono::steady_clock::now() + options_.drain_timeout;
    loader_.cancel();  // a reload in progress is abandoned
    VALLUM_LOG_INFO("draining: waiting up to {}s for in-flight requests",
                    options_.drain_timeout.count());
    remaining_ = workers_.size();
    for (auto& worker : workers_) {
      proxy::Worker* w = worker.get();
      w->post([this, w] {
        w->drain([this] {
          asio::post(control_, [this] {
            if (--remaining_ == 0) {
              VALLUM_LOG_INFO("drained");
              control_.stop();
            }
          });
        });
      });
    }
    drain_timer_.expires_after(options_.drain_timeout);
    drain_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) {
        VALLUM_LOG_WARN("drain timeout: closing remaining connections");
        control_.stop();
      }
    });
  }

  ServeOptions options_;
  asio::io_context control_{1};
  std::shared_ptr<metrics::Registry> metrics_;
  std::unique_ptr<metrics::Exporter> exporter_;
  std::unique_ptr<RouteControls> controls_;
  FastRandom random_;
  asio::steady_timer drain_timer_{control_};
  std::vector<std::unique_ptr<proxy::Worker>> workers_;
  std::vector<std::thread> threads_;
  proxy::SnapshotConstSharedPtr snapshot_;
  uint64_t generation_ = 0;
  FileStamp stamp_;
  std::optional<FileStamp> pending_stamp_;
  std::string listen_address_;
  bool insecure_ = false;
  bool draining_ = false;
  std::chrono::steady_clock::time_point drain_deadline_ =
      std::chrono::steady_clock::time_point::max();
  size_t remaining_ = 0;
  bool reload_pending_ = false;
  // Last: destroyed first, while everything its continuations could touch still exists.
  BackgroundLoader loader_{control_};
};

}  // namespace

int serve(const ServeOptions& options) {
  int rc = 0;
  {
    Server server(options);
    rc = server.run();
  }
  if (BackgroundLoader::abandonedWork()) {
    // A config load was still running when the server stopped (it owns what it uses, but
    // static destructors would run under it): leave without them, logs flushed.
    spdlog::default_logger()->flush();
    std::fflush(nullptr);
    std::_Exit(rc);
  }
  return rc;
}

int check(const std::string& config_path, std::ostream& out) {
  config::LoadResult loaded = config::loadFile(config_path, config::processEnvironment());
  size_t routes = 0;
  proxy::SnapshotConstSharedPtr snapshot;
  if (loaded.options) {
    routes = loaded.options->routes.size();
    proxy::SnapshotBuildOptions build;
    build.resolve_dns = false;
    snapshot = proxy::buildSnapshot(std::move(*loaded.options), build, loaded.diagnostics);
  }
  // In file order: the compile step's lints (shadowed routes, routes that only answer 403)
  // come after the loader's diagnostics otherwise. Per file, by line and column; positionless
  // ones (line 0) first, as the loader writes them.
  out << loaded.diagnostics.formatInFileOrder();
  if (loaded.diagnostics.hasErrors()) {
    return 1;
  }
  // The label of each route's Prometheus series, so a dashboard can be matched to the config.
  if (snapshot) {
    for (const proxy::RouteRuntime& route : snapshot->routes) {
      const config::Route& cfg = *route.config;
      // Not FILE:LINE:COL first: editors read that shape as a problem. The name is quoted as
      // a JSON string, its own quotes escaped.
      std::string name;
      strings::appendJsonEscaped(name, route.log_name);
      out << printable(cfg.key) << ": metrics name \"" << printable(name) << "\" ("
          << printable(cfg.pos.file) << ':' << cfg.pos.line << ':' << cfg.pos.column << ")\n";
    }
  }
  out << "OK: " << routes << " route" << (routes == 1 ? "" : "s") << ", "
      << loaded.diagnostics.warningCount() << " warning"
      << (loaded.diagnostics.warningCount() == 1 ? "" : "s") << '\n';
  return 0;
}

int route(const std::string& config_path, const std::string& method,
          const std::vector<std::string>& headers, const std::string& url, std::ostream& out,
          std::ostream& err, const RouteVisitor& visitor) {
  std::optional<proxy::ExplainIdentity> identity;
  if (!visitor.as.empty() || !visitor.users_path.empty() || visitor.anonymous) {
    identity = routeIdentity(visitor.as, visitor.users_path, visitor.anonymous, err);
    if (!identity) {
      return 2;
    }
  }
  config::LoadResult loaded = config::loadFile(config_path, config::processEnvironment());
  proxy::SnapshotConstSharedPtr snapshot;
  if (loaded.options) {
    proxy::SnapshotBuildOptions build;
    build.resolve_dns = false;
    snapshot = proxy::buildSnapshot(std::move(*loaded.options), build, loaded.diagnostics);
  }
  if (!snapshot) {
    for (const config::Diagnostic& d : loaded.diagnostics.items()) {
      err << d.format() << '\n';
    }
    return 2;
  }
  proxy::ExplainRequest request;
  request.method = method;
  request.url = url;
  request.identity = std::move(identity);
  for (const std::string& header : headers) {
    size_t colon = header.find(':');
    if (colon == std::string::npos || colon == 0) {
      err << "vallum route: --header expects \"Name: value\", got \"" << header << "\"\n";
      return 2;
    }
    std::string value = header.substr(colon + 1);
    size_t first = value.find_first_not_of(" \t");
    request.headers.emplace_back(header.substr(0, colon),
                                 first == std::string::npos ? "" : value.substr(first));
  }
  proxy::ExplainResult result = proxy::explainRequest(*snapshot, request);
  if (!result.error.empty()) {
    err << "vallum route: " << result.error << '\n';
    return 2;
  }
  out << result.json << '\n';
  return result.route_matched ? 0 : 1;
}

}  // namespace vallum::server
