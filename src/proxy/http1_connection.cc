#include "proxy/http1_connection.h"

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "common/buffer.h"
#include "common/logging.h"
#include "common/random.h"
#include "common/strings.h"
#include "http/http1_parser.h"
#include "http/path.h"
#include "http/status.h"
#include "network/listener.h"
#include "proxy/local_reply.h"
#include "proxy/worker.h"

namespace vallum::proxy {

namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::awaitable;
using asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using network::kNoDeadline;
using network::SteadyTime;
using upstream::pool::UpstreamConnection;
using upstream::pool::UpstreamConnectionPtr;

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

/// Downstream read buffer. Header bytes are copied into the HeaderMap as they are parsed, so
/// this bounds only how much is read per syscall, not the header size.
constexpr size_t kDownstreamBufferSize = 32 * 1024;
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
/// Pomerium's fixed upstream connect timeout (spec §2.6).
constexpr auto kConnectTimeout = std::chrono::seconds(10);
/// Envoy's default stream idle timeout (HCM stream_idle_timeout, 5 min; Pomerium keeps it).
constexpr auto kStreamIdleTimeout = std::chrono::minutes(5);
/// How long a closing connection keeps reading (and discarding) so that the client receives
/// our last response instead of a reset (Envoy's delayed_close_timeout is 1 s).
constexpr auto kLingerTimeout = std::chrono::seconds(1);
/// Above this size TLS writes are not coalesced into one buffer.
constexpr size_t kCoalesceLimit = 64 * 1024;

constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

constexpr std::string_view kResetBeforeHeaders =
    "upstream connect error or disconnect/reset before headers. reset reason: ";

/// Which timer ended a stream (dataplane-semantics §4.1).
enum class Expiry : uint8_t {
  None,
  Phase,       ///< handshake, keep-alive idle, or linger
  Request,     ///< timeout_read: the whole request must arrive within it
  Connect,     ///< upstream connect timeout → 503
  Route,       ///< route timeout → 504
  StreamIdle,  ///< no activity either way for kStreamIdleTimeout
  MaxStream,   ///< timeout_write (max stream duration)
};

/// How the response body is framed towards the client.
enum class OutFraming : uint8_t { None, Length, Chunked, Close };

bool isHop(http::HeaderId id) {
  switch (id) {
    case http::HeaderId::Connection:
    case http::HeaderId::KeepAlive:
    case http::HeaderId::ProxyConnection:
    case http::HeaderId::TransferEncoding:
    case http::HeaderId::ContentLength:
    case http::HeaderId::Upgrade:
    case http::HeaderId::Te:
    case http::HeaderId::Trailer:
      return true;
    default:
      return false;
  }
}

/// Field names listed in Connection (RFC 9110 §7.6.1) other than the connection options
/// close/keep-alive/upgrade; such fields are hop-by-hop and are not forwarded.
void collectConnectionNominated(const http::HeaderMap& headers,
                                std::vector<std::string_view>& out) {
  out.clear();
  for (size_t i = 0; i < headers.fieldCount(); ++i) {
    if (!headers.live(i) || headers.id(i) != http::HeaderId::Connection) {
      continue;
    }
    strings::forEachListElement(headers.value(i), [&](std::string_view token) {
      if (!strings::iequals(token, "close") && !strings::iequals(token, "keep-alive") &&
          !strings::iequals(token, "upgrade")) {
        out.push_back(token);
      }
      return true;
    });
  }
}

bool isNominated(std::string_view name, const std::vector<std::string_view>& nominated) {
  for (std::string_view n : nominated) {
    if (strings::iequals(n, name)) {
      return true;
    }
  }
  return false;
}

/// A view of a buffer vector that asio can copy for free: write operations keep a copy of
/// their buffer sequence, and copying a std::vector allocated on every write.
struct BufferSpan {
  const asio::const_buffer* first;
  const asio::const_buffer* last;
  explicit BufferSpan(const std::vector<asio::const_buffer>& v)
      : first(v.data()), last(v.data() + v.size()) {}
  const asio::const_buffer* begin() const { return first; }
  const asio::const_buffer* end() const { return last; }
};

size_t totalSize(const std::vector<std::string_view>& pieces) {
  size_t n = 0;
  for (std::string_view p : pieces) {
    n += p.size();
  }
  return n;
}

template <class Stream>
struct StreamTraits;

template <>
struct StreamTraits<tcp::socket> {
  static constexpr bool kTls = false;
  static tcp::socket& socket(tcp::socket& s) { return s; }
};

template <>
struct StreamTraits<ssl::stream<tcp::socket>> {
  static constexpr bool kTls = true;
  static tcp::socket& socket(ssl::stream<tcp::socket>& s) { return s.next_layer(); }
};

/// State of one request/response exchange.
struct Exchange {
  WorkerSnapshotSharedPtr snapshot;
  SteadyTime start{};
  std::chrono::system_clock::time_point wall_start{};
  std::string_view authority;  ///< Host (or absolute-form authority) as received
  const RouteRuntime* route = nullptr;
  uint32_t route_index = 0;
  int status = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  std::string_view upstream_address;
  bool head_request = false;
  bool response_started = false;  ///< a response head was written downstream
  bool keep_alive = true;         ///< the downstream connection may serve another request
};

/// The request-body pump's outcome (it runs beside the response reader).
struct PumpState {
  bool running = false;
  bool done = false;
  bool complete = false;         ///< the whole body was read and forwarded
  int bad_request_status = 0;    ///< invalid chunk framing etc.
  bool downstream_failed = false;
  bool upstream_failed = false;
};

template <class Stream>
class Http1Connection final : public network::TrackedConnection {
  using Traits = StreamTraits<Stream>;

 public:
  Http1Connection(Worker& worker, Stream stream, tcp::endpoint peer)
      : worker_(worker),
        stream_(std::move(stream)),
        peer_(peer),
        peer_ip_(network::clientAddressString(peer.address())),
        in_(kDownstreamBufferSize),
        pump_signal_(worker.io(), SteadyTime::max()) {}

