#include "proxy/forward.h"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/strings.h"
#include "proxy/active_stream.h"
#include "proxy/forward_h2_exchange.h"
#include "upstream/lb/hash.h"
#include "upstream/outlier/outlier_detector.h"

namespace vallum::proxy {

namespace {

namespace asio = boost::asio;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

/// Envoy's local-reply details for failures before the response head (router, reset reason).
constexpr std::string_view kResetBeforeHeaders =
    "upstream connect error or disconnect/reset before headers. reset reason: ";

uint64_t rotl1(uint64_t h) { return (h << 1) | (h >> 63); }

/// The value of cookie `name` in the request's Cookie fields (RFC 6265 §4.2.1).
std::optional<std::string_view> cookieValue(const http::HeaderMap& headers, std::string_view name) {
  for (size_t i = 0; i < headers.fieldCount(); ++i) {
    if (!headers.live(i) || !strings::iequals(headers.name(i), "cookie")) {
      continue;
    }
    std::string_view rest = headers.value(i);
    while (!rest.empty()) {
      size_t semi = rest.find(';');
      std::string_view pair = strings::trimOws(rest.substr(0, semi));
      size_t eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
        return pair.substr(eq + 1);
      }
      if (semi == std::string_view::npos) {
        break;
      }
      rest.remove_prefix(semi + 1);
    }
  }
  return std::nullopt;
}

/// The first value of query parameter `name` (no percent-decoding: the hash only needs to be
/// stable for equal requests).
std::optional<std::string_view> queryValue(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) {
      break;
    }
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

}  // namespace

Forwarder::Forwarder(ActiveStream& stream, asio::io_context& io)
    : stream_(stream), io_(io), pump_signal_(io, SteadyTime::max()) {}

Forwarder::~Forwarder() = default;

size_t Forwarder::release(size_t keep) {
  if (host_ != nullptr) {
    host_->active_requests.fetch_sub(1, std::memory_order_relaxed);
    host_ = nullptr;
  }
  endpoint_ = nullptr;
  pool_ = nullptr;
  upstream_ = nullptr;
  outcome_known_ = false;
  upstream_start_ = {};
  pump_bytes_in_ = 0;
  size_t freed = 0;
  if (details_.capacity() > keep) {
    freed += details_.capacity();
    std::string().swap(details_);
  }
  if (keep == 0 || pieces_.capacity() > 256) {
    pieces_.clear();
  }
  return freed;
}

std::optional<uint64_t> Forwarder::requestHash() const {
  const StreamContext& ctx = stream_.ctx();
  const std::string_view client_ip = stream_.clientIp();
  const std::vector<config::HashPolicy>& policies = ctx.route->config->hash_policy;
  if (policies.empty()) {
    return upstream::lb::xxHash64(client_ip);
  }
  const http::HeaderMap& headers = ctx.request->headers;
  std::optional<uint64_t> hash;
  for (const config::HashPolicy& policy : policies) {
    std::optional<uint64_t> h;
    switch (policy.kind) {
      case config::HashPolicy::Kind::Header: {
        std::vector<std::string_view> values;
        for (size_t i = 0; i < headers.fieldCount(); ++i) {
          if (headers.live(i) && strings::iequals(headers.name(i), policy.name)) {
            values.push_back(headers.value(i));
          }
        }
        std::sort(values.begin(), values.end());
        for (std::string_view v : values) {
          h = h ? upstream::lb::xxHash64(v, *h) : upstream::lb::xxHash64(v);
        }
        break;
      }
      case config::HashPolicy::Kind::Cookie:
        if (auto value = cookieValue(headers, policy.name)) {
          h = upstream::lb::xxHash64(*value);
        }
        break;
      case config::HashPolicy::Kind::QueryParameter:
        if (ctx.target.has_query) {
          if (auto value = queryValue(ctx.target.query, policy.name)) {
            h = upstream::lb::xxHash64(*value);
          }
        }
        break;
      case config::HashPolicy::Kind::SourceIp:
        h = upstream::lb::xxHash64(client_ip);
        break;
    }
    if (h) {
      hash = hash ? (rotl1(*hash) ^ *h) : *h;
      if (policy.terminal) {
        break;
      }
    }
  }
  return hash;
}

