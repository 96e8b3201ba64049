#include "upstream/health/active_health_checker.h"

#include <algorithm>
#include <array>
#include <exception>
#include <optional>
#include <string_view>
#include <tuple>
#include <utility>

#include <openssl/ssl.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "common/logging.h"
#include "config/duration.h"
#include "http/http1/parser.h"
#include "http/http2/client_codec.h"
#include "upstream/health/check_schedule.h"
#include "upstream/health/tcp_receive_matcher.h"
#include "upstream/pool/connector.h"

namespace vallum::upstream::health {

// ---------------------------------------------------------------------------------------------
// HealthState

HealthState::HealthState(uint32_t healthy_threshold, uint32_t unhealthy_threshold)
    // A threshold of 0 could never be reached; treat it as 1.
    : healthy_threshold_(std::max<uint32_t>(healthy_threshold, 1)),
      unhealthy_threshold_(std::max<uint32_t>(unhealthy_threshold, 1)) {}

bool HealthState::record(CheckResult result) {
  // Envoy ActiveHealthCheckSession::handleSuccess / handleFailure.
  const bool first = !checked_;
  checked_ = true;
  pending_ = false;
  if (result == CheckResult::Success) {
    failures_ = 0;
    if (healthy_) {
      return false;
    }
    ++successes_;
    if (first || successes_ >= healthy_threshold_) {
      healthy_ = true;
      successes_ = 0;
      return true;
    }
    pending_ = true;
    return false;
  }
  successes_ = 0;
  if (!healthy_) {
    return false;
  }
  ++failures_;
  if (result == CheckResult::Failure || failures_ >= unhealthy_threshold_) {
    healthy_ = false;
    failures_ = 0;
    return true;
  }
  pending_ = true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// ActiveHealthChecker

namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::awaitable;
using asio::ip::tcp;
using boost::system::error_code;

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
constexpr size_t kReadSize = 4096;
constexpr std::string_view kUserAgent = "Vallum/HC";

/// The outcome of one check and why.
struct Verdict {
  CheckResult result = CheckResult::Success;
  std::string reason;
};

bool inRanges(const std::vector<config::StatusRange>& ranges, int status) {
  return std::any_of(ranges.begin(), ranges.end(), [status](const config::StatusRange& r) {
    return status >= r.start && status < r.end;
  });
}

bool isEof(const error_code& ec) {
  return ec == asio::error::eof || ec == ssl::error::stream_truncated;
}

/// The one stream of an HTTP/2 health check: the response status is all it needs.
struct H2Probe final : http::http2::ClientStreamHandler {
  void onResponseHead(http::ResponseHeaders& head) override {
    status = head.status;
    done = true;
  }
  void onResponseData(std::string_view) override {}
  void onResponseComplete() override { done = true; }
  void onStreamClose(uint32_t code, bool malformed) override {
    closed = true;
    close_code = code;
    protocol_error = malformed;
    done = true;
  }
  size_t readRequestBody(uint8_t*, size_t, bool* eof) override {
    *eof = true;
    return 0;
  }

  int status = 0;
  bool done = false;
  bool closed = false;
  bool protocol_error = false;
  uint32_t close_code = 0;
};

struct Core;

/// One (check, host) pair: its connection, timers and threshold state. Owned by Core; its
/// coroutine keeps Core (and so the session) alive until it returns.
class Session {
 public:
  Session(Core& core, size_t check_index, size_t host_index);

  /// The check loop; `keep` holds the Core while the coroutine runs.
  awaitable<void> run(std::shared_ptr<Core> keep);
  /// Cancels timers and closes the connection; pending operations complete with errors.
  void cancel();

  size_t hostIndex() const { return host_index_; }
  bool healthy() const { return state_.healthy(); }

 private:
  /// One check: connects (or reuses the kept connection) and runs one attempt of the check's
  /// kind; an attempt that asks for a retry runs once more on a fresh connection.
  awaitable<Verdict> check();
  // One attempt each, on the connected socket. nullopt: the kept connection turned out to be
  // closed by the upstream before it answered (mayRetry()), so try again on a fresh one.
  awaitable<std::optional<Verdict>> httpAttempt(bool reused);
  /// codec_client_type HTTP2: GET over an HTTP/2 session (prior knowledge on plaintext, ALPN h2
  /// under TLS), one stream per check, the connection kept as for HTTP/1.
  awaitable<std::optional<Verdict>> http2Attempt(bool reused);
  awaitable<std::optional<Verdict>> tcpAttempt(bool reused);
  /// The verdict for a response status (expected, retriable or not).
  Verdict statusVerdict(int status) const;
  /// Connects (and handshakes) unless a connection is open; nullopt when connected.
  awaitable<std::optional<Verdict>> connect(bool& reused);
  /// Reads into buffer_; once the check timed out, operation_aborted even if bytes came.
  awaitable<std::tuple<error_code, size_t>> readSome();
  awaitable<error_code> writeAll(std::string_view data);
  awaitable<bool> sleep(std::chrono::milliseconds wait);
  void closeConnection();
  /// The verdict for an I/O error during `what` ("connect", "read", ...); closes the
  /// connection.
  Verdict ioFailure(const error_code& ec, std::string_view what);
  /// Whether a failure on a reused connection before any response byte may be retried on a
  /// fresh one (the upstream closed an idle keep-alive connection).
  bool mayRetry(bool reused, bool got_bytes) const;

  Core& core_;
  const config::HealthCheck& check_;
  const CheckTarget& target_;
  size_t check_index_;
  size_t host_index_;
  HealthState state_;
  CheckSchedule schedule_;
  TcpReceiveMatcher matcher_;
  std::string request_;
  asio::steady_timer interval_timer_;
  asio::steady_timer deadline_;
  tcp::socket socket_;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls_;
  http::http1::ResponseParser parser_;
  std::vector<std::string_view> body_;
  /// HTTP/2 checks: the session of the open connection (reset whenever it closes).
  std::unique_ptr<http::http2::ClientCodec> h2_;
  std::string h2_out_;
  std::array<char, kReadSize> buffer_{};
  /// Bumped at the end of every check and on cancel(), so a deadline handler that was already
  /// queued when its timer was cancelled does nothing.
  uint64_t generation_ = 0;
  bool connected_ = false;
  bool timed_out_ = false;
  bool checked_once_ = false;
};

/// Everything the coroutines touch. Shared by the checker and every running coroutine, so the
/// checker may be destroyed while aborted operations are still queued on the io_context.
struct Core : std::enable_shared_from_this<Core> {
  Core(asio::io_context& io_context, std::vector<config::HealthCheck> check_list,
       std::vector<CheckTarget> target_list, ClusterHealthSharedPtr cluster_health,
       ActiveHealthChecker::OnChange change_callback, uint64_t seed)
      : io(io_context),
        checks(std::move(check_list)),
        targets(std::move(target_list)),
        cluster(std::move(cluster_health)),
        on_change(std::move(change_callback)),
        random(seed),
        host_healthy(targets.size(), false) {}

  /// Records the health of one session's host after a check; publishes a change of the host.
  void onResult(const Session& session, bool passed, bool session_changed,
                const std::string& reason);
  /// Whether the cluster has carried traffic (sticky). Only asked when a check configures a
  /// no-traffic interval.
  bool trafficSeen();

  asio::io_context& io;
  const std::vector<config::HealthCheck> checks;
  const std::vector<CheckTarget> targets;
  ClusterHealthSharedPtr cluster;
  ActiveHealthChecker::OnChange on_change;
  std::function<void(size_t)> on_pass;
  FastRandom random;
  /// Host-major: sessions[host * checks.size() + check].
  std::vector<std::unique_ptr<Session>> sessions;
  std::vector<bool> host_healthy;
  bool started = false;
  bool stopped = false;
  bool traffic_seen = false;
};

Session::Session(Core& core, size_t check_index, size_t host_index)
    : core_(core),
      check_(core.checks[check_index]),
      target_(core.targets[host_index]),
      check_index_(check_index),
      host_index_(host_index),
      state_(check_.healthy_threshold, check_.unhealthy_threshold),
      schedule_(check_),
      matcher_(check_.tcp_receive),
      interval_timer_(core.io),
      deadline_(core.io),
      socket_(core.io) {
  if (check_.kind == config::HealthCheck::Kind::Http &&
      check_.codec_client_type == config::HealthCheck::Codec::Http1) {
    const std::string& host = check_.http_host.empty() ? target_.authority : check_.http_host;
    request_.reserve(check_.http_path.size() + host.size() + 64);
    request_.append("GET ").append(check_.http_path).append(" HTTP/1.1\r\nHost: ");
    request_.append(host).append("\r\nUser-Agent: ").append(kUserAgent).append("\r\n\r\n");
  }
}

awaitable<void> Session::run(std::shared_ptr<Core> keep) {
  const std::chrono::milliseconds initial = schedule_.initialWait(core_.random);
  if (initial.count() > 0) {
    const bool slept = co_await sleep(initial);
    if (!slept) {
      co_return;
    }
  }
  while (!core_.stopped) {
    Verdict verdict = co_await check();
    if (core_.stopped) {
      co_return;
    }
    const bool first = !checked_once_;
    checked_once_ = true;
    const bool passed = verdict.result == CheckResult::Success;
    const bool changed = state_.record(verdict.result);
    if (changed) {
      if (passed) {
        verdict.reason = first ? "first check passed"
                               : std::to_string(std::max<uint32_t>(check_.healthy_threshold, 1)) +
                                     " consecutive successes";
      } else if (verdict.result != CheckResult::Failure && check_.unhealthy_threshold > 1) {
        verdict.reason +=
            ", " + std::to_string(check_.unhealthy_threshold) + " consecutive failures";
      }
      if (keep->checks.size() > 1) {
        verdict.reason = "health_checks[" + std::to_string(check_index_) + "]: " + verdict.reason;
      }
    }
    core_.onResult(*this, passed, changed, verdict.reason);
    if (core_.stopped) {  // on_change may stop the checker
      co_return;
    }
    const bool traffic = schedule_.hasNoTrafficPhase() && core_.trafficSeen();
    const bool slept = co_await sleep(schedule_.nextWait(passed, state_, traffic, core_.random));
    if (!slept) {
      co_return;
    }
  }
}

void Session::cancel() {
  ++generation_;
  interval_timer_.cancel();
  deadline_.cancel();
  closeConnection();
}

awaitable<Verdict> Session::check() {
  timed_out_ = false;
  const uint64_t generation = ++generation_;
  deadline_.expires_after(check_.timeout);
  deadline_.async_wait([this, keep = core_.shared_from_this(), generation](error_code ec) {
    if (ec || keep->stopped || generation != generation_) {
      return;
    }
    // Closing the socket aborts whatever the check awaits (connect, handshake, read, write).
    timed_out_ = true;
    closeConnection();
  });
  // (No co_await inside ?: or && here: GCC 12 miscompiles some of those.)
  Verdict verdict;
  while (true) {
    bool reused = false;
    std::optional<Verdict> outcome = co_await connect(reused);
    if (!outcome) {
      if (check_.kind == config::HealthCheck::Kind::Http &&
          check_.codec_client_type == config::HealthCheck::Codec::Http2) {
        outcome = co_await http2Attempt(reused);
      } else if (check_.kind == config::HealthCheck::Kind::Http) {
        outcome = co_await httpAttempt(reused);
      } else {
        outcome = co_await tcpAttempt(reused);
      }
    }
    if (outcome) {
      verdict = std::move(*outcome);
      break;
    }
    closeConnection();  // only after a reused connection failed: the next try connects afresh
  }
  ++generation_;
  deadline_.cancel();
  co_return verdict;
}

awaitable<std::optional<Verdict>> Session::connect(bool& reused) {
  if (connected_) {
    // Bytes waiting on an idle plaintext connection cannot answer the request not sent yet
    // (e.g. a "408" before an idle close): start over rather than take them for the response.
    // (Under TLS raw bytes may be post-handshake records, so the check is plaintext only.)
    error_code available_ec;
    // (HTTP/2 origins send frames between requests — PING, SETTINGS, GOAWAY — that the session
    // reads with the next check, so the test does not apply to them.)
    const bool stale = !tls_ && !h2_ && (socket_.available(available_ec) > 0 || available_ec);
    if (!stale) {
      reused = true;
      co_return std::nullopt;
    }
  }
  reused = false;
  closeConnection();
  // The same connect and upstream TLS as requests (SNI, verification, client certificate,
  // as Envoy checks TLS endpoints), offering h2 by ALPN for HTTP/2 checks.
  pool::ConnectTarget target;
  target.address = target_.address;
  target.unix_path = target_.unix_path;
  if (check_.alt_port) {
    target.address.port(*check_.alt_port);
  }
  if (target_.tls != nullptr) {
    target.tls = target_.tls.get();
    target.server_name = target_.tls_server_name;
    if (check_.codec_client_type == config::HealthCheck::Codec::Http2) {
      target.alpn = std::string_view("\x02h2", 3);
    }
  }
  const std::optional<pool::ConnectFailure> failure =
      co_await pool::connectTransport(socket_, tls_, target);
  if (!failure && (timed_out_ || core_.stopped)) {
    co_return ioFailure(asio::error::operation_aborted, "connect");
  }
  if (failure) {
    co_return ioFailure(failure->ec, failure->stage == pool::ConnectFailure::Stage::Tcp
                                         ? std::string_view("connect")
                                         : std::string_view("tls handshake"));
  }
  connected_ = true;
  co_return std::nullopt;
}

awaitable<std::tuple<error_code, size_t>> Session::readSome() {
  std::tuple<error_code, size_t> result;
  if (tls_) {
    result = co_await tls_->async_read_some(asio::buffer(buffer_), kUse);
  } else {
    result = co_await socket_.async_read_some(asio::buffer(buffer_), kUse);
  }
  if (timed_out_ && !std::get<0>(result)) {
    std::get<0>(result) = asio::error::operation_aborted;  // bytes that came with the deadline
  }
  co_return result;
}

awaitable<error_code> Session::writeAll(std::string_view data) {
  if (tls_) {
    auto [ec, n] = co_await asio::async_write(*tls_, asio::buffer(data), kUse);
    co_return ec;
  }
  auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(data), kUse);
  co_return ec;
}

awaitable<bool> Session::sleep(std::chrono::milliseconds wait) {
  interval_timer_.expires_after(wait);
  auto [ec] = co_await interval_timer_.async_wait(kUse);
  co_return !ec && !core_.stopped;
}

void Session::closeConnection() {
  connected_ = false;
  h2_.reset();
  if (socket_.is_open()) {
    error_code ignored;
    socket_.close(ignored);
  }
}

bool Session::mayRetry(bool reused, bool got_bytes) const {
  return reused && !got_bytes && !timed_out_ && !core_.stopped;
}

Verdict Session::ioFailure(const error_code& ec, std::string_view what) {
  closeConnection();
  if (timed_out_) {
    return {CheckResult::Timeout, "timeout after " + config::formatDuration(check_.timeout)};
  }
  std::string reason;
  if (what == "connect" && ec == asio::error::connection_refused) {
    reason = "connect refused";
  } else if (isEof(ec)) {
    reason = "connection closed";
  } else if (ec == asio::error::connection_reset) {
    reason = "connection reset";
  } else {
    reason = std::string(what) + " failed: " + ec.message();
  }
  return {CheckResult::NetworkFailure, std::move(reason)};
}

awaitable<std::optional<Verdict>> Session::httpAttempt(bool reused) {
  parser_.reset(false);
  const error_code write_ec = co_await writeAll(request_);
  if (write_ec) {
    if (mayRetry(reused, false)) {
      co_return std::nullopt;
    }
    co_return ioFailure(write_ec, "write");
  }
  bool got_bytes = false;
  bool leftover = false;
  while (true) {
    auto [ec, n] = co_await readSome();
    if (ec) {
      if (isEof(ec) && parser_.finish()) {  // close-delimited body
        closeConnection();
        break;
      }
      if (mayRetry(reused, got_bytes)) {
        co_return std::nullopt;
      }
      co_return ioFailure(ec, "read");
    }
    got_bytes = true;
    body_.clear();
    const http::http1::ParseEvents events =
        parser_.execute(std::string_view(buffer_.data(), n), body_);
    if (events.error_status != 0) {
      closeConnection();
      co_return Verdict{CheckResult::NetworkFailure,
                        std::string("invalid http response: ") + events.error_reason};
    }
    if (events.message_complete) {
      leftover = events.consumed < n;
      break;
    }
  }
  const http::ResponseHeaders& head = parser_.head();
  if (!check_.reuse_connection || !head.keep_alive || leftover) {
    closeConnection();
  }
  co_return statusVerdict(head.status);
}

Verdict Session::statusVerdict(int status) const {
  static const std::vector<config::StatusRange> kDefaultExpected = {{200, 201}};
  const auto& expected =
      check_.expected_statuses.empty() ? kDefaultExpected : check_.expected_statuses;
  if (inRanges(expected, status)) {
    return Verdict{CheckResult::Success, "http status " + std::to_string(status)};
  }
  if (inRanges(check_.retriable_statuses, status)) {
    return Verdict{CheckResult::NetworkFailure,
                   "http status " + std::to_string(status) + " (retriable)"};
  }
  return Verdict{CheckResult::Failure, "http status " + std::to_string(status)};
}

awaitable<std::optional<Verdict>> Session::http2Attempt(bool reused) {
  const std::string& host = check_.http_host.empty() ? target_.authority : check_.http_host;
  if (!reused || !h2_) {
    h2_ = std::make_unique<http::http2::ClientCodec>();
  }
  H2Probe probe;
  const int32_t id = h2_->submitRequest({{":method", "GET"},
                                         {":scheme", tls_ ? "https" : "http"},
                                         {":authority", host},
                                         {":path", check_.http_path},
                                         {"user-agent", kUserAgent}},
                                        false, &probe);
  if (id <= 0) {  // the origin sent GOAWAY while the connection was idle
    closeConnection();
    if (mayRetry(reused, false)) {
      co_return std::nullopt;
    }
    co_return Verdict{CheckResult::NetworkFailure, "http2 session refused the request"};
  }
  std::optional<Verdict> outcome;
  bool retry = false;
  while (!outcome && !retry) {
    h2_out_.clear();
    const bool alive = h2_->takeOutput(h2_out_);
    if (!h2_out_.empty()) {
      const error_code write_ec = co_await writeAll(h2_out_);
      if (write_ec) {
        retry = mayRetry(reused, probe.status != 0);
        if (!retry) {
          outcome = ioFailure(write_ec, "write");
        }
        break;
      }
    }
    if (probe.done) {
      break;
    }
    if (!alive || h2_ == nullptr) {
      retry = mayRetry(reused, false);
      if (!retry) {
        closeConnection();
        outcome = Verdict{CheckResult::NetworkFailure, "http2 connection error"};
      }
      break;
    }
    auto [ec, n] = co_await readSome();
    if (ec || h2_ == nullptr) {
      // A kept connection the origin had closed (GOAWAY, FIN) before answering: retry once.
      retry = mayRetry(reused, probe.done);
      if (!retry) {
        outcome = ioFailure(ec ? ec : error_code(asio::error::operation_aborted), "read");
      }
      break;
    }
    h2_->receive(std::string_view(buffer_.data(), n));
  }
  // The probe goes out of scope: the session must not call it again.
  if (h2_ != nullptr) {
    if (probe.closed) {
      h2_->detach(id);
    } else {
      h2_->resetStream(id, http::http2::kCancel);  // the status is all we wanted
      h2_out_.clear();
      h2_->takeOutput(h2_out_);
      if (!h2_out_.empty()) {
        const error_code ignored = co_await writeAll(h2_out_);
        (void)ignored;
      }
    }
  }
  if (retry) {
    co_return std::nullopt;
  }
  if (outcome) {
    closeConnection();
    co_return *outcome;
  }
  if (probe.status == 0) {
    closeConnection();
    co_return Verdict{CheckResult::NetworkFailure,
                      probe.protocol_error
                          ? std::string("invalid http2 response")
                          : "http2 stream reset (code " + std::to_string(probe.close_code) + ")"};
  }
  if (!check_.reuse_connection || h2_ == nullptr || !h2_->canOpenStream()) {
    closeConnection();
  }
  co_return statusVerdict(probe.status);
}

awaitable<std::optional<Verdict>> Session::tcpAttempt(bool reused) {
  const bool connect_only = check_.tcp_send.empty() && check_.tcp_receive.empty();
  if (connect_only) {
    // Success as soon as connected; the connection is closed at once (Envoy TcpHealthCheck).
    closeConnection();
    co_return Verdict{CheckResult::Success, "connected"};
  }
  matcher_.reset();
  if (!check_.tcp_send.empty()) {
    const error_code write_ec = co_await writeAll(check_.tcp_send);
    if (write_ec) {
      if (mayRetry(reused, false)) {
        co_return std::nullopt;
      }
      co_return ioFailure(write_ec, "write");
    }
  }
  bool got_bytes = false;
  while (!check_.tcp_receive.empty()) {
    auto [ec, n] = co_await readSome();
    if (ec) {
      if (mayRetry(reused, got_bytes)) {
        co_return std::nullopt;
      }
      co_return ioFailure(ec, "read");
    }
    got_bytes = true;
    if (matcher_.feed(std::string_view(buffer_.data(), n))) {
      break;
    }
  }
  if (!check_.reuse_connection) {
    closeConnection();
  }
  co_return Verdict{CheckResult::Success,
                    check_.tcp_receive.empty() ? "sent" : "received expected payload"};
}

void Core::onResult(const Session& session, bool passed, bool session_changed,
                    const std::string& reason) {
  const size_t host = session.hostIndex();
  if (!session_changed) {
    if (passed && host_healthy[host] && on_pass) {
      on_pass(host);
    }
    return;
  }
  bool healthy = true;
  for (size_t c = 0; c < checks.size(); ++c) {
    healthy = healthy && sessions[host * checks.size() + c]->healthy();
  }
  if (healthy == host_healthy[host]) {
    return;
  }
  host_healthy[host] = healthy;
  if (targets[host].health) {
    targets[host].health->active_healthy.store(healthy, std::memory_order_relaxed);
  }
  if (cluster) {
    cluster->bump();
  }
  if (on_change) {
    on_change(host, healthy, reason);
  }
  if (healthy && passed && on_pass && !stopped) {
    on_pass(host);
  }
}

bool Core::trafficSeen() {
  if (traffic_seen || !cluster) {
    return traffic_seen;
  }
  constexpr auto kRelaxed = std::memory_order_relaxed;
  for (const HostHealthSharedPtr& h : cluster->hosts) {
    if (h && (h->carried_traffic.load(kRelaxed) || h->active_requests.load(kRelaxed) != 0)) {
      traffic_seen = true;
      break;
    }
  }
  return traffic_seen;
}

}  // namespace