  awaitable<void> run();

  // network::TrackedConnection
  void onDeadline() override;
  void onDrain() override;

 private:
  tcp::socket& socket() { return Traits::socket(stream_); }

  // Deadlines: each phase stores its own, the registry sees the earliest.
  void updateDeadline();
  void clearRequestDeadlines();
  void setPhaseDeadline(SteadyTime t) {
    phase_deadline_ = t;
    updateDeadline();
  }
  void touchActivity() {
    activity_deadline_ = SteadyClock::now() + kStreamIdleTimeout;
    updateDeadline();
  }
  void cancelIo();

  /// What one attempt on an upstream connection came to.
  struct UpstreamOutcome {
    enum class Kind : uint8_t { Done, Retry } kind = Kind::Done;
    bool keep_alive = false;         ///< the downstream connection may serve another request
    bool upstream_reusable = false;  ///< the upstream connection may go back to the pool
  };

  awaitable<bool> serveOne();
  awaitable<bool> handleRequest(Exchange& ex);
  awaitable<bool> forward(Exchange& ex, std::string_view path, const http::RequestTarget& target);
  awaitable<UpstreamOutcome> exchangeWith(Exchange& ex, UpstreamConnection& conn, bool may_retry,
                                          PumpState& pump);
  awaitable<bool> localReply(Exchange& ex, int status, std::string_view details,
                             bool force_close = false, std::string_view location = {},
                             std::string_view allow = {});
  awaitable<bool> simpleReply(Exchange& ex, int status, std::string_view content_type,
                              std::string_view body);
  awaitable<void> pumpRequestBody(UpstreamConnection* upstream, PumpState* state);
  awaitable<void> stopPump(UpstreamConnection& upstream, PumpState& pump);
  awaitable<boost::system::error_code> writeDownstream(
      const std::vector<asio::const_buffer>& buffers);
  awaitable<void> lingerClose();
  void finishExchange(Exchange& ex);
  void startRouteTimer();
  bool requestSettled(const PumpState& pump) const;

  void buildUpstreamHead(const Exchange& ex, const upstream::Endpoint& endpoint,
                         std::string_view path, const http::RequestTarget& target);
  OutFraming buildResponseHead(Exchange& ex, http::ResponseHead& head);
  void appendBody(std::vector<asio::const_buffer>& out, const std::vector<std::string_view>& pieces,
                  bool chunked, std::string& chunk_line, bool last);
  int timeoutStatus() const;

  Worker& worker_;
  Stream stream_;
  tcp::endpoint peer_;
  std::string peer_ip_;
  Buffer in_;
  http::RequestParser parser_;
  std::vector<std::string_view> request_pieces_;
  std::vector<std::string_view> response_pieces_;
  std::vector<asio::const_buffer> upstream_buffers_;
  std::vector<asio::const_buffer> downstream_buffers_;
  std::vector<asio::const_buffer> pump_buffers_;
  std::vector<std::string_view> nominated_;
  std::string out_;              ///< response heads and local replies
  std::string coalesced_;        ///< TLS write coalescing
  std::string upstream_head_;
  std::string request_chunk_line_;
  std::string response_chunk_line_;
  std::string path_scratch_;
  std::string rewritten_path_;
  std::string host_lower_;
  std::string request_id_;
  std::string log_path_;
  std::string location_;
  std::string details_;
  config::Duration route_timeout_{};
  uint64_t pump_bytes_in_ = 0;
  asio::steady_timer pump_signal_;
  UpstreamConnection* upstream_ = nullptr;  ///< the exchange's upstream, for cancellation

  SteadyTime phase_deadline_ = kNoDeadline;
  SteadyTime request_deadline_ = kNoDeadline;
  SteadyTime connect_deadline_ = kNoDeadline;
  SteadyTime route_deadline_ = kNoDeadline;
  SteadyTime activity_deadline_ = kNoDeadline;
  SteadyTime max_stream_deadline_ = kNoDeadline;
  Expiry expired_ = Expiry::None;
  bool idle_ = false;      ///< waiting for the first byte of the next request
  bool draining_ = false;
  bool request_complete_ = false;  ///< the whole request has been received
};

template <class Stream>
void Http1Connection<Stream>::updateDeadline() {
  SteadyTime t = phase_deadline_;
  t = std::min(t, request_deadline_);
  t = std::min(t, connect_deadline_);
  t = std::min(t, route_deadline_);
  t = std::min(t, activity_deadline_);
  t = std::min(t, max_stream_deadline_);
  setDeadline(t);
}

template <class Stream>
void Http1Connection<Stream>::clearRequestDeadlines() {
  request_deadline_ = connect_deadline_ = route_deadline_ = kNoDeadline;
  activity_deadline_ = max_stream_deadline_ = kNoDeadline;
  updateDeadline();
}

template <class Stream>
void Http1Connection<Stream>::cancelIo() {
  boost::system::error_code ignored;
  socket().cancel(ignored);
  if (upstream_ != nullptr) {
    upstream_->socket.cancel(ignored);
  }
}

template <class Stream>
void Http1Connection<Stream>::onDeadline() {
  const SteadyTime now = SteadyClock::now();
  if (connect_deadline_ <= now) {
    expired_ = Expiry::Connect;
  } else if (route_deadline_ <= now) {
    expired_ = Expiry::Route;
  } else if (request_deadline_ <= now) {
    expired_ = Expiry::Request;
  } else if (max_stream_deadline_ <= now) {
    expired_ = Expiry::MaxStream;
  } else if (activity_deadline_ <= now) {
    expired_ = Expiry::StreamIdle;
  } else if (phase_deadline_ <= now) {
    expired_ = Expiry::Phase;
  } else {
    updateDeadline();  // a deadline moved later since the scan: re-arm
    return;
  }
  cancelIo();
}

template <class Stream>
void Http1Connection<Stream>::onDrain() {
  draining_ = true;
  if (idle_) {
    boost::system::error_code ignored;
    socket().cancel(ignored);
  }
}

template <class Stream>
int Http1Connection<Stream>::timeoutStatus() const {
  switch (expired_) {
    case Expiry::Route:
      return 504;
    case Expiry::Connect:
      return 503;
    default:
      // Vallum's rule (dataplane-semantics §4.1): 504 if the whole request had been received,
      // otherwise 408.
      return request_complete_ ? 504 : 408;
  }
}

template <class Stream>
awaitable<boost::system::error_code> Http1Connection<Stream>::writeDownstream(
    const std::vector<asio::const_buffer>& buffers) {
  if constexpr (Traits::kTls) {
    // One SSL_write per buffer would cost one TLS record and one syscall each: coalesce.
    size_t total = asio::buffer_size(buffers);
    if (buffers.size() > 1 && total <= kCoalesceLimit) {
      coalesced_.clear();
      for (const auto& b : buffers) {
        coalesced_.append(static_cast<const char*>(b.data()), b.size());
      }
      auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(coalesced_), kUse);
      co_return ec;
    }
  }
  auto [ec, n] = co_await asio::async_write(stream_, BufferSpan(buffers), kUse);
  co_return ec;
}