bool Forwarder::prepare() {
  outcome_known_ = false;
  switched_codec_ = false;
  upstream_start_ = {};
  pump_bytes_in_ = 0;
  StreamContext& ctx = stream_.ctx();
  const RouteRuntime& route = *ctx.route;
  if (route.cluster.endpoints.empty()) {
    stream_.setReply(503, "no healthy upstream", false);
    return false;
  }
  std::optional<uint64_t> hash;
  if (route.cluster.policy == upstream::lb::Policy::RingHash ||
      route.cluster.policy == upstream::lb::Policy::Maglev) {
    hash = requestHash();
  }
  WorkerSnapshot& ws = stream_.workerSnapshot();
  const std::optional<uint32_t> picked = stream_.worker().pickEndpoint(ws, ctx.route_index, hash);
  if (!picked) {
    stream_.setReply(503, "no healthy upstream", false);
    return false;
  }
  const uint32_t index = *picked;
  endpoint_ = &route.cluster.endpoints[index];
  pool_ = ws.pools[ctx.route_index][index];
  host_ = route.cluster.health->hosts[index].get();
  host_->active_requests.fetch_add(1, std::memory_order_relaxed);
  host_->noteTraffic();
  if (!endpoint_->resolved) {
    resetBeforeHeadersDetails() += "connection failure, transport failure reason: cannot resolve ";
    details_ += endpoint_->authority;
    stream_.setReply(503, details_, false);
    return false;
  }
  http::OutgoingRequest& request = ctx.upstream;
  if (route.host_rewrite == RouteRuntime::HostRewrite::Endpoint) {
    // Pomerium: the `to` URL's host[:port]; a unix:// endpoint has none: the request's own.
    request.authority = endpoint_->authority.empty() ? ctx.authority
                                                     : std::string_view(endpoint_->authority);
  }
  request.scheme = endpoint_->tls ? "https" : "http";
  if (stream_.requestComplete()) {
    stream_.startRouteTimer();
  }
  return true;
}

bool Forwarder::http2Endpoint() const {
  if (!stream_.ctx().upgrade.empty() || stream_.ctx().route->upstream_http1_only) {
    return false;
  }
  return endpoint_->http2 ||
         (endpoint_->alpn_h2 && pool_->alpn() == upstream::pool::EndpointPool::Alpn::Http2);
}

void Forwarder::interrupt() {
  boost::system::error_code ignored;
  if (upstream_ != nullptr) {
    upstream_->socket.cancel(ignored);
  }
  if (h2_active_) {
    h2_->wake();
    h2_->body_signal.cancel();
    if (h2_connecting_ != nullptr) {
      h2_connecting_->socket().cancel(ignored);
    }
  }
  pump_signal_.cancel();
}

void Forwarder::setConnectFailureReply(bool tls, boost::system::error_code ec) {
  host_->connect_failures.fetch_add(1, std::memory_order_relaxed);
  setOutcome(upstream::RequestOutcome::LocalConnectFailure);
  const Expiry expired = stream_.expired();
  if (expired == Expiry::Connect) {
    resetBeforeHeadersDetails() += "connection timeout";
    stream_.setReply(503, details_, false);
  } else if (expired != Expiry::None) {
    stream_.setTimeoutReply();
  } else {
    resetBeforeHeadersDetails() += "connection failure, transport failure reason: ";
    details_ += tls ? "TLS error: " : "";
    details_ += ec.message();
    stream_.setReply(503, details_, false);
  }
}

