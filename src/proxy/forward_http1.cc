// The forward step over an HTTP/1.1 upstream connection (`http://` and `https://` endpoints):
// one request at a time per connection, kept alive in the worker's pool between requests.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "common/logging.h"
#include "proxy/active_stream.h"
#include "proxy/forward.h"
#include "proxy/local_reply.h"
#include "upstream/pool/connector.h"

namespace vallum::proxy {

namespace {

namespace asio = boost::asio;
using upstream::pool::UpstreamConnection;
using upstream::pool::UpstreamConnectionPtr;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

/// TLS writes up to this size are coalesced into one buffer (one record, one syscall).
constexpr size_t kCoalesceLimit = 64 * 1024;

/// A view of a buffer vector that asio can copy for free (write operations keep a copy of
/// their buffer sequence; copying a std::vector allocated on every write).
struct BufferSpan {
  const asio::const_buffer* first;
  const asio::const_buffer* last;
  const asio::const_buffer* begin() const { return first; }
  const asio::const_buffer* end() const { return last; }
};

/// Writes what the upstream codec holds: gathered (plain) or coalesced into one TLS record.
asio::awaitable<boost::system::error_code> writeUpstream(UpstreamConnection& conn,
                                                         std::vector<std::string_view>& pieces,
                                                         std::vector<asio::const_buffer>& buffers,
                                                         std::string& coalesced) {
  pieces.clear();
  conn.codec.takeOutput(pieces);
  buffers.clear();
  size_t total = 0;
  for (std::string_view p : pieces) {
    buffers.emplace_back(p.data(), p.size());
    total += p.size();
  }
  if (conn.tls) {
    if (buffers.size() > 1 && total <= kCoalesceLimit) {
      coalesced.clear();
      for (std::string_view p : pieces) {
        coalesced.append(p);
      }
      auto [ec, n] = co_await asio::async_write(*conn.tls, asio::buffer(coalesced), kUse);
      co_return ec;
    }
    auto [ec, n] = co_await asio::async_write(
        *conn.tls, BufferSpan{buffers.data(), buffers.data() + buffers.size()}, kUse);
    co_return ec;
  }
  auto [ec, n] = co_await asio::async_write(
      conn.socket, BufferSpan{buffers.data(), buffers.data() + buffers.size()}, kUse);
  co_return ec;
}

}  // namespace

Step Forwarder::onUpstreamBytes(UpstreamConnection& conn, boost::system::error_code ec, size_t n,
                                const PumpState& pump, bool may_retry) {
  pending_consume_ = 0;
  if (!ec && n > 0) {
    conn.buffer.commit(n);
    stream_.touchActivity();
    pieces_.clear();
    const http::http1::ParseEvents ev = conn.codec.dispatch(conn.buffer.readable(), pieces_);
    if (ev.error_status != 0) {
      setOutcome(upstream::RequestOutcome::LocalReset);
      if (stream_.facts().response_started) {
        return Step::Abort;
      }
      resetBeforeHeadersDetails() += "protocol error";
      stream_.setReply(502, details_, !requestSettled(pump));
      return Step::Reply;
    }
    bool wrote = false;
    if (ev.headers_complete) {
      startResponse(conn.codec.response());
      wrote = true;
    }
    for (std::string_view piece : pieces_) {
      stream_.sendData(piece, false);
      wrote = true;
    }
    pending_consume_ = ev.consumed;
    if (ev.message_complete) {
      const http::HeaderMap& trailers = conn.codec.response().trailers;
      if (trailers.fieldCount() > 0) {
        stream_.sendTrailers(trailers);
      } else {
        stream_.sendData({}, true);
      }
      return Step::WriteAndFinish;
    }
    return wrote ? Step::Write : Step::ReadMore;
  }

  // The read failed: a timer, the body pump, the client's hang-up, or the upstream ended it.
  if (const std::optional<Step> stop = interruption(pump)) {
    return *stop;
  }
  if ((ec == asio::error::eof || n == 0) && conn.codec.parser().headersComplete() &&
      conn.codec.finish()) {
    // A close-delimited body ended with the connection: complete.
    conn.codec.response().keep_alive = false;
    stream_.sendData({}, true);
    return Step::WriteAndFinish;
  }
  if (!conn.codec.parser().started() && may_retry) {
    return Step::Retry;  // a pooled connection the origin had closed
  }
  if (stream_.facts().response_started) {
    return Step::Abort;  // the upstream went away mid-body: the client must see an abort
  }
  setOutcome(upstream::RequestOutcome::LocalReset);
  resetBeforeHeadersDetails() +=
      ec == asio::error::connection_reset ? "connection reset" : "connection termination";
  stream_.setReply(503, details_, !requestSettled(pump));
  return Step::Reply;
}

asio::awaitable<Step> Forwarder::runHttp1() {
  if (stream_.ctx().connect) {
    co_return co_await runConnect();  // tcp+https: a TCP connection, not an HTTP exchange
  }
  const http::RequestHeaders& request = stream_.request();
  const http::OutgoingRequest& out = stream_.ctx().upstream;
  const bool whole_request_in_hand = stream_.requestComplete();
  // An allowed upgrade goes over a connection of its own (it never returns to the pool) and
  // HTTP/1.1 whatever the endpoint offers (Pomerium forces HTTP/1.1 for websockets).
  const bool upgrade = !stream_.ctx().upgrade.empty();
  const bool offer_h2 = endpoint_->alpn_h2 && !upgrade && !stream_.ctx().route->upstream_http1_only;

  // gRPC needs HTTP/2 end to end: an exchange that would go over HTTP/1.1 is refused (503,
  // grpc-status UNAVAILABLE by the local reply).
  constexpr std::string_view kGrpcNeedsHttp2 = "upstream does not speak HTTP/2, which gRPC needs";
  // (gRPC calls are POSTs: other requests skip the header lookup.)
  const bool grpc = !upgrade && request.method == "POST" &&
                    isGrpcContentType(request.headers.get("content-type"));
  if (grpc && !offer_h2) {
    stream_.setReply(503, kGrpcNeedsHttp2, !whole_request_in_hand);
    co_return Step::Reply;
  }
  if (continueWanted()) {
    const bool sent = co_await answerContinue();
    if (!sent) {
      co_return Step::Abort;
    }
  }

  PumpState pump;
  UpstreamConnectionPtr conn;
  Step step = Step::Reply;
  bool retried = false;
  size_t body_sent = 0;
  for (;;) {
    conn = upgrade ? nullptr : pool_->takeIdle();
    const bool reused = conn != nullptr;
    if (!conn) {
      conn = std::make_unique<UpstreamConnection>(io_);
      upstream_ = conn.get();
      const RouteRuntime& route = *stream_.ctx().route;
      upstream::pool::ConnectTarget target;
      target.address = endpoint_->address;
      target.unix_path = endpoint_->unix_path;
      if (endpoint_->tls) {
        // TLS to the upstream (Pomerium route tls_* options), still under the connect deadline.
        conn->tls_context = route.cluster.tls_context;
        target.tls = route.cluster.tls_context.get();
        target.server_name = endpoint_->tls_server_name;
        if (offer_h2) {
          target.alpn = upstream::pool::kAlpnH2Http11;
        }
      }
      stream_.setConnectDeadline(true);
      const std::optional<upstream::pool::ConnectFailure> failure =
          co_await upstream::pool::connectTransport(conn->socket, conn->tls, target);
      stream_.setConnectDeadline(false);
      if (failure) {
        setConnectFailureReply(failure->stage == upstream::pool::ConnectFailure::Stage::Tls,
                               failure->ec);
        step = Step::Reply;
        break;
      }
      if (offer_h2) {
        const bool h2 = upstream::pool::alpnChoseH2(*conn->tls);
        pool_->noteAlpn(h2);
        if (h2 && !switched_codec_) {
          // The endpoint speaks HTTP/2: the connection joins the pool's HTTP/2 ones and this
          // request goes there (nothing of it was sent yet).
          switched_codec_ = true;
          upstream_ = nullptr;
          pool_->adoptH2(io_, std::move(conn));
          co_return co_await runHttp2();
        }
        if (h2) {  // it flipped back within one exchange: give up on this request
          resetBeforeHeadersDetails() +=
              "connection failure, transport failure reason: ALPN changed";
          stream_.setReply(503, details_, false);
          step = Step::Reply;
          break;
        }
      }
    }
    if (grpc) {
      upstream_ = nullptr;
      pool_->putIdle(std::move(conn), SteadyClock::now());  // unused: nothing was written
      stream_.setReply(503, kGrpcNeedsHttp2, !whole_request_in_hand);
      step = Step::Reply;
      break;
    }
    upstream_ = conn.get();
    ++conn->requests;
    const bool may_retry = reused && !retried && whole_request_in_hand;
    stream_.touchActivity();

    // The head and whatever body arrived with it, in one write.
    upstream_start_ = SteadyClock::now();
    conn->codec.reset(stream_.headRequest(), upgrade);
    const std::string_view body = stream_.bodyQueued();
    const bool no_body = out.framing == http::BodyFraming::None;
    const bool trailers = whole_request_in_hand && request.trailers.fieldCount() > 0;
    conn->codec.encodeHeaders(out, no_body);
    if (!no_body) {
      if (!body.empty() || (whole_request_in_hand && !trailers)) {
        conn->codec.encodeData(body, whole_request_in_hand && !trailers);
      }
      if (trailers) {
        conn->codec.encodeTrailers(request.trailers);
      }
    }
    body_sent = body.size();
    const boost::system::error_code wec =
        co_await writeUpstream(*conn, out_, write_buffers_, coalesced_);
    if (wec) {
      if (stream_.expired() != Expiry::None) {
        stream_.setTimeoutReply();
        step = Step::Reply;
        break;
      }
      if (may_retry) {
        boost::system::error_code ignored;
        conn->socket.close(ignored);
        retried = true;
        continue;
      }
      resetBeforeHeadersDetails() += "connection termination";
      stream_.setReply(503, details_, true);
      setOutcome(upstream::RequestOutcome::LocalReset);
      step = Step::Reply;
      break;
    }
    if (!whole_request_in_hand) {
      stream_.consumeBody(body_sent);
      body_sent = 0;
      pump = PumpState{};
      pump.running = true;
      asio::co_spawn(io_, pumpHttp1Body(conn.get(), &pump), asio::detached);
    } else if (!upgrade) {
      // Responses that come quickly never arm the watch (it costs a wait, a cancel and a
      // wake-up per request); slower ones get it once the deadline scan passes this. (An
      // upgrading client may send its first frames before the 101: nothing watches it.)
      stream_.watchClient();
    }

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
        auto [fec, fn] = co_await stream_.flush(kUse);
        if (fec) {
          step = Step::Abort;  // the client went away or a timer fired
          break;
        }
        stream_.touchActivity();
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

  if (upgrade && step == Step::Finish && conn->codec.response().status == 101) {
    co_await runTunnel(*conn);  // the connection is not reused: the 101 said keep_alive false
  }

  // Settle the request body before answering or reusing anything.
  stream_.stopWatchingClient();
  if (pump.running && !pump.done) {
    co_await stopPump(pump);
  }
  recordOutcome();
  if (body_sent > 0) {
    stream_.consumeBody(body_sent);
  }
  upstream_ = nullptr;
  const bool request_fully_sent = whole_request_in_hand || pump.complete;
  const bool upstream_reusable = step == Step::Finish && request_fully_sent &&
                                 conn->codec.response().keep_alive && conn->buffer.empty() &&
                                 stream_.expired() == Expiry::None;
  if (upstream_reusable) {
    pool_->putIdle(std::move(conn), SteadyClock::now());
  } else if (conn) {
    boost::system::error_code ignored;
    conn->socket.close(ignored);
  }
  co_return step;
}

asio::awaitable<void> Forwarder::pumpHttp1Body(UpstreamConnection* upstream, PumpState* state) {
  const http::RequestHeaders& request = stream_.request();
  try {
    for (;;) {
      const bool have_body = co_await awaitBody(*state);
      if (!have_body) {
        break;
      }
      const std::string_view body = stream_.bodyQueued();
      const bool end = stream_.requestComplete();
      const bool trailers = end && request.trailers.fieldCount() > 0;
      if (!body.empty() || (end && !trailers)) {
        upstream->codec.encodeData(body, end && !trailers);
      }
      if (trailers) {
        upstream->codec.encodeTrailers(request.trailers);
      }
      if (upstream->codec.hasOutput()) {
        const boost::system::error_code wec =
            co_await writeUpstream(*upstream, pump_out_, pump_buffers_, pump_coalesced_);
        if (wec) {
          // The upstream stopped reading (it may already have answered, e.g. 413): stop
          // sending and let the response reader finish.
          state->upstream_failed = true;
          break;
        }
      }
      stream_.consumeBody(body.size());
      if (end) {
        break;
      }
    }
  } catch (const std::exception& e) {
    VALLUM_LOG_ERROR("request body pump failed: {}", e.what());
    state->downstream_failed = true;
  }
  if (settlePump(*state)) {
    boost::system::error_code ignored;
    upstream->socket.cancel(ignored);  // wake the response reader
  }
  pump_signal_.cancel();
}

}  // namespace vallum::proxy
