#include "proxy/http1_connection.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <poll.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "common/buffer.h"
#include "common/logging.h"
#include "common/random.h"
#include "common/strings.h"
#include "http/http2/client_codec.h"
#include "http/http1/parser.h"
#include "http/trailers.h"
#include "network/listener.h"
#include "proxy/local_reply.h"
#include "proxy/request_pipeline.h"
#include "proxy/worker.h"
#include "upstream/outlier/outlier_detector.h"
#include "upstream/pool/h2_connection.h"
#include "tls/client_context.h"

// Coroutine frames: asio recycles frames of up to 1020 bytes per thread and mallocs larger
// ones, and GCC keeps every local and every co_await temporary of a coroutine in its frame.
// So the per-request coroutines here keep their state in members, do their thinking in plain
// member functions, and have one co_await site per kind of operation (measured: two frame
// mallocs per request disappeared with this layout).

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
/// How long a response may take before Vallum starts watching the client for a hang-up (the
/// deadline scan runs every 100 ms, so the watch starts 100-200 ms into the wait).
constexpr auto kClientWatchDelay = std::chrono::milliseconds(100);
/// TLS writes up to this size are coalesced into one buffer (one record, one syscall).
constexpr size_t kCoalesceLimit = 64 * 1024;

constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

/// Envoy's local-reply details for failures before the response head (dataplane §4.3).
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

/// A view of a buffer vector that asio can copy for free (write operations keep a copy of
/// their buffer sequence; copying a std::vector allocated on every write).
struct BufferSpan {
  const asio::const_buffer* first;
  const asio::const_buffer* last;
  explicit BufferSpan(const std::vector<asio::const_buffer>& v)
      : first(v.data()), last(v.data() + v.size()) {}
  BufferSpan(const asio::const_buffer* f, const asio::const_buffer* l) : first(f), last(l) {}
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

/// Appends body pieces to a gather list, optionally as one chunk (RFC 9112 §7.1); when `last`
/// and chunked, the last chunk carrying the relayable fields of `trailers` (RFC 9110 §6.5; null
/// or empty: none). `chunk_line` and `last_chunk` must outlive the write.
void appendBody(std::vector<asio::const_buffer>& out, const std::vector<std::string_view>& pieces,
                bool chunked, std::string& chunk_line, bool last, const http::HeaderMap* trailers,
                std::string& last_chunk) {
  const size_t total = totalSize(pieces);
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
    if (trailers == nullptr || trailers->fieldCount() == 0) {
      out.emplace_back(kLastChunk.data(), kLastChunk.size());
    } else {
      last_chunk.clear();
      http::appendLastChunk(*trailers, last_chunk);
      out.emplace_back(last_chunk.data(), last_chunk.size());
    }
  }
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

/// Counters and facts of one request/response exchange (access log, keep-alive decision).
struct Exchange {
  WorkerSnapshotSharedPtr snapshot;
  SteadyTime start{};
  std::chrono::system_clock::time_point wall_start{};
  int status = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  const upstream::Endpoint* endpoint = nullptr;
  upstream::pool::EndpointPool* pool = nullptr;
  /// The chosen host's shared state while a request to it is in flight (active_requests).
  upstream::HostHealth* host = nullptr;
  bool head_request = false;
  bool response_started = false;  ///< a response head was written downstream
  bool keep_alive = true;         ///< the downstream connection may serve another request
};

/// The request-body pump's outcome (it runs beside the response reader).
struct PumpState {
  bool running = false;
  bool done = false;
  bool complete = false;  ///< the whole body was read and forwarded
  int bad_request_status = 0;
  bool downstream_failed = false;
  bool upstream_failed = false;
};

/// What the response loop does after a read from the upstream.
enum class Step : uint8_t {
  ReadMore,        ///< nothing to write yet
  Write,           ///< write downstream_buffers_, then read more
  WriteAndFinish,  ///< write downstream_buffers_; the response is complete
  Finish,          ///< the response is complete, nothing left to write
  Abort,           ///< the response started and cannot complete: close the client connection
  Retry,           ///< a reused upstream connection was dead: try a fresh one
  Reply,           ///< answer with ctx_.reply (nothing was sent to the client yet)
};

/// Request bytes queued for an h2c stream beyond which the body pump stops reading the client
/// (backpressure; the stream window is 64 KiB).
constexpr size_t kH2BodyBacklog = 64 * 1024;

/// One request's stream on a multiplexed h2c upstream connection (proxyViaH2). The session
/// calls the handler methods from inside its own calls; they only record and wake, never call
/// back into the session. Reused across the requests of one downstream connection.
struct H2Exchange final : http::http2::ClientStreamHandler, upstream::pool::H2Waiter {
  explicit H2Exchange(asio::io_context& io)
      : signal(io, SteadyTime::max()), body_signal(io, SteadyTime::max()) {}

  void reset() {
    conn.reset();
    stream_id = 0;
    head_ready = response_done = closed = protocol_error = false;
    close_code = 0;
    rx.clear();
    rx_writing.clear();
    unconsumed = 0;
    tx.clear();
    tx_off = 0;
    tx_eof = false;
    trailers = nullptr;
  }
  void wake() { signal.cancel(); }
  size_t backlog() const { return tx.size() - tx_off; }

  // http::http2::ClientStreamHandler
  void onResponseHead(http::ResponseHeaders&) override {
    head_ready = true;
    wake();
  }
  void onResponseData(std::string_view data) override {
    rx.append(data);
    unconsumed += data.size();
    wake();
  }
  void onResponseComplete() override {
    response_done = true;
    wake();
  }
  void onStreamClose(uint32_t error_code, bool malformed) override {
    closed = true;
    close_code = error_code;
    protocol_error = malformed;
    wake();
    body_signal.cancel();
  }
  size_t readRequestBody(uint8_t* out, size_t max, bool* eof) override {
    const size_t n = std::min(max, backlog());
    std::memcpy(out, tx.data() + tx_off, n);
    tx_off += n;
    if (tx_off == tx.size()) {
      tx.clear();
      tx_off = 0;
      *eof = tx_eof;
    }
    if (backlog() < kH2BodyBacklog) {
      body_signal.cancel();  // the pump may read more from the client
    }
    return n;
  }
  const http::HeaderMap* requestTrailers() const override { return tx_eof ? trailers : nullptr; }
  // upstream::pool::H2Waiter
  void onConnectionSettled() override { wake(); }

  asio::steady_timer signal;       ///< wakes the response loop
  asio::steady_timer body_signal;  ///< wakes the request body pump
  upstream::pool::H2ConnectionSharedPtr conn;
  int32_t stream_id = 0;
  bool head_ready = false;
  bool response_done = false;  ///< END_STREAM received after the head
  bool closed = false;
  bool protocol_error = false;
  uint32_t close_code = 0;
  std::string rx;          ///< response body received, not yet written downstream
  std::string rx_writing;  ///< response body being written downstream
  size_t unconsumed = 0;   ///< received bytes not yet given back to flow control
  std::string tx;          ///< request body not yet taken by the session
  size_t tx_off = 0;
  bool tx_eof = false;     ///< tx ends the request body
  const http::HeaderMap* trailers = nullptr;  ///< the request's trailer section, once complete
};

template <class Stream>
class Http1Connection final : public network::TrackedConnection {
  using Traits = StreamTraits<Stream>;

 public:
  /// A connection object without a client; attach() gives it one. Objects are recycled
  /// through the worker's spare list (see runConnection) so the buffers a connection grew
  /// are reused by the next one instead of being allocated and freed per connection.
  explicit Http1Connection(Worker& worker)
      : worker_(worker), in_(kDownstreamBufferSize), pump_signal_(worker.io(), SteadyTime::max()) {}

  /// Takes the accepted client stream; every per-connection field starts fresh.
  void attach(Stream&& stream, const tcp::endpoint& peer);
  /// Drops the stream and everything the last connection referenced (snapshot, route, pool,
  /// upstream), and returns oversized buffers to the allocator, so the object can go back on
  /// the spare list.
  void detach();