template <class Stream>
awaitable<void> Http1Connection<Stream>::run() {
  network::ConnectionRegistry::Registration registration(worker_.registry(), *this);
  try {
    if constexpr (Traits::kTls) {
      setPhaseDeadline(SteadyClock::now() + kHandshakeTimeout);
      auto [ec] = co_await stream_.async_handshake(ssl::stream_base::server, kUse);
      if (ec) {
        VALLUM_LOG_DEBUG("TLS handshake with {} failed: {}", peer_ip_, ec.message());
        co_return;
      }
    }
    bool keep = true;
    while (keep) {
      keep = co_await serveOne();
    }
  } catch (const std::exception& e) {
    // Last-resort catch (STYLE.md §5): this connection only.
    VALLUM_LOG_ERROR("connection from {} failed: {}", peer_ip_, e.what());
  }
  boost::system::error_code ignored;
  socket().close(ignored);
}

template <class Stream>
awaitable<void> Http1Connection<Stream>::lingerClose() {
  // Half-close, then read and discard what the client still sends for a moment, so that the
  // response we just wrote is not destroyed by a TCP reset (RFC 9112 §9.6).
  expired_ = Expiry::None;
  clearRequestDeadlines();
  setPhaseDeadline(SteadyClock::now() + kLingerTimeout);
  if constexpr (Traits::kTls) {
    // close_notify, then wait (bounded by the linger deadline) for the peer to close.
    auto [sec] = co_await stream_.async_shutdown(kUse);
    (void)sec;
    co_return;
  }
  boost::system::error_code ec;
  socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) {
    co_return;
  }
  char sink[4096];
  size_t discarded = 0;
  while (discarded < 256 * 1024) {
    auto [rec, n] = co_await socket().async_read_some(asio::buffer(sink), kUse);
    if (rec) {
      break;
    }
    discarded += n;
  }
}

template <class Stream>
awaitable<bool> Http1Connection<Stream>::serveOne() {
  parser_.reset();
  request_pieces_.clear();
  request_complete_ = false;
  expired_ = Expiry::None;
  const config::Options& options = worker_.current()->snapshot->options;

  if (in_.empty()) {
    if (draining_) {
      co_return false;
    }
    idle_ = true;
    setPhaseDeadline(options.timeout_idle.count() > 0 ? SteadyClock::now() + options.timeout_idle
                                                      : kNoDeadline);
    auto [ec, n] =
        co_await stream_.async_read_some(asio::buffer(in_.writePointer(), in_.writable()), kUse);
    idle_ = false;
    if (ec || n == 0) {
      co_return false;  // client closed, idle timeout or drain: close quietly
    }
    in_.commit(n);
  }

  Exchange ex;
  ex.start = SteadyClock::now();
  ex.wall_start = std::chrono::system_clock::now();
  ex.snapshot = worker_.current();
  phase_deadline_ = kNoDeadline;
  request_deadline_ =
      options.timeout_read.count() > 0 ? ex.start + options.timeout_read : kNoDeadline;
  max_stream_deadline_ =
      options.timeout_write.count() > 0 ? ex.start + options.timeout_write : kNoDeadline;
  updateDeadline();

  for (;;) {
    http::ParseEvents ev = parser_.execute(in_.readable(), request_pieces_);
    if (ev.error_status != 0) {
      in_.clear();
      co_return co_await localReply(ex, ev.error_status, ev.error_reason, /*force_close=*/true);
    }
    in_.consume(ev.consumed);
    if (parser_.headersComplete()) {
      break;
    }
    auto [ec, n] =
        co_await stream_.async_read_some(asio::buffer(in_.writePointer(), in_.writable()), kUse);
    if (ec || n == 0) {
      if (expired_ != Expiry::None) {
        co_return co_await localReply(ex, 408, "request timeout", /*force_close=*/true);
      }
      co_return false;  // closed mid-head: nothing to answer
    }
    in_.commit(n);
  }
  request_complete_ = parser_.messageComplete();
  ex.bytes_in = totalSize(request_pieces_);
  co_return co_await handleRequest(ex);
}

