#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "upstream/cluster.h"
#include "upstream/host_health.h"
#include "upstream/pool/connection_pool.h"

/// The forward step (Envoy's router filter; docs/architecture.md §2.1): pick an endpoint of the route's
/// cluster, get a connection from upstream/pool, send the composed request, stream the
/// response back with backpressure both ways, and turn upstream failures into 502/503/504 or a
/// reset (Envoy's local replies: 503 connect failure or reset, 504 timeout, 502 protocol error).
namespace vallum::proxy {

class ActiveStream;
struct H2Exchange;

/// What the response loop does after an event. Shared by the HTTP/1 and HTTP/2 upstream paths.
enum class Step : uint8_t {
  ReadMore,        ///< nothing to write yet
  Write,           ///< write what was encoded, then read more
  WriteAndFinish,  ///< write what was encoded; the response is complete
  Finish,          ///< the response is complete, nothing left to write
  Abort,           ///< the response started and cannot complete
  Retry,           ///< a reused connection was dead, or the stream was refused: try again
  Reply,           ///< answer with the stream's local reply (nothing went to the client yet)
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

/// One stream's upstream side. Owned by its ActiveStream and reused across its exchanges.
/// Worker thread only.
class Forwarder {
 public:
  Forwarder(ActiveStream& stream, boost::asio::io_context& io);
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  /// Picks the endpoint and completes ctx.upstream (Host, scheme). False: the stream's local
  /// reply is set (503: no healthy upstream, an unresolved name).
  bool prepare();
  /// Whether the exchange goes over HTTP/2 (runHttp2) rather than HTTP/1.1 (runHttp1):
  /// `h2c://` clusters, and `https://` ones whose endpoint chose h2 by ALPN last time; never
  /// an upgrade nor a route with RouteRuntime::upstream_http1_only (Pomerium forces HTTP/1.1
  /// for websockets).
  bool http2Endpoint() const;
  /// Forwards the stream's composed request (ctx.upstream) and streams the response back.
  /// Returns Finish (the response is complete), Reply (the stream's local reply is set, nothing
  /// went to the client yet) or Abort (the response broke off after its head).
  boost::asio::awaitable<Step> runHttp1();
  boost::asio::awaitable<Step> runHttp2();
  /// After a `101` to an allowed upgrade (HTTP/1.1 both sides): the client's connection and
  /// `conn` become a byte tunnel (network::runTunnel) until both sides ended, one failed, the
  /// route's tunnel idle timeout passed or a stream timer (max stream duration) fired. The bytes
  /// each side sent ahead (the upstream's after its 101, the client's after its request head)
  /// go first. Counts the bytes into the stream's facts. (forward_tunnel.cc)
  boost::asio::awaitable<void> runTunnel(upstream::pool::UpstreamConnection& conn);
  /// A CONNECT on a tcp+https route (Pomerium TCP routes; Envoy's terminating connect_config):
  /// opens a TCP connection to the picked `tcp://` endpoint — failure → the 503 of any connect
  /// failure — answers `200` (no framing fields, RFC 9110 §9.3.6) and tunnels. Returns Finish,
  /// or Reply when the connect failed. (forward_tunnel.cc)
  boost::asio::awaitable<Step> runConnect();
  /// A timer fired or the client went: ends the upstream's pending operations; run() then
  /// settles and returns.
  void interrupt();
  /// The endpoint the exchange went to (null before the pick).
  const upstream::Endpoint* endpoint() const { return endpoint_; }
  /// When the request went upstream (latency metric; unset before).
  std::chrono::steady_clock::time_point upstreamStart() const { return upstream_start_; }
  /// Drops per-exchange state; returns the bytes of grown buffers freed (`keep`: kept below).
  size_t release(size_t keep);