  awaitable<void> run();

  // network::TrackedConnection
  void onDeadline() override;
  void onDrain() override;

 private:
  tcp::socket& socket() { return Traits::socket(*stream_); }

  // Coroutines (the I/O).
  awaitable<bool> serveOne();
  awaitable<bool> proxyRequest();
  awaitable<bool> sendReply();
  awaitable<void> pumpRequestBody(UpstreamConnection* upstream, PumpState* state);
  awaitable<void> stopPump(UpstreamConnection* upstream, PumpState& pump);
  awaitable<void> lingerClose();
  awaitable<bool> proxyViaH2();
  awaitable<void> pumpH2Body(PumpState* state);
  awaitable<void> waitH2(asio::steady_timer& timer);

  // Plain functions (the thinking).
  /// Opens the request's stream on the connected h2_->conn (head from upstream_head_, body
  /// already in hand); false → ctx_.reply set.
  bool submitH2(bool whole_request_in_hand);
  Step onH2Event(const PumpState& pump);
  /// Gives the stream back (reset when still open, flow control settled) and releases the
  /// connection.
  void releaseH2();
  void beginExchange();
  bool prepareForward();
  Step onUpstreamBytes(UpstreamConnection& conn, boost::system::error_code ec, size_t n,
                       const PumpState& pump, bool may_retry);
  BufferSpan downstreamWriteBuffers();
  /// One buffer for a TLS upstream write (one record, one syscall) when small enough.
  BufferSpan coalesceUpstream(const std::vector<asio::const_buffer>& buffers);
  void setReply(int status, std::string_view details, bool force_close);
  /// The 503 for a failed upstream connect (or the timeout reply when a timer ended it), with
  /// Envoy's details (dataplane §4.3); counts the connect failure for the host.
  void setConnectFailureReply(boost::system::error_code ec);
  /// Writes the downstream response head for an upstream head into out_/downstream_buffers_
  /// and records status and outcome (HTTP/1 and h2c upstreams alike).
  void startResponse(const http::ResponseHeaders& head);
  /// Whether the exchange was cut short while waiting on the upstream — the client hung up, a
  /// timer fired, the request body broke off — and the step that follows; nullopt otherwise.
  std::optional<Step> interruption(const PumpState& pump);
  void setTimeoutReply();
  void finishExchange();
  /// Whether closing needs a lingering close (RFC 9112 §9.6): only when the client may still be
  /// sending (an unread body, bytes already buffered, a rejected head). After a complete
  /// request with nothing pending the connection simply closes, as nginx does; a half-close
  /// and a wait for the client's FIN on every Connection: close request would cost a round
  /// trip and syscalls per connection for nothing.
  bool needsLinger() const {
    return !parser_.headersComplete() || !parser_.messageComplete() || !in_.empty() ||
           ctx_.reply.force_close;
  }
  void setOutcome(upstream::RequestOutcome outcome) {
    outcome_ = outcome;
    outcome_known_ = true;
  }
  void recordOutcome();
  /// While a request that is wholly in hand waits for its response, watch the client socket
  /// for a hang-up without reading it (a readiness wait, then poll(POLLRDHUP)): a client that
  /// goes away ends the exchange at once and frees the upstream, as Envoy does; bytes it sends
  /// meanwhile (a pipelined request) stay unread. Disarmed when the response is done.
  void armClientWatch();
  void disarmClientWatch();
  void onClientReadable(boost::system::error_code ec, uint32_t generation);
  bool requestSettled(const PumpState& pump) const {
    return parser_.messageComplete() && (!pump.running || pump.complete);
  }

  // Deadlines: each phase stores its own; the registry sees the earliest.
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
  void startRouteTimer();
  int timeoutStatus() const;

  Worker& worker_;
  std::optional<Stream> stream_;
  std::string peer_ip_;
  Buffer in_;
  http::http1::RequestParser parser_;
  RequestContext ctx_;
  Exchange ex_;
  std::string request_id_;

  std::vector<std::string_view> request_pieces_;
  std::vector<std::string_view> response_pieces_;
  std::vector<asio::const_buffer> upstream_buffers_;
  std::vector<asio::const_buffer> downstream_buffers_;
  std::vector<asio::const_buffer> pump_buffers_;
  std::vector<std::string_view> nominated_;
  std::string out_;        ///< response heads and local replies
  std::string coalesced_;  ///< TLS write coalescing
  asio::const_buffer coalesced_buffer_;
  std::string upstream_coalesced_;
  asio::const_buffer upstream_coalesced_buffer_;
  std::string upstream_head_;
  std::string request_chunk_line_;
  std::string response_chunk_line_;
  std::string request_last_chunk_;   ///< a last chunk with trailers (appendBody)
  std::string response_last_chunk_;
  std::string details_;
  OutFraming framing_ = OutFraming::None;
  /// What this exchange meant for outlier detection (dataplane §3.2) and when the request
  /// went upstream (latency metric).
  upstream::RequestOutcome outcome_ = upstream::RequestOutcome::Success;
  bool outcome_known_ = false;
  SteadyTime upstream_start_{};
  size_t pending_consume_ = 0;
  uint64_t pump_bytes_in_ = 0;
  asio::steady_timer pump_signal_;
  UpstreamConnection* upstream_ = nullptr;  ///< the exchange's upstream, for cancellation
  /// h2c upstreams: the stream state (allocated on the first such request), whether an
  /// exchange is using it, and the connection this request is connecting (for cancellation).
  std::unique_ptr<H2Exchange> h2_;
  bool h2_active_ = false;
  upstream::pool::H2Connection* h2_connecting_ = nullptr;
  std::string h2_head_;
  std::string h2_body_;  ///< a request body already in hand, kept for a retry
  std::vector<std::pair<std::string_view, std::string_view>> h2_headers_;
  bool h2_may_retry_ = false;