template <class Stream>
awaitable<bool> Http1Connection<Stream>::handleRequest(Exchange& ex) {
  http::RequestHead& head = parser_.head();
  const Snapshot& snap = *ex.snapshot->snapshot;
  request_id_.clear();
  appendRequestId(request_id_, worker_.random());
  ex.head_request = head.method == "HEAD";
  ex.keep_alive = head.keep_alive;

  if (head.method == "CONNECT") {
    // No tcp+https routes yet: a CONNECT never matches a route.
    co_return co_await localReply(ex, 404, "route not found", /*force_close=*/true);
  }

  // Target and authority (RFC 9112 §3.2): an absolute-form target's authority wins over Host.
  http::RequestTarget target;
  if (!http::parseRequestTarget(head.target, target)) {
    co_return co_await localReply(ex, 400, "invalid request-target");
  }
  size_t host_fields = head.headers.count(http::HeaderId::Host);
  if (host_fields > 1) {
    co_return co_await localReply(ex, 400, "multiple Host header fields", true);
  }
  if (target.absolute_form) {
    ex.authority = target.authority;
  } else if (host_fields == 1) {
    ex.authority = *head.headers.get(http::HeaderId::Host);
  } else {
    co_return co_await localReply(ex, 400, "missing Host header", true);
  }
  http::Authority authority;
  if (!http::parseAuthority(ex.authority, authority)) {
    co_return co_await localReply(ex, 400, "invalid Host header", true);
  }
  std::string_view host = authority.host;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(1, host.size() - 2);
  }
  host_lower_.assign(host);
  strings::lowerAsciiInPlace(host_lower_);
  const uint16_t port = authority.port.value_or(Traits::kTls ? 443 : 80);

  // Header names with underscores (Pomerium's headers_with_underscores_action).
  if (snap.options.headers_with_underscores_action != config::UnderscoresAction::Allow) {
    for (size_t i = 0; i < head.headers.fieldCount(); ++i) {
      if (head.headers.name(i).find('_') == std::string_view::npos) {
        continue;
      }
      if (snap.options.headers_with_underscores_action ==
          config::UnderscoresAction::RejectRequest) {
        co_return co_await localReply(ex, 400, "header name contains an underscore");
      }
      head.headers.remove(i);
    }
  }

  // Path normalization before matching and forwarding (dataplane-semantics §7.4).
  std::string_view path;
  switch (http::normalizePath(target.path, snap.path_options, path_scratch_, path)) {
    case http::PathResult::Ok:
      break;
    case http::PathResult::Invalid:
      co_return co_await localReply(ex, 400, "invalid path");
    case http::PathResult::RejectEscapedSlash:
      co_return co_await localReply(ex, 400, "escaped slash in path");
    case http::PathResult::RedirectUnescaped:
      location_.assign(path);
      if (target.has_query) {
        location_ += '?';
        location_ += target.query;
      }
      co_return co_await localReply(ex, 307, "path redirected", false, location_);
  }

  // Internal endpoints answer on every host ahead of user routes (spec §3.2).
  if (path == "/ping" || path == "/healthz") {
    if (head.method != "GET" && !ex.head_request) {
      co_return co_await localReply(ex, 405, "method not allowed", false, {}, "GET, HEAD");
    }
    co_return co_await simpleReply(ex, 200, "text/plain; charset=utf-8", "OK\n");
  }
  if (path == "/.pomerium" || path.starts_with("/.pomerium/") || path == "/.well-known/pomerium" ||
      path.starts_with("/.well-known/pomerium/")) {
    co_return co_await localReply(ex, 404, "not found");
  }

  uint32_t index = snap.table.match(host_lower_, port, path);
  if (index == router::RouteTable::kNoRoute) {
    co_return co_await localReply(ex, 404, "route not found");
  }
  ex.route_index = index;
  ex.route = &snap.routes[index];

  // Authorization. Until sign-in exists, only public routes pass; a route without a policy
  // denies everyone (spec §7: an empty allow rule is a 403, never a forward).
  if (!ex.route->is_public) {
    co_return co_await localReply(ex, 403, "access denied: this route has no policy that allows the request");
  }
  co_return co_await forward(ex, path, target);
}