void Forwarder::startResponse(const http::ResponseHeaders& head, bool end_stream) {
  setOutcome(head.status < 500 ? upstream::RequestOutcome::Success
             : (head.status >= 502 && head.status <= 504)
                 ? upstream::RequestOutcome::UpstreamGateway
                 : upstream::RequestOutcome::Upstream5xx);
  stream_.startResponse(head, end_stream);
}

bool Forwarder::requestSettled(const PumpState& pump) const {
  return stream_.requestComplete() && (!pump.running || pump.complete);
}

std::optional<Step> Forwarder::interruption(const PumpState& pump) {
  if (stream_.clientGone()) {
    return Step::Abort;  // not the upstream's fault: no outcome for outlier detection
  }
  const Expiry expired = stream_.expired();
  if (expired != Expiry::None) {
    if (!stream_.facts().response_started && expired == Expiry::Route) {
      setOutcome(upstream::RequestOutcome::LocalTimeout);
    }
    if (stream_.facts().response_started) {
      return Step::Abort;
    }
    stream_.setTimeoutReply();
    return Step::Reply;
  }
  if (pump.done && (pump.downstream_failed || pump.bad_request_status != 0)) {
    // The client's request body broke off or was malformed mid-stream.
    if (pump.bad_request_status != 0 && !stream_.facts().response_started) {
      stream_.setReply(pump.bad_request_status, "malformed request body", true);
      return Step::Reply;
    }
    return Step::Abort;
  }
  return std::nullopt;
}

void Forwarder::recordOutcome() {
  // Passive health (Envoy outlier detection): counted here without locks; a consecutive
  // threshold is decided on the control thread.
  const RouteRuntime* route = stream_.ctx().route;
  if (route == nullptr || route->outlier == nullptr || host_ == nullptr || !outcome_known_) {
    return;
  }
  if (upstream::outlier::recordOutcome(*host_, outcome_, *route->outlier)) {
    const uint32_t index = uint32_t(endpoint_ - route->cluster.endpoints.data());
    stream_.worker().reportOutlierThreshold(route->id, index);
  }
}

asio::awaitable<void> Forwarder::stopPump(PumpState& pump) {
  if (!pump.running || pump.done) {
    co_return;
  }
  // Interrupt its pending read from the client or write to the upstream, then wait for it.
  stream_.wake();
  if (upstream_ != nullptr) {
    boost::system::error_code ignored;
    upstream_->socket.cancel(ignored);
  }
  if (h2_active_) {
    h2_->body_signal.cancel();
  }
  stream_.interruptBodyRead();
  while (!pump.done) {
    pump_signal_.expires_at(SteadyTime::max());
    auto [ec] = co_await pump_signal_.async_wait(kUse);
    (void)ec;
  }
}

bool Forwarder::continueWanted() const {
  return stream_.request().expect_continue && !stream_.requestComplete() && !switched_codec_;
}

asio::awaitable<bool> Forwarder::answerContinue() {
  stream_.sendContinue();
  auto [ec, n] = co_await stream_.flush(kUse);
  co_return !ec;
}

asio::awaitable<bool> Forwarder::awaitBody(PumpState& state) {
  while (stream_.bodyQueued().empty() && !stream_.requestComplete()) {
    const bool more = co_await stream_.waitBody();
    if (!more) {
      state.bad_request_status = stream_.bodyFailureStatus();
      state.downstream_failed = state.bad_request_status == 0;
      co_return false;
    }
  }
  co_return true;
}

bool Forwarder::settlePump(PumpState& state) {
  if (stream_.requestComplete() && state.bad_request_status == 0 && !state.upstream_failed &&
      !state.downstream_failed) {
    state.complete = true;
    stream_.startRouteTimer();
  }
  state.done = true;
  return state.downstream_failed || state.bad_request_status != 0;
}

std::string& Forwarder::resetBeforeHeadersDetails() {
  details_.assign(kResetBeforeHeaders);
  return details_;
}

}  // namespace vallum::proxy