 private:
  boost::asio::awaitable<void> pumpHttp1Body(upstream::pool::UpstreamConnection* upstream,
                                             PumpState* state);
  boost::asio::awaitable<void> pumpHttp2Body(PumpState* state);
  boost::asio::awaitable<void> stopPump(PumpState& pump);
  /// Whether the client waits for `100 Continue` before sending the body (RFC 9110 §10.1.1)
  /// and has not had it: the proxy answers it itself once the request goes upstream, as Envoy
  /// does (once, even when the exchange changes codec).
  bool continueWanted() const;
  /// Sends `100 Continue`; false when the client went away.
  boost::asio::awaitable<bool> answerContinue();
  /// The pumps' next step: waits until body bytes are queued or the request is complete. True
  /// with either; false when the request body broke off (`bad_request_status` set for a
  /// malformed body, `downstream_failed` when the client went).
  boost::asio::awaitable<bool> awaitBody(PumpState& state);
  /// The pumps' last step, however their loop ended: `complete` when the whole request went
  /// upstream (the route timer starts then), and `done`. True when the exchange cannot
  /// complete normally and the response side must be woken.
  bool settlePump(PumpState& state);
  /// details_ set to Envoy's "…reset before headers. reset reason: " (router local reply), for
  /// the caller to append the reason to.
  std::string& resetBeforeHeadersDetails();
  Step onUpstreamBytes(upstream::pool::UpstreamConnection& conn, boost::system::error_code ec,
                       size_t n, const PumpState& pump, bool may_retry);
  Step onH2Event(const PumpState& pump);
  bool submitH2(bool whole_request_in_hand);
  void releaseH2();
  /// Whether the exchange was cut short while waiting on the upstream — the client hung up, a
  /// timer fired, the request body broke off — and the step that follows; nullopt otherwise.
  std::optional<Step> interruption(const PumpState& pump);
  /// The 503 for a failed upstream connect (or the timeout reply when a timer ended it), with
  /// Envoy's details (reset reason "connection failure"); counts the connect failure for the host.
  void setConnectFailureReply(bool tls, boost::system::error_code ec);
  /// The client's response head from the upstream's; records status and outlier outcome.
  void startResponse(const http::ResponseHeaders& head, bool end_stream = false);
  void setOutcome(upstream::RequestOutcome outcome) {
    outcome_ = outcome;
    outcome_known_ = true;
  }
  void recordOutcome();
  /// Whether the request is fully in and sent.
  bool requestSettled(const PumpState& pump) const;
  /// The request hash for RING_HASH / MAGLEV (Envoy RouteAction.HashPolicy).
  std::optional<uint64_t> requestHash() const;

  ActiveStream& stream_;
  boost::asio::io_context& io_;
  const upstream::Endpoint* endpoint_ = nullptr;
  upstream::pool::EndpointPool* pool_ = nullptr;
  /// The chosen host's shared state while a request to it is in flight (active_requests).
  upstream::HostHealth* host_ = nullptr;
  upstream::RequestOutcome outcome_ = upstream::RequestOutcome::Success;
  bool outcome_known_ = false;
  std::chrono::steady_clock::time_point upstream_start_{};
  uint64_t pump_bytes_in_ = 0;
  boost::asio::steady_timer pump_signal_;
  upstream::pool::UpstreamConnection* upstream_ = nullptr;  ///< for cancellation
  size_t pending_consume_ = 0;  ///< upstream bytes to drop once their response part is written
  std::vector<std::string_view> pieces_;
  std::vector<std::string_view> out_;
  std::vector<boost::asio::const_buffer> write_buffers_;
  std::string coalesced_;
  std::vector<std::string_view> pump_out_;
  std::vector<boost::asio::const_buffer> pump_buffers_;
  std::string pump_coalesced_;
  std::string details_;
  /// h2c upstreams: the stream state (allocated on the first such request), whether an
  /// exchange is using it, and the connection being connected (for cancellation).
  std::unique_ptr<H2Exchange> h2_;
  bool h2_active_ = false;
  upstream::pool::H2Connection* h2_connecting_ = nullptr;
  std::vector<std::pair<std::string_view, std::string_view>> h2_headers_;
  std::vector<std::string> h2_names_;
  bool h2_may_retry_ = false;
  /// This exchange went from one codec to the other after an ALPN answer (at most once).
  bool switched_codec_ = false;
};

}  // namespace vallum::proxy