template <class Stream>
void Http1Connection<Stream>::buildUpstreamHead(const Exchange& ex,
                                                const upstream::Endpoint& endpoint,
                                                std::string_view path,
                                                const http::RequestTarget& target) {
  const http::RequestHead& head = parser_.head();
  const RouteRuntime& route = *ex.route;
  const config::Options& options = ex.snapshot->snapshot->options;
  std::string& out = upstream_head_;
  out.clear();
  out += head.method;
  out += ' ';
  // The first `to` URL's path replaces the matched part of the path (spec §2.2).
  if (!route.to_path.empty()) {
    out += route.to_path;
    if (route.match_kind == RouteRuntime::MatchKind::Prefix) {
      out += path.substr(route.match_prefix.size());
    }
  } else {
    out += path;
  }
  if (target.has_query) {
    out += '?';
    out += target.query;
  }
  out += " HTTP/1.1\r\nHost: ";
  out += endpoint.authority;
  out += kCrlf;

  collectConnectionNominated(head.headers, nominated_);
  std::string_view xff_existing;
  bool xff_multi = false;
  for (size_t i = 0; i < head.headers.fieldCount(); ++i) {
    if (!head.headers.live(i)) {
      continue;
    }
    http::HeaderId id = head.headers.id(i);
    switch (id) {
      case http::HeaderId::Host:
      case http::HeaderId::Connection:
      case http::HeaderId::KeepAlive:
      case http::HeaderId::ProxyConnection:
      case http::HeaderId::Upgrade:
      case http::HeaderId::TransferEncoding:
      case http::HeaderId::ContentLength:
      case http::HeaderId::Trailer:
      case http::HeaderId::Expect:           // answered by the proxy
      case http::HeaderId::XForwardedProto:  // overwritten below
      case http::HeaderId::XRequestId:       // replaced below
        continue;
      case http::HeaderId::Te:
        if (!strings::iequals(head.headers.value(i), "trailers")) {
          continue;
        }
        break;
      case http::HeaderId::XForwardedFor:
        if (!options.skip_xff_append) {
          // Appended below as one field: previous hops, then the client.
          if (xff_existing.empty()) {
            xff_existing = head.headers.value(i);
          } else {
            xff_multi = true;
          }
          continue;
        }
        break;
      case http::HeaderId::XForwardedHost:
        continue;  // appended below with the original host
      default:
        if (!nominated_.empty() && isNominated(head.headers.name(i), nominated_)) {
          continue;
        }
        break;
    }
    out += head.headers.name(i);
    out += ": ";
    out += head.headers.value(i);
    out += kCrlf;
  }
  // X-Forwarded-For: the client address appended (Envoy use_remote_address, spec §3.4).
  if (!options.skip_xff_append) {
    out += "X-Forwarded-For: ";
    if (xff_multi) {
      for (size_t i = 0; i < head.headers.fieldCount(); ++i) {
        if (head.headers.live(i) && head.headers.id(i) == http::HeaderId::XForwardedFor) {
          out += head.headers.value(i);
          out += ", ";
        }
      }
    } else if (!xff_existing.empty()) {
      out += xff_existing;
      out += ", ";
    }
    out += peer_ip_;
    out += kCrlf;
  }
  out += Traits::kTls ? "X-Forwarded-Proto: https\r\n" : "X-Forwarded-Proto: http\r\n";
  // X-Forwarded-Host: the original host appended (append_x_forwarded_host, spec §2.8).
  out += "X-Forwarded-Host: ";
  bool first_xfh = true;
  for (size_t i = 0; i < head.headers.fieldCount(); ++i) {
    if (head.headers.live(i) && head.headers.id(i) == http::HeaderId::XForwardedHost) {
      if (!first_xfh) {
        out += ", ";
      }
      out += head.headers.value(i);
      first_xfh = false;
    }
  }
  if (!first_xfh) {
    out += ", ";
  }
  out += ex.authority;
  out += kCrlf;
  out += "X-Request-Id: ";
  out += request_id_;
  out += kCrlf;
  switch (head.framing) {
    case http::BodyFraming::ContentLength:
      out += "Content-Length: ";
      out += std::to_string(head.content_length);
      out += kCrlf;
      break;
    case http::BodyFraming::Chunked:
      out += "Transfer-Encoding: chunked\r\n";
      break;
    default:
      // A request that announced "Content-Length: 0" keeps it (POST with an empty body).
      if (head.headers.count(http::HeaderId::ContentLength) > 0) {
        out += "Content-Length: 0\r\n";
      }
      break;
  }
  out += kCrlf;
}

template <class Stream>
void Http1Connection<Stream>::appendBody(std::vector<asio::const_buffer>& out,
                                         const std::vector<std::string_view>& pieces,
                                         bool chunked, std::string& chunk_line, bool last) {
  size_t total = totalSize(pieces);
  if (chunked && total > 0) {
    chunk_line.clear();
    strings::appendHex(chunk_line, total);
    chunk_line += kCrlf;
    out.emplace_back(chunk_line.data(), chunk_line.size());
  }
  for (std::string_view p : pieces) {
    if (!p.empty()) {
      out.emplace_back(p.data(), p.size());
    }
  }
  if (chunked && total > 0) {
    out.emplace_back(kCrlf.data(), kCrlf.size());
  }
  if (chunked && last) {
    out.emplace_back(kLastChunk.data(), kLastChunk.size());
  }
}

template <class Stream>
OutFraming Http1Connection<Stream>::buildResponseHead(Exchange& ex, http::ResponseHead& head) {
  const http::RequestHead& request = parser_.head();
  const bool client_http10 = request.version_major == 1 && request.version_minor == 0;
  OutFraming framing = OutFraming::None;
  switch (head.framing) {
    case http::BodyFraming::None:
      framing = OutFraming::None;
      break;
    case http::BodyFraming::ContentLength:
      framing = OutFraming::Length;
      break;
    case http::BodyFraming::Chunked:
    case http::BodyFraming::CloseDelimited:
      framing = client_http10 ? OutFraming::Close : OutFraming::Chunked;
      break;
  }
  if (framing == OutFraming::Close) {
    ex.keep_alive = false;
  }
  std::string& out = out_;
  out.clear();
  out += "HTTP/1.1 ";
  out += std::to_string(head.status);
  out += ' ';
  if (!head.reason.empty()) {
    out += head.reason;
  } else {
    out += http::reasonPhrase(head.status);
  }
  out += kCrlf;
  collectConnectionNominated(head.headers, nominated_);
  bool has_request_id = false;
  for (size_t i = 0; i < head.headers.fieldCount(); ++i) {
    http::HeaderId id = head.headers.id(i);
    if (isHop(id)) {
      continue;
    }
    if (!nominated_.empty() && isNominated(head.headers.name(i), nominated_)) {
      continue;
    }
    has_request_id = has_request_id || id == http::HeaderId::XRequestId;
    out += head.headers.name(i);
    out += ": ";
    out += head.headers.value(i);
    out += kCrlf;
  }
  if (!has_request_id) {
    out += "x-request-id: ";
    out += request_id_;
    out += kCrlf;
  }
  switch (framing) {
    case OutFraming::Length:
      out += "content-length: ";
      out += std::to_string(head.content_length);
      out += kCrlf;
      break;
    case OutFraming::Chunked:
      out += "transfer-encoding: chunked\r\n";
      break;
    case OutFraming::None: {
      bool bodyless_status = head.status == 204 || head.status == 304 || head.status < 200;
      if (ex.head_request || head.status == 304) {
        // Describes the representation, not this (empty) message (RFC 9110 §8.6).
        if (head.headers.count(http::HeaderId::ContentLength) > 0) {
          out += "content-length: ";
          out += std::to_string(head.content_length);
          out += kCrlf;
        }
      } else if (!bodyless_status) {
        out += "content-length: 0\r\n";
      }
      break;
    }
    case OutFraming::Close:
      break;
  }
  if (!ex.keep_alive || draining_) {
    out += "connection: close\r\n";
  } else if (client_http10) {
    out += "connection: keep-alive\r\n";
  }
  out += kCrlf;
  return framing;
}