  SteadyTime phase_deadline_ = kNoDeadline;
  SteadyTime request_deadline_ = kNoDeadline;
  SteadyTime connect_deadline_ = kNoDeadline;
  SteadyTime route_deadline_ = kNoDeadline;
  SteadyTime activity_deadline_ = kNoDeadline;
  SteadyTime max_stream_deadline_ = kNoDeadline;
  SteadyTime watch_deadline_ = kNoDeadline;  ///< when to start watching for a client hang-up
  config::Duration route_timeout_{};
  Expiry expired_ = Expiry::None;
  bool idle_ = false;  ///< waiting for the first byte of the next request
  bool draining_ = false;
  bool request_complete_ = false;  ///< the whole request has been received
  bool client_watch_armed_ = false;
  /// A watch handler is queued (it refers to this object: run() waits for it before the object
  /// can be recycled or freed).
  bool client_watch_pending_ = false;
  bool client_gone_ = false;  ///< the client hung up while we waited for the upstream
  uint32_t client_watch_generation_ = 0;
};

// ------------------------------------------------------------------------------ deadlines

template <class Stream>
void Http1Connection<Stream>::updateDeadline() {
  SteadyTime t = phase_deadline_;
  t = std::min(t, request_deadline_);
  t = std::min(t, connect_deadline_);
  t = std::min(t, route_deadline_);
  t = std::min(t, activity_deadline_);
  t = std::min(t, max_stream_deadline_);
  t = std::min(t, watch_deadline_);
  setDeadline(t);
}

template <class Stream>
void Http1Connection<Stream>::clearRequestDeadlines() {
  request_deadline_ = connect_deadline_ = route_deadline_ = kNoDeadline;
  activity_deadline_ = max_stream_deadline_ = watch_deadline_ = kNoDeadline;
  updateDeadline();
}

template <class Stream>
void Http1Connection<Stream>::onDeadline() {
  const SteadyTime now = SteadyClock::now();
  if (watch_deadline_ <= now) {
    watch_deadline_ = kNoDeadline;
    armClientWatch();  // the upstream is taking a while: start watching the client
  }
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
  boost::system::error_code ignored;
  socket().cancel(ignored);
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
int Http1Connection<Stream>::timeoutStatus() const {
  switch (expired_) {
    case Expiry::Route:
      return 504;
    case Expiry::Connect:
      return 503;
    default:
      // Vallum's rule (dataplane-semantics §4.1): 504 once the whole request was received,
      // otherwise 408.
      return request_complete_ ? 504 : 408;
  }
}

// ------------------------------------------------------------------------ connection loop

template <class Stream>
void Http1Connection<Stream>::attach(Stream&& stream, const tcp::endpoint& peer) {
  stream_.emplace(std::move(stream));
  peer_ip_ = network::clientAddressString(peer.address());
  in_.clear();
  phase_deadline_ = request_deadline_ = connect_deadline_ = route_deadline_ = kNoDeadline;
  activity_deadline_ = max_stream_deadline_ = watch_deadline_ = kNoDeadline;
  setDeadline(kNoDeadline);
  expired_ = Expiry::None;
  idle_ = draining_ = request_complete_ = false;
  client_watch_armed_ = client_watch_pending_ = client_gone_ = false;
  upstream_ = nullptr;
  pending_consume_ = 0;
  pump_bytes_in_ = 0;
  framing_ = OutFraming::None;
  outcome_known_ = false;
}

namespace {

/// A string keeps its capacity across connections up to this; beyond, it is freed.
constexpr size_t kKeepCapacity = 16 * 1024;

/// Clears `s` and frees it when it grew beyond kKeepCapacity; returns the bytes freed.
size_t trim(std::string& s) {
  s.clear();
  if (s.capacity() <= kKeepCapacity) {
    return 0;
  }
  const size_t freed = s.capacity();
  std::string().swap(s);
  return freed;
}

template <class T>
size_t trim(std::vector<T>& v) {
  v.clear();
  if (v.capacity() <= 256) {
    return 0;
  }
  const size_t freed = v.capacity() * sizeof(T);
  std::vector<T>().swap(v);
  return freed;
}

}  // namespace

template <class Stream>
void Http1Connection<Stream>::detach() {
  stream_.reset();
  ex_ = Exchange{};
  ctx_.reset(nullptr, false);
  ctx_.target = {};
  ctx_.path = {};
  size_t freed = 0;
  for (std::string* s : {&ctx_.host, &ctx_.path_scratch, &ctx_.merged_path,
                         &ctx_.upstream_host_scratch, &ctx_.reply_text, &request_id_, &out_,
                         &coalesced_, &upstream_coalesced_, &upstream_head_, &request_chunk_line_,
                         &response_chunk_line_, &request_last_chunk_, &response_last_chunk_,
                         &details_, &h2_body_}) {
    freed += trim(*s);
  }
  freed += parser_.releaseMemory(kKeepCapacity);
  upstream_ = nullptr;
  in_.clear();
  freed += trim(request_pieces_);
  freed += trim(response_pieces_);
  freed += trim(upstream_buffers_);
  freed += trim(downstream_buffers_);
  freed += trim(pump_buffers_);
  freed += trim(nominated_);
  freed += trim(h2_head_);
  freed += trim(h2_headers_);
  worker_.noteMemoryFreed(freed);
}

template <class Stream>
awaitable<void> Http1Connection<Stream>::run() {
  network::ConnectionRegistry::Registration registration(worker_.registry(), *this);
  try {
    if constexpr (Traits::kTls) {
      setPhaseDeadline(SteadyClock::now() + kHandshakeTimeout);
      auto [ec] = co_await stream_->async_handshake(ssl::stream_base::server, kUse);
      if (ec) {
        VALLUM_LOG_DEBUG("TLS handshake with {} failed: {}", peer_ip_, ec.message());
        co_return;
      }
    }
    while (co_await serveOne()) {
    }
  } catch (const std::exception& e) {
    // Last-resort catch (STYLE.md §5): this connection only.
    VALLUM_LOG_ERROR("connection from {} failed: {}", peer_ip_, e.what());
  }
  boost::system::error_code ignored;
  socket().close(ignored);
  // A cancelled client watch still queued runs before this object is recycled or freed.
  while (client_watch_pending_) {
    co_await asio::post(worker_.io(), asio::use_awaitable);
  }
}

template <class Stream>
void Http1Connection<Stream>::beginExchange() {
  const WorkerSnapshotSharedPtr& current = worker_.current();
  ex_ = Exchange{};
  ex_.snapshot = current;
  ex_.start = SteadyClock::now();
  ex_.wall_start = std::chrono::system_clock::now();
  const config::Options& options = current->snapshot->options;
  phase_deadline_ = kNoDeadline;
  request_deadline_ =
      options.timeout_read.count() > 0 ? ex_.start + options.timeout_read : kNoDeadline;
  max_stream_deadline_ =
      options.timeout_write.count() > 0 ? ex_.start + options.timeout_write : kNoDeadline;
  updateDeadline();
  request_id_.clear();
  ctx_.route = nullptr;  // a reply before routing (bad head) must not use the last route's
  ctx_.authority = {};
  outcome_known_ = false;
  upstream_start_ = {};
  client_gone_ = false;
}

template <class Stream>
awaitable<bool> Http1Connection<Stream>::serveOne() {
  parser_.reset();
  request_pieces_.clear();
  request_complete_ = false;
  expired_ = Expiry::None;

  if (in_.empty()) {
    if (draining_) {
      co_return false;
    }
    idle_ = true;
    const config::Duration idle = worker_.current()->snapshot->options.timeout_idle;
    setPhaseDeadline(idle.count() > 0 ? SteadyClock::now() + idle : kNoDeadline);
    auto [ec, n] =
        co_await stream_->async_read_some(asio::buffer(in_.writePointer(), in_.writable()), kUse);
    idle_ = false;
    if (ec || n == 0) {
      co_return false;  // the client closed, the idle timeout fired, or we are draining
    }
    in_.commit(n);
  }

  beginExchange();
  bool reply = false;
  for (;;) {
    const http::http1::ParseEvents ev = parser_.execute(in_.readable(), request_pieces_);
    if (ev.error_status != 0) {
      in_.clear();
      setReply(ev.error_status, ev.error_reason, /*force_close=*/true);
      reply = true;
      break;
    }
    in_.consume(ev.consumed);
    if (parser_.headersComplete()) {
      break;
    }
    auto [ec, n] =
        co_await stream_->async_read_some(asio::buffer(in_.writePointer(), in_.writable()), kUse);
    if (ec || n == 0) {
      if (expired_ == Expiry::None) {
        co_return false;  // closed mid-head: nobody to answer
      }
      setReply(408, "request timeout", true);
      reply = true;
      break;
    }
    in_.commit(n);
  }
  if (!reply) {
    http::RequestHeaders& head = parser_.head();
    request_complete_ = parser_.messageComplete();
    ex_.bytes_in = totalSize(request_pieces_);
    ex_.head_request = head.method == "HEAD";
    ex_.keep_alive = head.keep_alive;
    appendRequestId(request_id_, worker_.random());
    ctx_.reset(ex_.snapshot->snapshot.get(), Traits::kTls);
    if (decide(ctx_, head) == Decision::Forward) {
      co_return co_await proxyRequest();
    }
  }
  co_return co_await sendReply();
}

// ------------------------------------------------------------------------- local replies

template <class Stream>
void Http1Connection<Stream>::setReply(int status, std::string_view details, bool force_close) {
  ctx_.reply = ReplySpec{};
  ctx_.reply.status = status;
  ctx_.reply.details = details;
  ctx_.reply.force_close = force_close;
}

template <class Stream>
void Http1Connection<Stream>::setTimeoutReply() {
  setReply(timeoutStatus(),
           expired_ == Expiry::Route     ? std::string_view("upstream request timeout")
           : expired_ == Expiry::Connect ? std::string_view("upstream connect timeout")
                                         : std::string_view("stream timeout"),
           /*force_close=*/true);
}

template <class Stream>
awaitable<bool> Http1Connection<Stream>::sendReply() {
  if (request_id_.empty()) {
    appendRequestId(request_id_, worker_.random());
  }
  const http::RequestHeaders& head = parser_.head();
  const ReplySpec& spec = ctx_.reply;
  if (!spec.log_reason.empty()) {
    VALLUM_LOG_INFO("{} for {}{}: {}", spec.status, ctx_.host, ctx_.path, spec.log_reason);
  }
  // Unread request bytes would be taken for the next request: close instead.
  const bool close = spec.force_close || !ex_.keep_alive || draining_ ||
                     !parser_.headersComplete() || !parser_.messageComplete();
  const bool head_request = parser_.headersComplete() && head.method == "HEAD";
  out_.clear();
  LocalReply reply;
  reply.status = spec.status;
  reply.details = spec.details;
  reply.request_id = request_id_;
  reply.close = close;
  reply.head_request = head_request;
  reply.location = spec.location;
  reply.allow = spec.allow;
  reply.content_type = spec.content_type;
  // set_response_headers: the route's for route replies (denials, redirects, direct responses,
  // upstream failures), else the global set (spec §2.9).
  if (ctx_.route != nullptr) {
    reply.headers = &ctx_.route->response_headers;
  } else if (ex_.snapshot) {
    reply.headers = &ex_.snapshot->snapshot->response_headers;
  }
  if (spec.kind == ReplySpec::Kind::ErrorPage) {
    const size_t before = out_.size();
    renderLocalReply(reply, negotiateReplyFormat(head.headers.get(http::HeaderId::Accept)),
                     worker_.dates().now(), out_);
    const size_t head_end = out_.find("\r\n\r\n", before);
    ex_.bytes_out = head_end == std::string::npos ? 0 : out_.size() - head_end - 4;
  } else {
    renderTextResponse(reply, spec.body, worker_.dates().now(), out_);
    ex_.bytes_out = (head_request || spec.status == 204 || spec.status == 304) ? 0 : spec.body.size();
  }
  ex_.status = spec.status;
  ex_.keep_alive = !close;
  expired_ = Expiry::None;
  clearRequestDeadlines();
  touchActivity();  // a deadline for writing the reply itself
  auto [ec, n] = co_await asio::async_write(*stream_, asio::buffer(out_), kUse);
  finishExchange();
  if (ec) {
    co_return false;
  }
  if (close) {
    if (needsLinger()) {
      co_await lingerClose();
    }
    co_return false;
  }
  co_return true;
}

template <class Stream>
void Http1Connection<Stream>::finishExchange() {
  const http::RequestHeaders& head = parser_.head();
  AccessLogEntry entry;
  entry.time = ex_.wall_start;
  entry.method = head.method;
  entry.authority = ctx_.authority;
  entry.path = head.target;
  entry.status = ex_.status;
  entry.upstream =
      ex_.endpoint != nullptr ? std::string_view(ex_.endpoint->address_text) : std::string_view();
  entry.duration_ms =
      std::chrono::duration<double, std::milli>(SteadyClock::now() - ex_.start).count();
  entry.bytes_in = ex_.bytes_in;
  entry.bytes_out = ex_.bytes_out;
  entry.route = ctx_.route != nullptr ? std::string_view(ctx_.route->log_name) : std::string_view();
  entry.request_id = request_id_;
  worker_.accessLog().append(entry);
  if (ctx_.route != nullptr && !ctx_.route->metrics.empty()) {
    std::optional<std::chrono::nanoseconds> latency;
    if (upstream_start_ != SteadyTime{} && ex_.response_started) {
      latency = SteadyClock::now() - upstream_start_;
    }
    ctx_.route->metrics[worker_.index()]->record(ex_.status, ex_.bytes_in, ex_.bytes_out,
                                                 latency);
  }
  if (ex_.host != nullptr) {
    ex_.host->active_requests.fetch_sub(1, std::memory_order_relaxed);
    ex_.host = nullptr;
  }
  worker_.registry().requestTick();
  clearRequestDeadlines();
}

template <class Stream>
void Http1Connection<Stream>::recordOutcome() {
  // Passive health (dataplane §3.2): counted here without locks; a consecutive threshold is
  // decided on the control thread.
  const RouteRuntime* route = ctx_.route;
  if (route == nullptr || route->outlier == nullptr || ex_.host == nullptr || !outcome_known_) {
    return;
  }
  if (upstream::outlier::recordOutcome(*ex_.host, outcome_, *route->outlier)) {
    const uint32_t index = uint32_t(ex_.endpoint - route->cluster.endpoints.data());
    worker_.reportOutlierThreshold(route->id, index);
  }
}

template <class Stream>
void Http1Connection<Stream>::armClientWatch() {
  if (client_watch_armed_) {
    return;
  }
  client_watch_armed_ = true;
  client_watch_pending_ = true;
  socket().async_wait(tcp::socket::wait_read,
                      [this, generation = client_watch_generation_](boost::system::error_code ec) {
                        onClientReadable(ec, generation);
                      });
}

template <class Stream>
void Http1Connection<Stream>::disarmClientWatch() {
  watch_deadline_ = kNoDeadline;
  ++client_watch_generation_;  // a wait still queued completes as stale
  if (client_watch_armed_) {
    client_watch_armed_ = false;
    boost::system::error_code ignored;
    socket().cancel(ignored);  // completes the wait at once; nothing else is pending here
  }
}

template <class Stream>
void Http1Connection<Stream>::onClientReadable(boost::system::error_code ec,
                                               uint32_t generation) {
  client_watch_pending_ = false;
  if (generation != client_watch_generation_) {
    return;  // disarmed meanwhile (the flag belongs to a newer watch, if any)
  }
  client_watch_armed_ = false;
  if (ec || !stream_) {
    return;
  }
  // Readable: a hang-up, or bytes (a pipelined request, a TLS alert). Only a hang-up counts.
  pollfd p{socket().native_handle(), POLLRDHUP, 0};
  if (::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
    client_gone_ = true;
    boost::system::error_code ignored;
    if (upstream_ != nullptr) {
      upstream_->socket.cancel(ignored);  // the response loop ends the exchange
    }
    if (h2_active_) {
      h2_->wake();  // the h2c response loop resets the stream
    }
    return;
  }
  armClientWatch();  // new bytes or the FIN arrive as a new readiness edge
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
    auto [ec] = co_await stream_->async_shutdown(kUse);
    (void)ec;
  } else {
    boost::system::error_code ec;
    socket().shutdown(tcp::socket::shutdown_send, ec);
    size_t discarded = 0;
    while (!ec && discarded < 256 * 1024) {
      in_.clear();
      auto [rec, n] = co_await socket().async_read_some(
          asio::buffer(in_.writePointer(), in_.writable()), kUse);
      if (rec || n == 0) {
        break;
      }
      discarded += n;
    }
    in_.clear();
  }
}

// ------------------------------------------------------------------------------ forwarding

template <class Stream>
bool Http1Connection<Stream>::prepareForward() {
  const RouteRuntime& route = *ctx_.route;
  if (route.cluster.endpoints.empty()) {
    setReply(503, "no healthy upstream", false);
    return false;
  }
  std::optional<uint64_t> hash;
  if (route.cluster.policy == upstream::lb::Policy::RingHash ||
      route.cluster.policy == upstream::lb::Policy::Maglev) {
    hash = requestHash(ctx_, parser_.head(), peer_ip_);
  }
  const std::optional<uint32_t> picked = worker_.pickEndpoint(*ex_.snapshot, ctx_.route_index, hash);
  if (!picked) {
    setReply(503, "no healthy upstream", false);
    return false;
  }
  const uint32_t index = *picked;
  ex_.endpoint = &route.cluster.endpoints[index];
  ex_.pool = ex_.snapshot->pools[ctx_.route_index][index];
  ex_.host = route.cluster.health->hosts[index].get();
  ex_.host->active_requests.fetch_add(1, std::memory_order_relaxed);
  ex_.host->noteTraffic();
  if (!ex_.endpoint->resolved) {
    details_.assign(kResetBeforeHeaders);
    details_ += "connection failure, transport failure reason: cannot resolve ";
    details_ += ex_.endpoint->authority;
    setReply(503, details_, false);
    return false;
  }
  upstream_head_.clear();
  buildUpstreamRequestHead(ctx_, parser_.head(), *ex_.endpoint, peer_ip_, request_id_,
                           nominated_, upstream_head_);
  route_timeout_ = route.timeout;
  if (parser_.messageComplete()) {
    startRouteTimer();
  }
  return true;
}

template <class Stream>
BufferSpan Http1Connection<Stream>::downstreamWriteBuffers() {
  if constexpr (Traits::kTls) {
    // One SSL_write per buffer would cost one TLS record and one syscall each: coalesce.
    if (downstream_buffers_.size() > 1 && asio::buffer_size(downstream_buffers_) <= kCoalesceLimit) {
      coalesced_.clear();
      for (const auto& b : downstream_buffers_) {
        coalesced_.append(static_cast<const char*>(b.data()), b.size());
      }
      coalesced_buffer_ = asio::const_buffer(coalesced_.data(), coalesced_.size());
      return BufferSpan(&coalesced_buffer_, &coalesced_buffer_ + 1);
    }
  }
  return BufferSpan(downstream_buffers_);
}

template <class Stream>
BufferSpan Http1Connection<Stream>::coalesceUpstream(const std::vector<asio::const_buffer>& buffers) {
  if (buffers.size() > 1 && asio::buffer_size(buffers) <= kCoalesceLimit) {
    upstream_coalesced_.clear();
    for (const auto& b : buffers) {
      upstream_coalesced_.append(static_cast<const char*>(b.data()), b.size());
    }
    upstream_coalesced_buffer_ =
        asio::const_buffer(upstream_coalesced_.data(), upstream_coalesced_.size());
    return BufferSpan(&upstream_coalesced_buffer_, &upstream_coalesced_buffer_ + 1);
  }
  return BufferSpan(buffers);
}

template <class Stream>
void Http1Connection<Stream>::setConnectFailureReply(boost::system::error_code ec) {
  ex_.host->connect_failures.fetch_add(1, std::memory_order_relaxed);
  setOutcome(upstream::RequestOutcome::LocalConnectFailure);
  if (expired_ == Expiry::Connect) {
    details_.assign(kResetBeforeHeaders);
    details_ += "connection timeout";
    setReply(503, details_, false);
  } else if (expired_ != Expiry::None) {
    setTimeoutReply();
  } else {
    details_.assign(kResetBeforeHeaders);
    details_ += "connection failure, transport failure reason: ";
    details_ += ec.message();
    setReply(503, details_, false);
  }
}

template <class Stream>
void Http1Connection<Stream>::startResponse(const http::ResponseHeaders& head) {
  ex_.status = head.status;
  setOutcome(head.status < 500 ? upstream::RequestOutcome::Success
             : (head.status >= 502 && head.status <= 504)
                 ? upstream::RequestOutcome::UpstreamGateway
                 : upstream::RequestOutcome::Upstream5xx);
  if (draining_) {
    ex_.keep_alive = false;
  }
  out_.clear();
  framing_ = buildResponseHead(head, parser_.head(), *ctx_.route, ex_.head_request,
                               ex_.keep_alive, request_id_, nominated_, out_);
  downstream_buffers_.emplace_back(out_.data(), out_.size());
  ex_.response_started = true;
}

template <class Stream>
std::optional<Step> Http1Connection<Stream>::interruption(const PumpState& pump) {
  if (client_gone_) {
    return Step::Abort;  // not the upstream's fault: no outcome for outlier detection
  }
  if (expired_ != Expiry::None) {
    if (!ex_.response_started && expired_ == Expiry::Route) {
      setOutcome(upstream::RequestOutcome::LocalTimeout);
    }
    if (ex_.response_started) {
      return Step::Abort;
    }
    setTimeoutReply();
    return Step::Reply;
  }
  if (pump.done && (pump.downstream_failed || pump.bad_request_status != 0)) {
    // The client's request body broke off or was malformed mid-stream.
    if (pump.bad_request_status != 0 && !ex_.response_started) {
      setReply(pump.bad_request_status, "malformed request body", true);
      return Step::Reply;
    }
    return Step::Abort;
  }
  return std::nullopt;
}

template <class Stream>
Step Http1Connection<Stream>::onUpstreamBytes(UpstreamConnection& conn,
                                              boost::system::error_code ec, size_t n,
                                              const PumpState& pump, bool may_retry) {
  downstream_buffers_.clear();
  pending_consume_ = 0;
  if (!ec && n > 0) {
    conn.buffer.commit(n);
    touchActivity();
    response_pieces_.clear();
    const http::http1::ParseEvents ev = conn.parser.execute(conn.buffer.readable(), response_pieces_);
    if (ev.error_status != 0) {
      setOutcome(upstream::RequestOutcome::LocalReset);
      if (ex_.response_started) {
        return Step::Abort;
      }
      details_.assign(kResetBeforeHeaders);
      details_ += "protocol error";
      setReply(502, details_, !requestSettled(pump));
      return Step::Reply;
    }
    if (ev.headers_complete) {
      startResponse(conn.parser.head());
    }
    ex_.bytes_out += totalSize(response_pieces_);
    appendBody(downstream_buffers_, response_pieces_, framing_ == OutFraming::Chunked,
               response_chunk_line_, ev.message_complete, &conn.parser.head().trailers,
               response_last_chunk_);
    pending_consume_ = ev.consumed;
    if (ev.message_complete) {
      return downstream_buffers_.empty() ? Step::Finish : Step::WriteAndFinish;
    }
    return downstream_buffers_.empty() ? Step::ReadMore : Step::Write;
  }

  // The read failed: a timer, the body pump, the client's hang-up, or the upstream ended it.
  if (const std::optional<Step> stop = interruption(pump)) {
    return *stop;
  }
  if ((ec == asio::error::eof || n == 0) && conn.parser.headersComplete() &&
      conn.parser.finish()) {
    // A close-delimited body ended with the connection: complete.
    conn.parser.head().keep_alive = false;
    response_pieces_.clear();
    appendBody(downstream_buffers_, response_pieces_, framing_ == OutFraming::Chunked,
               response_chunk_line_, true, nullptr, response_last_chunk_);
    return downstream_buffers_.empty() ? Step::Finish : Step::WriteAndFinish;
  }
  if (!conn.parser.started() && may_retry) {
    return Step::Retry;  // a pooled connection the origin had closed
  }
  if (ex_.response_started) {
    return Step::Abort;  // the upstream went away mid-body: the client must see an abort
  }
  setOutcome(upstream::RequestOutcome::LocalReset);
  details_.assign(kResetBeforeHeaders);
  details_ += ec == asio::error::connection_reset ? "connection reset" : "connection termination";
  setReply(503, details_, !requestSettled(pump));
  return Step::Reply;
}

template <class Stream>
awaitable<bool> Http1Connection<Stream>::proxyRequest() {
  if (!prepareForward()) {
    co_return co_await sendReply();
  }
  if (ex_.endpoint->http2) {
    co_return co_await proxyViaH2();
  }
  const http::RequestHeaders& request = parser_.head();
  const bool whole_request_in_hand = parser_.messageComplete();
  const bool request_chunked = request.framing == http::BodyFraming::Chunked;

  // The client waits for our go-ahead before sending the body (RFC 9110 §10.1.1); the proxy
  // answers it itself once the request is going upstream, as Envoy does.
  if (request.expect_continue && !whole_request_in_hand &&
      !(request.version_major == 1 && request.version_minor == 0)) {
    auto [ec, n] = co_await asio::async_write(*stream_, asio::buffer(kContinue), kUse);
    if (ec) {
      co_return false;
    }
  }

  PumpState pump;
  UpstreamConnectionPtr conn;
  Step step = Step::Reply;
  bool retried = false;
  for (;;) {
    conn = ex_.pool->takeIdle();
    const bool reused = conn != nullptr;
    if (!conn) {
      conn = std::make_unique<UpstreamConnection>(worker_.io());
      upstream_ = conn.get();
      connect_deadline_ = SteadyClock::now() + kConnectTimeout;
      updateDeadline();
      auto [ec] = co_await conn->socket.async_connect(ex_.endpoint->address, kUse);
      connect_deadline_ = kNoDeadline;
      updateDeadline();
      if (ec) {
        setConnectFailureReply(ec);
        step = Step::Reply;
        break;
      }
      boost::system::error_code ignored;
      conn->socket.set_option(tcp::no_delay(true), ignored);
      if (ex_.endpoint->tls) {
        // TLS to the upstream (spec §4.4), still under the connect deadline.
        const tls::ClientContext& context = *ctx_.route->cluster.tls_context;
        conn->tls_context = ctx_.route->cluster.tls_context;
        conn->tls = std::make_unique<ssl::stream<tcp::socket&>>(conn->socket, context.sslContext());
        context.prepare(conn->tls->native_handle(), ex_.endpoint->tls_server_name);
        connect_deadline_ = SteadyClock::now() + kConnectTimeout;
        updateDeadline();
        auto [hec] = co_await conn->tls->async_handshake(ssl::stream_base::client, kUse);
        connect_deadline_ = kNoDeadline;
        updateDeadline();
        if (hec) {
          ex_.host->connect_failures.fetch_add(1, std::memory_order_relaxed);
          setOutcome(upstream::RequestOutcome::LocalConnectFailure);
          if (expired_ != Expiry::None) {
            setTimeoutReply();
          } else {
            details_.assign(kResetBeforeHeaders);
            details_ += "connection failure, transport failure reason: TLS error: ";
            details_ += hec.message();
            setReply(503, details_, false);
          }
          step = Step::Reply;
          break;
        }
      }
    }
    upstream_ = conn.get();
    ++conn->requests;
    const bool may_retry = reused && !retried && whole_request_in_hand;
    touchActivity();

    // The head and whatever body arrived with it, in one write.
    upstream_start_ = SteadyClock::now();
    upstream_buffers_.clear();
    upstream_buffers_.emplace_back(upstream_head_.data(), upstream_head_.size());
    appendBody(upstream_buffers_, request_pieces_, request_chunked, request_chunk_line_,
               whole_request_in_hand, &request.trailers, request_last_chunk_);
    boost::system::error_code wec;
    if (conn->tls) {
      auto [e, n] = co_await asio::async_write(*conn->tls, coalesceUpstream(upstream_buffers_), kUse);
      wec = e;
    } else {
      auto [e, n] = co_await asio::async_write(conn->socket, BufferSpan(upstream_buffers_), kUse);
      wec = e;
    }
    if (wec) {
      if (expired_ != Expiry::None) {
        setTimeoutReply();
        step = Step::Reply;
        break;
      }
      if (may_retry) {
        boost::system::error_code ignored;
        conn->socket.close(ignored);
        retried = true;
        continue;
      }
      details_.assign(kResetBeforeHeaders);
      details_ += "connection termination";
      setReply(503, details_, true);
      setOutcome(upstream::RequestOutcome::LocalReset);
      step = Step::Reply;
      break;
    }
    if (!whole_request_in_hand) {
      pump = PumpState{};
      pump.running = true;
      asio::co_spawn(worker_.io(), pumpRequestBody(conn.get(), &pump), asio::detached);
    } else {
      // Responses that come quickly never arm the watch (it costs a wait, a cancel and a
      // wake-up per request); slower ones get it once the deadline scan passes this.
      watch_deadline_ = upstream_start_ + kClientWatchDelay;
      updateDeadline();
    }

    conn->parser.reset(ex_.head_request);
    framing_ = OutFraming::None;
    for (;;) {
      boost::system::error_code rec;
      size_t n = 0;
      if (conn->tls) {
        auto [e, k] = co_await conn->tls->async_read_some(
            asio::buffer(conn->buffer.writePointer(), conn->buffer.writable()), kUse);
        rec = e;
        n = k;
      } else {
        auto [e, k] = co_await conn->socket.async_read_some(
            asio::buffer(conn->buffer.writePointer(), conn->buffer.writable()), kUse);
        rec = e;
        n = k;
      }
      step = onUpstreamBytes(*conn, rec, n, pump, may_retry);
      if (step == Step::Write || step == Step::WriteAndFinish) {
        auto [dec, dn] = co_await asio::async_write(*stream_, downstreamWriteBuffers(), kUse);
        if (dec) {
          step = Step::Abort;  // the client went away or a timer fired
          break;
        }
        touchActivity();
        conn->buffer.consume(pending_consume_);
        if (step == Step::WriteAndFinish) {
          step = Step::Finish;
          break;
        }
      } else if (step == Step::ReadMore) {
        conn->buffer.consume(pending_consume_);
      } else {
        if (step == Step::Finish) {
          conn->buffer.consume(pending_consume_);
        }
        break;
      }
    }
    if (step == Step::Retry) {
      boost::system::error_code ignored;
      conn->socket.close(ignored);
      retried = true;
      continue;
    }
    break;
  }

  // Settle the request body before answering or reusing anything.
  disarmClientWatch();
  co_await stopPump(conn.get(), pump);
  recordOutcome();
  ex_.bytes_in += pump_bytes_in_;
  upstream_ = nullptr;
  const bool request_fully_sent = whole_request_in_hand || pump.complete;
  const bool upstream_reusable = step == Step::Finish && request_fully_sent &&
                                 conn->parser.head().keep_alive && conn->buffer.empty() &&
                                 expired_ == Expiry::None;
  if (upstream_reusable) {
    ex_.pool->putIdle(std::move(conn), SteadyClock::now());
  } else if (conn) {
    boost::system::error_code ignored;
    conn->socket.close(ignored);
  }
  if (step == Step::Reply) {
    co_return co_await sendReply();
  }
  if (step != Step::Finish) {
    // Abort: close without completing the message — a chunked body lacks its last chunk, a
    // content-length body is short; never a truncated body that looks complete.
    ex_.keep_alive = false;
    finishExchange();
    co_return false;
  }
  if (!request_fully_sent || !parser_.messageComplete()) {
    ex_.keep_alive = false;  // unread request bytes: the connection cannot be reused
  }
  finishExchange();
  if (ex_.keep_alive && !draining_) {
    co_return true;
  }
  if (needsLinger()) {
    co_await lingerClose();
  }
  co_return false;
}

template <class Stream>
awaitable<void> Http1Connection<Stream>::pumpRequestBody(UpstreamConnection* upstream,
                                                         PumpState* state) {
  const bool chunked = parser_.head().framing == http::BodyFraming::Chunked;
  pump_bytes_in_ = 0;
  try {
    while (!parser_.messageComplete()) {
      auto [ec, n] = co_await stream_->async_read_some(
          asio::buffer(in_.writePointer(), in_.writable()), kUse);
      if (ec || n == 0) {
        state->downstream_failed = true;
        break;
      }
      in_.commit(n);
      touchActivity();
      request_pieces_.clear();
      const http::http1::ParseEvents ev = parser_.execute(in_.readable(), request_pieces_);
      if (ev.error_status != 0) {
        state->bad_request_status = ev.error_status;
        in_.clear();
        break;
      }
      pump_bytes_in_ += totalSize(request_pieces_);
      pump_buffers_.clear();
      appendBody(pump_buffers_, request_pieces_, chunked, request_chunk_line_,
                 ev.message_complete, &parser_.head().trailers, request_last_chunk_);
      if (!pump_buffers_.empty()) {
        boost::system::error_code wec;
        if (upstream->tls) {
          auto [e, wn] = co_await asio::async_write(*upstream->tls, BufferSpan(pump_buffers_), kUse);
          wec = e;
        } else {
          auto [e, wn] = co_await asio::async_write(upstream->socket, BufferSpan(pump_buffers_), kUse);
          wec = e;
        }
        if (wec) {
          // The upstream stopped reading (it may already have answered, e.g. 413): stop
          // sending and let the response reader finish.
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
awaitable<void> Http1Connection<Stream>::stopPump(UpstreamConnection* upstream,
                                                  PumpState& pump) {
  if (!pump.running || pump.done) {
    co_return;
  }
  // Interrupt its pending read from the client or write to the upstream, then wait for it.
  boost::system::error_code ignored;
  socket().cancel(ignored);
  if (upstream != nullptr) {
    upstream->socket.cancel(ignored);
  }
  while (!pump.done) {
    pump_signal_.expires_at(SteadyTime::max());
    auto [ec] = co_await pump_signal_.async_wait(kUse);
    (void)ec;
  }
}

// ------------------------------------------------------------------------- h2c upstreams

template <class Stream>
awaitable<void> Http1Connection<Stream>::waitH2(asio::steady_timer& timer) {
  timer.expires_at(SteadyTime::max());
  auto [ec] = co_await timer.async_wait(kUse);
  (void)ec;
}

template <class Stream>
bool Http1Connection<Stream>::submitH2(bool whole_request_in_hand) {
  H2Exchange& x = *h2_;
  // The HTTP/1.1 head built for this request carries every rule (path rewrite, Host,
  // forwarding and policy headers); HTTP/2 takes it as pseudo-headers plus lower-case fields
  // without the connection-specific ones (RFC 9113 §8.2.2, §8.3.1).
  h2_head_.assign(upstream_head_);
  h2_headers_.clear();
  std::string_view head(h2_head_);
  const size_t line_end = head.find(kCrlf);
  const std::string_view request_line = head.substr(0, line_end);
  const size_t sp1 = request_line.find(' ');
  const size_t sp2 = request_line.rfind(' ');
  h2_headers_.emplace_back(":method", request_line.substr(0, sp1));
  h2_headers_.emplace_back(":scheme", "http");
  h2_headers_.emplace_back(":authority", std::string_view());
  h2_headers_.emplace_back(":path", request_line.substr(sp1 + 1, sp2 - sp1 - 1));
  size_t pos = line_end + kCrlf.size();
  while (pos < head.size()) {
    const size_t end = head.find(kCrlf, pos);
    if (end == std::string_view::npos || end == pos) {
      break;
    }
    const size_t colon = head.find(':', pos);
    char* name = h2_head_.data() + pos;
    const size_t name_size = colon - pos;
    for (size_t i = 0; i < name_size; ++i) {
      name[i] = strings::toLowerAscii(name[i]);
    }
    const std::string_view n(name, name_size);
    std::string_view v = head.substr(colon + 1, end - colon - 1);
    while (!v.empty() && v.front() == ' ') {
      v.remove_prefix(1);
    }
    pos = end + kCrlf.size();
    if (n == "host") {
      h2_headers_[2].second = v;
    } else if (n != "transfer-encoding" && n != "connection" && n != "keep-alive" &&
               n != "proxy-connection" && n != "upgrade") {
      h2_headers_.emplace_back(n, v);
    }
  }
  const http::RequestHeaders& request = parser_.head();
  const bool has_body = request.framing == http::BodyFraming::Chunked ||
                        (request.framing == http::BodyFraming::ContentLength &&
                         request.content_length > 0);
  if (whole_request_in_hand) {
    x.tx.assign(h2_body_);
    x.tx_eof = true;
    x.trailers = &request.trailers;
  }
  x.stream_id = x.conn->session().submitRequest(h2_headers_, has_body, &x);
  if (x.stream_id <= 0) {
    x.stream_id = 0;
    setOutcome(upstream::RequestOutcome::LocalReset);
    details_.assign(kResetBeforeHeaders);
    details_ += "connection termination";
    setReply(503, details_, !whole_request_in_hand);
    return false;
  }
  upstream_start_ = SteadyClock::now();
  touchActivity();
  x.conn->flush();
  return true;
}

template <class Stream>
Step Http1Connection<Stream>::onH2Event(const PumpState& pump) {
  H2Exchange& x = *h2_;
  downstream_buffers_.clear();
  pending_consume_ = 0;
  if (const std::optional<Step> stop = interruption(pump)) {
    return *stop;
  }
  if (x.head_ready && !ex_.response_started) {
    startResponse(x.pending_head);
  }
  if (ex_.response_started && (!x.rx.empty() || x.response_done)) {
    x.rx_writing.swap(x.rx);
    x.rx.clear();
    pending_consume_ = x.rx_writing.size();
    if (ex_.head_request) {
      x.rx_writing.clear();  // a HEAD response has no body, whatever the upstream sends
    }
    response_pieces_.clear();
    response_pieces_.emplace_back(x.rx_writing);
    ex_.bytes_out += x.rx_writing.size();
    appendBody(downstream_buffers_, response_pieces_, framing_ == OutFraming::Chunked,
               response_chunk_line_, x.response_done, &x.pending_head.trailers,
               response_last_chunk_);
  }
  if (x.response_done) {
    return downstream_buffers_.empty() ? Step::Finish : Step::WriteAndFinish;
  }
  if (x.closed) {
    // The stream ended without a complete response (dataplane-semantics §4.3).
    setOutcome(upstream::RequestOutcome::LocalReset);
    if (ex_.response_started) {
      return Step::Abort;
    }
    if (x.close_code == http::http2::kRefusedStream && h2_may_retry_ && !x.protocol_error) {
      return Step::Retry;
    }
    details_.assign(kResetBeforeHeaders);
    if (x.protocol_error) {
      details_ += "protocol error";
      setReply(502, details_, !requestSettled(pump));
      return Step::Reply;
    }
    details_ += x.close_code == http::http2::kConnectionLost ? "connection termination"
                : x.close_code == http::http2::kRefusedStream ? "remote refused stream reset"
                                                         : "remote reset";
    setReply(503, details_, !requestSettled(pump));
    return Step::Reply;
  }
  return downstream_buffers_.empty() ? Step::ReadMore : Step::Write;
}

template <class Stream>
void Http1Connection<Stream>::releaseH2() {
  H2Exchange& x = *h2_;
  h2_active_ = false;
  h2_connecting_ = nullptr;
  if (!x.conn) {
    return;
  }
  if (x.stream_id > 0) {
    http::http2::ClientCodec& session = x.conn->session();
    session.consume(x.stream_id, x.unconsumed);  // what we will never pass on
    if (x.closed) {
      session.detach(x.stream_id);
    } else {
      session.resetStream(x.stream_id, http::http2::kCancel);
    }
    x.conn->flush();
  }
  x.conn->removeWaiter(&x);
  x.conn->release(SteadyClock::now());
  x.reset();
}

template <class Stream>
awaitable<bool> Http1Connection<Stream>::proxyViaH2() {
  using upstream::pool::H2Connection;
  const http::RequestHeaders& request = parser_.head();
  const bool whole_request_in_hand = parser_.messageComplete();
  if (request.expect_continue && !whole_request_in_hand &&
      !(request.version_major == 1 && request.version_minor == 0)) {
    auto [ec, n] = co_await asio::async_write(*stream_, asio::buffer(kContinue), kUse);
    if (ec) {
      co_return false;
    }
  }
  if (!h2_) {
    h2_ = std::make_unique<H2Exchange>(worker_.io());
  }
  H2Exchange& x = *h2_;
  h2_body_.clear();
  if (whole_request_in_hand) {
    for (std::string_view piece : request_pieces_) {
      h2_body_.append(piece);
    }
  }

  PumpState pump;
  Step step = Step::Reply;
  for (int attempt = 0;; ++attempt) {
    x.reset();
    h2_active_ = true;
    // A refused stream was never processed (RFC 9113 §8.7): one retry, when nothing of the
    // request is lost.
    h2_may_retry_ = attempt == 0 && whole_request_in_hand;
    x.conn = ex_.pool->h2Connection(worker_.io());
    x.conn->acquire();
    step = Step::Reply;
    bool ok = true;
    if (x.conn->state() == H2Connection::State::New) {
      // This request connects it; requests arriving meanwhile wait for it (below).
      x.conn->beginConnect();
      h2_connecting_ = x.conn.get();
      connect_deadline_ = SteadyClock::now() + kConnectTimeout;
      updateDeadline();
      auto [ec] = co_await x.conn->socket().async_connect(ex_.endpoint->address, kUse);
      connect_deadline_ = kNoDeadline;
      updateDeadline();
      h2_connecting_ = nullptr;
      if (ec) {
        x.conn->fail();
        setConnectFailureReply(ec);
        ok = false;
      } else {
        boost::system::error_code ignored;
        x.conn->socket().set_option(tcp::no_delay(true), ignored);
        x.conn->ready();
      }
    } else if (x.conn->state() == H2Connection::State::Connecting) {
      x.conn->addWaiter(&x);
      while (x.conn->state() == H2Connection::State::Connecting && expired_ == Expiry::None &&
             !client_gone_) {
        co_await waitH2(x.signal);
      }
      x.conn->removeWaiter(&x);
    }
    if (ok && expired_ != Expiry::None) {
      setTimeoutReply();
      ok = false;
    }
    if (ok && x.conn->state() != H2Connection::State::Ready) {
      // Another request's connect failed, or the connection died meanwhile.
      setOutcome(upstream::RequestOutcome::LocalConnectFailure);
      details_.assign(kResetBeforeHeaders);
      details_ += "connection failure";
      setReply(503, details_, false);
      ok = false;
    }
    if (ok) {
      ok = submitH2(whole_request_in_hand);
    }
    if (ok) {
      if (!whole_request_in_hand && attempt == 0) {
        pump.running = true;
        asio::co_spawn(worker_.io(), pumpH2Body(&pump), asio::detached);
      } else if (whole_request_in_hand && attempt == 0) {
        // A client that hangs up must not hold one of the connection's stream slots until the
        // response or the route timeout: the shared client watch (as for HTTP/1 upstreams).
        watch_deadline_ = upstream_start_ + kClientWatchDelay;
        updateDeadline();
      }
      for (;;) {
        step = onH2Event(pump);
        if (step == Step::ReadMore) {
          co_await waitH2(x.signal);
          continue;
        }
        if (step == Step::Write || step == Step::WriteAndFinish) {
          auto [dec, dn] = co_await asio::async_write(*stream_, downstreamWriteBuffers(), kUse);
          if (dec) {
            step = Step::Abort;  // the client went away or a timer fired
            break;
          }
          touchActivity();
          if (x.conn && x.stream_id > 0) {
            x.conn->session().consume(x.stream_id, pending_consume_);
            x.unconsumed -= std::min(x.unconsumed, pending_consume_);
            x.conn->flush();
          }
          x.rx_writing.clear();
          if (step == Step::WriteAndFinish) {
            step = Step::Finish;
            break;
          }
          continue;
        }
        break;  // Finish, Abort, Reply, Retry
      }
    }
    if (step != Step::Retry) {
      break;
    }
    releaseH2();  // the refused stream; the next attempt may pick another connection
  }

  // Settle the request body pump and the client watch, then give the stream and the
  // connection back.
  disarmClientWatch();
  if (pump.running && !pump.done) {
    boost::system::error_code ignored;
    socket().cancel(ignored);
    x.body_signal.cancel();
    while (!pump.done) {
      pump_signal_.expires_at(SteadyTime::max());
      auto [ec] = co_await pump_signal_.async_wait(kUse);
      (void)ec;
    }
  }
  recordOutcome();
  ex_.bytes_in += pump_bytes_in_;
  releaseH2();
  if (step == Step::Reply) {
    co_return co_await sendReply();
  }
  if (step != Step::Finish) {
    ex_.keep_alive = false;  // abort: never a truncated body that looks complete
    finishExchange();
    co_return false;
  }
  const bool request_fully_sent = whole_request_in_hand || pump.complete;
  if (!request_fully_sent || !parser_.messageComplete()) {
    ex_.keep_alive = false;  // unread request bytes: the connection cannot be reused
  }
  finishExchange();
  if (ex_.keep_alive && !draining_) {
    co_return true;
  }
  if (needsLinger()) {
    co_await lingerClose();
  }
  co_return false;
}

template <class Stream>
awaitable<void> Http1Connection<Stream>::pumpH2Body(PumpState* state) {
  H2Exchange& x = *h2_;
  pump_bytes_in_ = 0;
  try {
    while (!parser_.messageComplete()) {
      while (x.backlog() >= kH2BodyBacklog && !x.closed && !x.response_done &&
             expired_ == Expiry::None) {
        co_await waitH2(x.body_signal);
      }
      if (x.closed || x.response_done || expired_ != Expiry::None) {
        state->upstream_failed = true;  // the upstream answered or went away: stop sending
        break;
      }
      auto [ec, n] = co_await stream_->async_read_some(
          asio::buffer(in_.writePointer(), in_.writable()), kUse);
      if (ec || n == 0) {
        state->downstream_failed = !(x.closed || x.response_done);
        state->upstream_failed = !state->downstream_failed;
        break;
      }
      in_.commit(n);
      touchActivity();
      request_pieces_.clear();
      const http::http1::ParseEvents ev = parser_.execute(in_.readable(), request_pieces_);
      if (ev.error_status != 0) {
        state->bad_request_status = ev.error_status;
        in_.clear();
        break;
      }
      const size_t size = totalSize(request_pieces_);
      pump_bytes_in_ += size;
      for (std::string_view piece : request_pieces_) {
        x.tx.append(piece);
      }
      in_.consume(ev.consumed);  // bytes after the message (pipelining) stay buffered
      if (ev.message_complete) {
        x.tx_eof = true;
        x.trailers = &parser_.head().trailers;
      }
      if (x.conn && x.stream_id > 0 && (size > 0 || ev.message_complete)) {
        x.conn->session().resumeBody(x.stream_id);
        x.conn->flush();
      }
    }
    if (parser_.messageComplete() && state->bad_request_status == 0 &&
        !state->upstream_failed && !state->downstream_failed) {
      state->complete = true;
      startRouteTimer();
    }
  } catch (const std::exception& e) {
    VALLUM_LOG_ERROR("request body pump failed: {}", e.what());
    state->downstream_failed = true;
  }
  state->done = true;
  if (state->downstream_failed || state->bad_request_status != 0) {
    x.wake();  // the exchange cannot complete normally
  }
  pump_signal_.cancel();
}

template <class Stream>
awaitable<void> runConnection(Worker& worker, Stream stream, tcp::endpoint peer,
                              WorkerSnapshotSharedPtr hold) {
  // `hold` keeps the snapshot (and its TLS context, which `stream` references) alive for the
  // life of the connection.
  (void)hold;
  {
    // The object comes from (and goes back to) this worker's spare list; with none spare, a
    // new one. Heap-held so the coroutine frame stays small enough for asio's frame recycling.
    constexpr size_t kKind = StreamTraits<Stream>::kTls ? 1 : 0;
    std::unique_ptr<network::TrackedConnection> spare = worker.takeSpareConnection(kKind);
    std::unique_ptr<Http1Connection<Stream>> connection(
        spare ? static_cast<Http1Connection<Stream>*>(spare.release())
              : new Http1Connection<Stream>(worker));
    connection->attach(std::move(stream), peer);
    co_await connection->run();
    connection->detach();
    worker.keepSpareConnection(kKind, std::move(connection));
  }
  worker.connectionClosed();
}

}  // namespace

void startHttp1Connection(Worker& worker, tcp::socket socket) {
  boost::system::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) {
    return;  // already gone
  }
  socket.set_option(tcp::no_delay(true), ec);
  const Snapshot& snapshot = *worker.current()->snapshot;
  if (snapshot.tls) {
    ssl::stream<tcp::socket> stream(std::move(socket), snapshot.tls->sslContext());
    asio::co_spawn(worker.io(), runConnection(worker, std::move(stream), peer, worker.current()),
                   asio::detached);
  } else {
    asio::co_spawn(worker.io(), runConnection(worker, std::move(socket), peer, nullptr),
                   asio::detached);
  }
}

}  // namespace vallum::proxy
