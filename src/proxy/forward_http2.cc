// The forward step over a multiplexed HTTP/2 upstream connection (`h2c://` clusters): one
// stream per request on a connection the worker's pool shares between its requests.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/logging.h"
#include "common/strings.h"
#include "proxy/active_stream.h"
#include "proxy/forward.h"
#include "proxy/forward_h2_exchange.h"
#include "upstream/pool/connector.h"

namespace vallum::proxy {

namespace {

namespace asio = boost::asio;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

/// Fields HTTP/2 forbids (RFC 9113 §8.2.2); the composed request holds none, this is a guard.
bool isConnectionSpecific(std::string_view lower) {
  return lower == "transfer-encoding" || lower == "connection" || lower == "keep-alive" ||
         lower == "proxy-connection" || lower == "upgrade";
}

}  // namespace

bool Forwarder::submitH2(bool whole_request_in_hand) {
  H2Exchange& x = *h2_;
  const http::OutgoingRequest& out = stream_.ctx().upstream;
  // HTTP/2 takes the composed request as pseudo-headers plus lower-case fields (RFC 9113
  // §8.2.1, §8.3.1).
  h2_headers_.clear();
  h2_names_.resize(out.headers.size() + 1);
  h2_headers_.emplace_back(":method", out.method);
  // The scheme of the hop (RFC 9113 §8.3.1): `https` over TLS, `http` for h2c.
  h2_headers_.emplace_back(":scheme", endpoint_->tls ? "https" : "http");
  h2_headers_.emplace_back(":authority", out.authority);
  h2_headers_.emplace_back(":path", out.path);
  for (size_t i = 0; i < out.headers.size(); ++i) {
    std::string& name = h2_names_[i];
    name.assign(out.headers.name(i));
    strings::lowerAsciiInPlace(name);
    if (!isConnectionSpecific(name)) {
      h2_headers_.emplace_back(name, out.headers.value(i));
    }
  }
  std::string& length = h2_names_.back();
  if (out.framing == http::BodyFraming::ContentLength || out.announce_empty_body) {
    length.clear();
    strings::appendDecimal(length, out.content_length);
    h2_headers_.emplace_back("content-length", length);
  }
  const bool has_body = out.framing == http::BodyFraming::Chunked ||
                        (out.framing == http::BodyFraming::ContentLength && out.content_length > 0);
  if (whole_request_in_hand) {
    x.tx.assign(stream_.bodyQueued());
    x.tx_eof = true;
    x.trailers = &stream_.request().trailers;
  }
  x.stream_id = x.conn->session().submitRequest(h2_headers_, has_body, &x);
  if (x.stream_id <= 0) {
    x.stream_id = 0;
    setOutcome(upstream::RequestOutcome::LocalReset);
    resetBeforeHeadersDetails() += "connection termination";
    stream_.setReply(503, details_, !whole_request_in_hand);
    return false;
  }
  upstream_start_ = SteadyClock::now();
  stream_.touchActivity();
  x.conn->flush();
  return true;
}

Step Forwarder::onH2Event(const PumpState& pump) {
  H2Exchange& x = *h2_;
  pending_consume_ = 0;
  if (const std::optional<Step> stop = interruption(pump)) {
    return *stop;
  }
  bool wrote = false;
  if (x.head_ready && !stream_.facts().response_started) {
    // A head that ended the stream (a gRPC trailers-only response) stays one HEADERS frame.
    const bool head_only =
        x.response_done && x.rx.empty() && x.pending_head.trailers.fieldCount() == 0;
    startResponse(x.pending_head, head_only);
    wrote = true;
    if (head_only) {
      return Step::WriteAndFinish;
    }
  }
  if (stream_.facts().response_started && (!x.rx.empty() || x.response_done)) {
    x.rx_writing.swap(x.rx);
    x.rx.clear();
    pending_consume_ = x.rx_writing.size();
    const http::HeaderMap& trailers = x.pending_head.trailers;
    const bool end_with_trailers = x.response_done && trailers.fieldCount() > 0;
    if (!x.rx_writing.empty() || (x.response_done && !end_with_trailers)) {
      stream_.sendData(x.rx_writing, x.response_done && !end_with_trailers);
    }
    if (end_with_trailers) {
      stream_.sendTrailers(trailers);
    }
    wrote = true;
  }
  if (x.response_done) {
    return Step::WriteAndFinish;
  }
  if (x.closed) {
    // The stream ended without a complete response (Envoy: 503 "remote reset" before the head).
    setOutcome(upstream::RequestOutcome::LocalReset);
    if (stream_.facts().response_started) {
      return Step::Abort;
    }
    if (x.close_code == http::http2::kRefusedStream && h2_may_retry_ && !x.protocol_error) {
      return Step::Retry;
    }
    resetBeforeHeadersDetails();
    if (x.protocol_error) {
      details_ += "protocol error";
      stream_.setReply(502, details_, !requestSettled(pump));
      return Step::Reply;
    }
    details_ += x.close_code == http::http2::kConnectionLost  ? "connection termination"
                : x.close_code == http::http2::kRefusedStream ? "remote refused stream reset"
                                                              : "remote reset";
    stream_.setReply(503, details_, !requestSettled(pump));
    return Step::Reply;
  }
  return wrote ? Step::Write : Step::ReadMore;
}

void Forwarder::releaseH2() {
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

asio::awaitable<Step> Forwarder::runHttp2() {
  using upstream::pool::H2Connection;
  const bool whole_request_in_hand = stream_.requestComplete();
  if (continueWanted()) {
    const bool sent = co_await answerContinue();
    if (!sent) {
      co_return Step::Abort;
    }
  }
  if (!h2_) {
    h2_ = std::make_unique<H2Exchange>(io_);
  }
  H2Exchange& x = *h2_;

  PumpState pump;
  Step step = Step::Reply;
  bool to_http1 = false;  // the endpoint's ALPN answer was http/1.1
  for (int attempt = 0;; ++attempt) {
    x.reset();
    h2_active_ = true;
    // A refused stream was never processed (RFC 9113 §8.7): one retry, when nothing of the
    // request is lost.
    h2_may_retry_ = attempt == 0 && whole_request_in_hand;
    x.conn = pool_->h2Connection(io_);
    x.conn->acquire();
    step = Step::Reply;
    bool ok = true;
    if (x.conn->state() == H2Connection::State::New) {
      // This request connects it; requests arriving meanwhile wait for it (below).
      x.conn->beginConnect();
      h2_connecting_ = x.conn.get();
      upstream::pool::UpstreamConnection& transport = x.conn->transport();
      upstream::pool::ConnectTarget target;
      target.address = endpoint_->address;
      target.unix_path = endpoint_->unix_path;
      if (endpoint_->tls) {
        transport.tls_context = stream_.ctx().route->cluster.tls_context;
        target.tls = transport.tls_context.get();
        target.server_name = endpoint_->tls_server_name;
        target.alpn = upstream::pool::kAlpnH2Http11;
      }
      stream_.setConnectDeadline(true);
      const std::optional<upstream::pool::ConnectFailure> failure =
          co_await upstream::pool::connectTransport(transport.socket, transport.tls, target);
      stream_.setConnectDeadline(false);
      h2_connecting_ = nullptr;
      if (failure) {
        x.conn->fail();
        setConnectFailureReply(failure->stage == upstream::pool::ConnectFailure::Stage::Tls,
                               failure->ec);
        ok = false;
      } else if (transport.tls && !upstream::pool::alpnChoseH2(*transport.tls)) {
        // The endpoint now answers http/1.1: this request (nothing of it sent) goes that way.
        pool_->noteAlpn(false);
        x.conn->fail();
        to_http1 = !switched_codec_;
        if (!to_http1) {
          resetBeforeHeadersDetails() +=
              "connection failure, transport failure reason: ALPN changed";
          stream_.setReply(503, details_, false);
        }
        ok = false;
      } else {
        x.conn->ready();
      }
    } else if (x.conn->state() == H2Connection::State::Connecting) {
      x.conn->addWaiter(&x);
      while (x.conn->state() == H2Connection::State::Connecting &&
             stream_.expired() == Expiry::None && !stream_.clientGone()) {
        x.signal.expires_at(SteadyTime::max());
        auto [ec] = co_await x.signal.async_wait(kUse);
        (void)ec;
      }
      x.conn->removeWaiter(&x);
    }
    if (ok && stream_.expired() != Expiry::None) {
      stream_.setTimeoutReply();
      ok = false;
    }
    if (ok && x.conn->state() != H2Connection::State::Ready) {
      // Another request's connect failed, or the connection died meanwhile.
      setOutcome(upstream::RequestOutcome::LocalConnectFailure);
      resetBeforeHeadersDetails() += "connection failure";
      stream_.setReply(503, details_, false);
      ok = false;
    }
    if (ok) {
      ok = submitH2(whole_request_in_hand);
    }
    if (ok) {
      if (!whole_request_in_hand && attempt == 0) {
        pump.running = true;
        asio::co_spawn(io_, pumpHttp2Body(&pump), asio::detached);
      } else if (whole_request_in_hand && attempt == 0) {
        // A client that hangs up must not hold one of the connection's stream slots until the
        // response or the route timeout: the client watch (as for HTTP/1 upstreams).
        stream_.watchClient();
      }
      for (;;) {
        step = onH2Event(pump);
        if (step == Step::ReadMore) {
          x.signal.expires_at(SteadyTime::max());
          auto [ec] = co_await x.signal.async_wait(kUse);
          (void)ec;
          continue;
        }
        if (step == Step::Write || step == Step::WriteAndFinish) {
          auto [fec, fn] = co_await stream_.flush(kUse);
          if (fec) {
            step = Step::Abort;  // the client went away or a timer fired
            break;
          }
          stream_.touchActivity();
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
  stream_.stopWatchingClient();
  if (pump.running && !pump.done) {
    co_await stopPump(pump);
  }
  recordOutcome();
  if (to_http1) {
    releaseH2();
    switched_codec_ = true;
    co_return co_await runHttp1();
  }
  if (whole_request_in_hand) {
    stream_.consumeBody(stream_.bodyQueued().size());
  }
  releaseH2();
  co_return step;
}

asio::awaitable<void> Forwarder::pumpHttp2Body(PumpState* state) {
  H2Exchange& x = *h2_;
  const http::RequestHeaders& request = stream_.request();
  try {
    for (;;) {
      while (x.backlog() >= kH2BodyBacklog && !x.closed && !x.response_done &&
             stream_.expired() == Expiry::None) {
        x.body_signal.expires_at(SteadyTime::max());
        auto [ec] = co_await x.body_signal.async_wait(kUse);
        (void)ec;
      }
      if (x.closed || x.response_done || stream_.expired() != Expiry::None) {
        state->upstream_failed = true;  // the upstream answered or went away: stop sending
        break;
      }
      const bool have_body = co_await awaitBody(*state);
      if (!have_body) {
        if (state->downstream_failed && (x.closed || x.response_done)) {
          state->downstream_failed = false;  // the upstream ended the stream first
          state->upstream_failed = true;
        }
        break;
      }
      const std::string_view body = stream_.bodyQueued();
      const bool end = stream_.requestComplete();
      x.tx.append(body);
      stream_.consumeBody(body.size());
      if (end) {
        x.tx_eof = true;
        x.trailers = &request.trailers;
      }
      if (x.conn && x.stream_id > 0) {
        x.conn->session().resumeBody(x.stream_id);
        x.conn->flush();
      }
      if (end) {
        break;
      }
    }
  } catch (const std::exception& e) {
    VALLUM_LOG_ERROR("request body pump failed: {}", e.what());
    state->downstream_failed = true;
  }
  if (settlePump(*state)) {
    x.wake();  // the exchange cannot complete normally
  }
  pump_signal_.cancel();
}

}  // namespace vallum::proxy