template <class Stream>
awaitable<bool> Http1Connection<Stream>::forward(Exchange& ex, std::string_view path,
                                                 const http::RequestTarget& target) {
  const RouteRuntime& route = *ex.route;
  if (route.cluster.endpoints.empty()) {
    co_return co_await localReply(ex, 503, "no healthy upstream");
  }
  const uint32_t endpoint_index = ex.snapshot->balancers[ex.route_index].pick();
  const upstream::Endpoint& endpoint = route.cluster.endpoints[endpoint_index];
  upstream::pool::EndpointPool& pool = *ex.snapshot->pools[ex.route_index][endpoint_index];
  ex.upstream_address = endpoint.address_text;
  if (!endpoint.resolved) {
    details_.assign(kResetBeforeHeaders);
    details_ += "connection failure, transport failure reason: cannot resolve ";
    details_ += endpoint.authority;
    co_return co_await localReply(ex, 503, details_);
  }

  buildUpstreamHead(ex, endpoint, path, target);
  const http::RequestHead& request = parser_.head();
  const bool whole_request_in_hand = parser_.messageComplete();
  route_timeout_ = route.timeout;
  if (whole_request_in_hand) {
    startRouteTimer();
  }

  // The client waits for our go-ahead before sending the body (RFC 9110 §10.1.1); the proxy
  // answers it itself once the request is going upstream, as Envoy does.
  if (request.expect_continue && !whole_request_in_hand &&
      !(request.version_major == 1 && request.version_minor == 0)) {
    auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(kContinue), kUse);
    if (ec) {
      co_return false;
    }
  }

  PumpState pump;
  for (int attempt = 0;; ++attempt) {
    UpstreamConnectionPtr conn = pool.takeIdle();
    const bool reused = conn != nullptr;
    if (!conn) {
      conn = std::make_unique<UpstreamConnection>(worker_.io());
      upstream_ = conn.get();
      connect_deadline_ = SteadyClock::now() + kConnectTimeout;
      updateDeadline();
      auto [ec] = co_await conn->socket.async_connect(endpoint.address, kUse);
      connect_deadline_ = kNoDeadline;
      updateDeadline();
      upstream_ = nullptr;
      if (ec) {
        if (expired_ == Expiry::Connect) {
          details_.assign(kResetBeforeHeaders);
          details_ += "connection timeout";
          co_return co_await localReply(ex, 503, details_);
        }
        if (expired_ != Expiry::None) {
          co_return co_await localReply(ex, timeoutStatus(), "upstream request timeout", true);
        }
        details_.assign(kResetBeforeHeaders);
        details_ += "connection failure, transport failure reason: ";
        details_ += ec.message();
        co_return co_await localReply(ex, 503, details_);
      }
      boost::system::error_code ignored;
      conn->socket.set_option(tcp::no_delay(true), ignored);
    }
    const bool may_retry = reused && attempt == 0 && whole_request_in_hand;
    upstream_ = conn.get();
    UpstreamOutcome outcome = co_await exchangeWith(ex, *conn, may_retry, pump);
    upstream_ = nullptr;
    if (outcome.kind == UpstreamOutcome::Kind::Retry) {
      boost::system::error_code ignored;
      conn->socket.close(ignored);
      continue;
    }
    if (outcome.upstream_reusable) {
      pool.putIdle(std::move(conn), SteadyClock::now());
    } else {
      boost::system::error_code ignored;
      conn->socket.close(ignored);
    }
    co_return outcome.keep_alive;
  }
}

template <class Stream>
void Http1Connection<Stream>::startRouteTimer() {
  // Envoy's route timeout runs from the end of the downstream request to the end of the
  // upstream response; the request timeout (timeout_read) stops once the request is in.
  route_deadline_ =
      route_timeout_.count() > 0 ? SteadyClock::now() + route_timeout_ : kNoDeadline;
  request_deadline_ = kNoDeadline;
  request_complete_ = true;
  updateDeadline();
}