struct ActiveHealthChecker::Impl {
  std::shared_ptr<Core> core;
};

ActiveHealthChecker::ActiveHealthChecker(boost::asio::io_context& io,
                                         std::vector<config::HealthCheck> checks,
                                         std::vector<CheckTarget> targets,
                                         std::shared_ptr<ClusterHealth> cluster, OnChange on_change,
                                         uint64_t seed)
    : impl_(std::make_unique<Impl>()) {
  impl_->core = std::make_shared<Core>(io, std::move(checks), std::move(targets),
                                       std::move(cluster), std::move(on_change), seed);
  Core& core = *impl_->core;
  core.sessions.reserve(core.targets.size() * core.checks.size());
  for (size_t host = 0; host < core.targets.size(); ++host) {
    for (size_t check = 0; check < core.checks.size(); ++check) {
      core.sessions.push_back(std::make_unique<Session>(core, check, host));
    }
  }
}

ActiveHealthChecker::~ActiveHealthChecker() { stop(); }

void ActiveHealthChecker::setOnPass(std::function<void(size_t host_index)> on_pass) {
  impl_->core->on_pass = std::move(on_pass);
}

void ActiveHealthChecker::start() {
  Core& core = *impl_->core;
  if (core.started || core.stopped) {
    return;
  }
  core.started = true;
  if (core.checks.empty()) {
    return;
  }
  for (const CheckTarget& target : core.targets) {
    if (target.health) {
      target.health->active_healthy.store(false, std::memory_order_relaxed);
    }
  }
  if (core.cluster) {
    core.cluster->bump();
  }
  for (const auto& session : core.sessions) {
    asio::co_spawn(core.io, session->run(impl_->core), [](std::exception_ptr e) {
      if (!e) {
        return;
      }
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        VALLUM_LOG_ERROR("health check stopped: {}", x.what());
      } catch (...) {
        VALLUM_LOG_ERROR("health check stopped: unknown exception");
      }
    });
  }
}

void ActiveHealthChecker::stop() {
  if (!impl_ || !impl_->core) {
    return;
  }
  Core& core = *impl_->core;
  if (core.stopped) {
    return;
  }
  core.stopped = true;
  for (const auto& session : core.sessions) {
    session->cancel();
  }
}

}  // namespace vallum::upstream::health