template <class Stream>
awaitable<typename Http1Connection<Stream>::UpstreamOutcome>
Http1Connection<Stream>::exchangeWith(Exchange& ex, UpstreamConnection& conn, bool may_retry,
                                      PumpState& pump) {
  using Kind = UpstreamOutcome::Kind;
  const bool whole_request_in_hand = parser_.messageComplete();
  const bool request_chunked = parser_.head().framing == http::BodyFraming::Chunked;
  ++conn.requests;
  touchActivity();

  // The head and whatever body arrived with it, in one write.
  upstream_buffers_.clear();
  upstream_buffers_.emplace_back(upstream_head_.data(), upstream_head_.size());
  appendBody(upstream_buffers_, request_pieces_, request_chunked, request_chunk_line_,
             whole_request_in_hand);
  {
    auto [ec, n] = co_await asio::async_write(conn.socket, BufferSpan(upstream_buffers_), kUse);
    if (ec) {
      if (expired_ != Expiry::None) {
        co_return UpstreamOutcome{Kind::Done,
                                  co_await localReply(ex, timeoutStatus(), "request timeout", true)};
      }
      if (may_retry) {
        co_return UpstreamOutcome{Kind::Retry};
      }
      details_.assign(kResetBeforeHeaders);
      details_ += "connection termination";
      co_return UpstreamOutcome{Kind::Done, co_await localReply(ex, 503, details_, true)};
    }
  }
  if (!whole_request_in_hand) {
    pump = PumpState{};
    pump.running = true;
    asio::co_spawn(worker_.io(), pumpRequestBody(&conn, &pump), asio::detached);
  }

  conn.parser.reset(ex.head_request);
  OutFraming framing = OutFraming::None;
  bool response_complete = false;
  bool aborted = false;
  for (;;) {
    auto [rec, n] = co_await conn.socket.async_read_some(
        asio::buffer(conn.buffer.writePointer(), conn.buffer.writable()), kUse);
    if (!rec && n > 0) {
      conn.buffer.commit(n);
      touchActivity();
      response_pieces_.clear();
      http::ParseEvents ev = conn.parser.execute(conn.buffer.readable(), response_pieces_);
      if (ev.error_status != 0) {
        if (ex.response_started) {
          aborted = true;
          break;
        }
        co_await stopPump(conn, pump);
        details_.assign(kResetBeforeHeaders);
        details_ += "protocol error";
        co_return UpstreamOutcome{Kind::Done,
                                  co_await localReply(ex, 502, details_, !requestSettled(pump))};
      }
      downstream_buffers_.clear();
      if (ev.headers_complete) {
        http::ResponseHead& head = conn.parser.head();
        ex.status = head.status;
        framing = buildResponseHead(ex, head);
        downstream_buffers_.emplace_back(out_.data(), out_.size());
        ex.response_started = true;
      }
      ex.bytes_out += totalSize(response_pieces_);
      appendBody(downstream_buffers_, response_pieces_, framing == OutFraming::Chunked,
                 response_chunk_line_, ev.message_complete);
      if (!downstream_buffers_.empty()) {
        auto wec = co_await writeDownstream(downstream_buffers_);
        if (wec) {
          aborted = true;  // the client went away or timed out
          break;
        }
        touchActivity();
      }
      conn.buffer.consume(ev.consumed);
      if (ev.message_complete) {
        response_complete = true;
        break;
      }
      continue;
    }

    // The read failed: a timer, the body pump, or the upstream ended it.
    if (expired_ != Expiry::None) {
      if (ex.response_started) {
        aborted = true;
        break;
      }
      co_await stopPump(conn, pump);
      co_return UpstreamOutcome{
          Kind::Done,
          co_await localReply(ex, timeoutStatus(),
                              expired_ == Expiry::Route ? "upstream request timeout"
                                                        : "stream timeout",
                              true)};
    }
    if (pump.done && (pump.downstream_failed || pump.bad_request_status != 0)) {
      // The client's request body broke off or was malformed mid-stream.
      if (pump.bad_request_status != 0 && !ex.response_started) {
        co_return UpstreamOutcome{
            Kind::Done, co_await localReply(ex, pump.bad_request_status, "malformed request body",
                                            true)};
      }
      aborted = true;
      break;
    }
    if ((rec == asio::error::eof || n == 0) && conn.parser.headersComplete() &&
        conn.parser.finish()) {
      // A close-delimited body ended with the connection: complete.
      downstream_buffers_.clear();
      response_pieces_.clear();
      appendBody(downstream_buffers_, response_pieces_, framing == OutFraming::Chunked,
                 response_chunk_line_, true);
      if (!downstream_buffers_.empty()) {
        aborted = static_cast<bool>(co_await writeDownstream(downstream_buffers_));
      }
      response_complete = !aborted;
      conn.parser.head().keep_alive = false;
      break;
    }
    if (!conn.parser.started() && may_retry) {
      co_return UpstreamOutcome{Kind::Retry};  // a pooled connection the origin had closed
    }
    if (ex.response_started) {
      aborted = true;  // upstream went away mid-body: the client must see an abort
      break;
    }
    co_await stopPump(conn, pump);
    details_.assign(kResetBeforeHeaders);
    details_ += rec == asio::error::connection_reset ? "connection reset" : "connection termination";
    co_return UpstreamOutcome{Kind::Done,
                              co_await localReply(ex, 503, details_, !requestSettled(pump))};
  }

  // The exchange is over, complete or aborted. Settle the request body first.
  co_await stopPump(conn, pump);
  ex.bytes_in += pump_bytes_in_;
  const bool request_fully_sent = whole_request_in_hand || pump.complete;
  UpstreamOutcome outcome{Kind::Done};
  outcome.upstream_reusable = response_complete && !aborted && request_fully_sent &&
                              conn.parser.head().keep_alive && conn.buffer.empty() &&
                              expired_ == Expiry::None;
  if (aborted || !response_complete) {
    // Close without completing the message: a chunked body lacks its last chunk, a
    // content-length body is short; never a truncated body that looks complete.
    ex.keep_alive = false;
    finishExchange(ex);
    outcome.keep_alive = false;
    co_return outcome;
  }
  if (!request_fully_sent || !parser_.messageComplete()) {
    ex.keep_alive = false;  // unread request bytes: the connection cannot be reused
  }
  finishExchange(ex);
  if (ex.keep_alive && !draining_) {
    outcome.keep_alive = true;
    co_return outcome;
  }
  co_await lingerClose();
  outcome.keep_alive = false;
  co_return outcome;
}

template <class Stream>
bool Http1Connection<Stream>::requestSettled(const PumpState& pump) const {
  return parser_.messageComplete() && (!pump.running || pump.complete);
}

template <class Stream>
awaitable<void> Http1Connection<Stream>::pumpRequestBody(UpstreamConnection* upstream,
                                                         PumpState* state) {
  const bool chunked = parser_.head().framing == http::BodyFraming::Chunked;
  pump_bytes_in_ = 0;
  try {
    while (!parser_.messageComplete()) {
      auto [ec, n] = co_await stream_.async_read_some(
          asio::buffer(in_.writePointer(), in_.writable()), kUse);
      if (ec || n == 0) {
        state->downstream_failed = true;
        break;
      }
      in_.commit(n);
      touchActivity();
      request_pieces_.clear();
      http::ParseEvents ev = parser_.execute(in_.readable(), request_pieces_);
      if (ev.error_status != 0) {
        state->bad_request_status = ev.error_status;
        in_.clear();
        break;
      }
      pump_bytes_in_ += totalSize(request_pieces_);
      pump_buffers_.clear();
      appendBody(pump_buffers_, request_pieces_, chunked, request_chunk_line_,
                 ev.message_complete);
      if (!pump_buffers_.empty()) {
        auto [wec, wn] = co_await asio::async_write(upstream->socket, BufferSpan(pump_buffers_), kUse);
        if (wec) {
          // The upstream stopped reading (it may already have answered, e.g. 413): stop
          // sending, keep reading its response.
          state->upstream_failed = true;
          in_.consume(ev.consumed);
          break;
        }
      }
      in_.consume(ev.consumed);  // bytes after the message (pipelining) stay buffered
    }
    if (parser_.messageComplete() && state->bad_request_status == 0 &&
        !state->upstream_failed) {
      state->complete = true;
      startRouteTimer();
    }
  } catch (const std::exception& e) {
    VALLUM_LOG_ERROR("request body pump failed: {}", e.what());
    state->downstream_failed = true;
  }
  state->done = true;
  if (state->downstream_failed || state->bad_request_status != 0) {
    // Wake the response reader: the exchange cannot complete normally.
    boost::system::error_code ignored;
    upstream->socket.cancel(ignored);
  }
  pump_signal_.cancel();
}

template <class Stream>
awaitable<void> Http1Connection<Stream>::stopPump(UpstreamConnection& upstream,
                                                  PumpState& pump) {
  if (!pump.running || pump.done) {
    co_return;
  }
  // Interrupt its pending read from the client or write to the upstream, then wait for it.
  boost::system::error_code ignored;
  socket().cancel(ignored);
  upstream.socket.cancel(ignored);
  while (!pump.done) {
    pump_signal_.expires_at(SteadyTime::max());
    auto [ec] = co_await pump_signal_.async_wait(kUse);
    (void)ec;
  }
}

template <class Stream>
void Http1Connection<Stream>::finishExchange(Exchange& ex) {
  const double duration_ms =
      std::chrono::duration<double, std::milli>(SteadyClock::now() - ex.start).count();
  const http::RequestHead& head = parser_.head();
  AccessLogEntry entry;
  entry.time = ex.wall_start;
  entry.method = head.method;
  entry.authority = ex.authority;
  entry.path = head.target;
  entry.status = ex.status;
  entry.upstream = ex.upstream_address;
  entry.duration_ms = duration_ms;
  entry.bytes_in = ex.bytes_in;
  entry.bytes_out = ex.bytes_out;
  entry.route = ex.route != nullptr ? std::string_view(ex.route->log_name) : std::string_view();
  entry.request_id = request_id_;
  worker_.accessLog().append(entry);
  worker_.registry().requestTick();
  clearRequestDeadlines();
}

template <class Stream>
awaitable<bool> Http1Connection<Stream>::localReply(Exchange& ex, int status,
                                                    std::string_view details, bool force_close,
                                                    std::string_view location,
                                                    std::string_view allow) {
  if (request_id_.empty()) {
    appendRequestId(request_id_, worker_.random());
  }
  const http::RequestHead& head = parser_.head();
  // Unread body bytes would be taken for the next request: close instead.
  const bool close =
      force_close || !ex.keep_alive || draining_ || !parser_.messageComplete() ||
      !parser_.headersComplete();
  LocalReply reply;
  reply.status = status;
  reply.details = details;
  reply.request_id = request_id_;
  reply.close = close;
  reply.head_request = head.method == "HEAD";
  reply.location = location;
  reply.allow = allow;
  out_.clear();
  renderLocalReply(reply, negotiateReplyFormat(head.headers.get(http::HeaderId::Accept)),
                   worker_.dates().now(), out_);
  ex.status = status;
  ex.keep_alive = !close;
  expired_ = Expiry::None;
  // A fresh deadline for writing the reply itself.
  clearRequestDeadlines();
  activity_deadline_ = SteadyClock::now() + kStreamIdleTimeout;
  updateDeadline();
  auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(out_), kUse);
  finishExchange(ex);
  if (ec) {
    co_return false;
  }
  if (close) {
    co_await lingerClose();
    co_return false;
  }
  co_return true;
}

template <class Stream>
awaitable<bool> Http1Connection<Stream>::simpleReply(Exchange& ex, int status,
                                                     std::string_view content_type,
                                                     std::string_view body) {
  const bool close = !ex.keep_alive || draining_ || !parser_.messageComplete();
  out_.clear();
  renderSimpleResponse(status, content_type, body, ex.head_request, close, worker_.dates().now(),
                       out_);
  ex.status = status;
  ex.keep_alive = !close;
  auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(out_), kUse);
  ex.bytes_out = ex.head_request ? 0 : body.size();
  finishExchange(ex);
  if (ec) {
    co_return false;
  }
  if (close) {
    co_await lingerClose();
    co_return false;
  }
  co_return true;
}

template <class Stream>
awaitable<void> runConnection(Worker& worker, Stream stream, tcp::endpoint peer,
                              WorkerSnapshotSharedPtr hold) {
  // `hold` keeps the snapshot (and its TLS context, which `stream` references) alive for
  // the life of the connection.
  (void)hold;
  {
    Http1Connection<Stream> connection(worker, std::move(stream), peer);
    co_await connection.run();
  }
  worker.connectionClosed();
}

}  // namespace

void startHttp1Connection(Worker& worker, tcp::socket socket) {
  boost::system::error_code ec;
  tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) {
    return;  // already gone
  }
  socket.set_option(tcp::no_delay(true), ec);
  const Snapshot& snapshot = *worker.current()->snapshot;
  if (snapshot.tls) {
    // The connection keeps the TLS context alive through the snapshot it captured.
    ssl::stream<tcp::socket> stream(std::move(socket), snapshot.tls->sslContext());
    asio::co_spawn(worker.io(),
                   runConnection(worker, std::move(stream), peer, worker.current()),
                   asio::detached);
  } else {
    asio::co_spawn(worker.io(), runConnection(worker, std::move(socket), peer, nullptr),
                   asio::detached);
  }
}

}  // namespace vallum::proxy
