#include "proxy/active_stream.h"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/logging.h"
#include "common/random.h"
#include "proxy/access_log.h"
#include "proxy/connection_manager.h"
#include "proxy/response_headers.h"
#include "proxy/sign_in_state.h"
#include "proxy/stages/stage_chain.h"

namespace vallum::proxy {

namespace {

namespace asio = boost::asio;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

/// How long a response may take before Vallum starts watching an HTTP/1 client for a hang-up
/// (the deadline scan runs every 100 ms, so the watch starts 100-200 ms into the wait).
constexpr auto kClientWatchDelay = std::chrono::milliseconds(100);
/// HTTP/2: response bytes a stream may queue in the codec before the forward step waits (the
/// client's window drains them); the upstream is read no faster than that.
constexpr size_t kResponseWatermark = 64 * 1024;

}  // namespace

ActiveStream::ActiveStream(ConnectionManager& manager, Worker& worker)
    : manager_(manager),
      worker_(worker),
      forwarder_(*this, worker.io()),
      signal_(worker.io(), SteadyTime::max()) {}

ActiveStream::~ActiveStream() = default;

std::string_view ActiveStream::clientIp() const { return manager_.peerIp(); }

void ActiveStream::begin(http::StreamId id) {
  id_ = id;
  facts_ = ExchangeFacts{};
  facts_.snapshot = manager_.currentSnapshot();
  facts_.start = SteadyClock::now();
  facts_.wall_start = std::chrono::system_clock::now();
  const config::Options& options = facts_.snapshot->snapshot->options;
  request_deadline_ =
      options.timeout_read.count() > 0 ? facts_.start + options.timeout_read : kNoDeadline;
  max_stream_deadline_ =
      options.timeout_write.count() > 0 ? facts_.start + options.timeout_write : kNoDeadline;
  connect_deadline_ = route_deadline_ = activity_deadline_ = watch_deadline_ = kNoDeadline;
  noteDeadline(std::min(request_deadline_, max_stream_deadline_));
  expired_ = Expiry::None;
  next_ = Next::None;
  head_request_ = reset_ = client_gone_ = aborted_ = body_wait_stopped_ = false;
  body_.clear();
  body_off_ = 0;
  body_end_ = false;
  body_bad_status_ = 0;
  request_id_.clear();
  ctx_.reset(facts_.snapshot->snapshot.get(), manager_.tls(), nullptr);
  ctx_.tls_connection = manager_.transport().sslHandle();
  if (ctx_.sign_in) {
    ctx_.sign_in->decided = false;  // the stream object serves another request now
    ctx_.sign_in->signed_in = false;
    ctx_.sign_in->refresh_tried = false;
    ctx_.sign_in->refreshed = false;
  }
}

void ActiveStream::onHeaders(http::RequestHeaders& request, bool end_stream) {
  ctx_.request = &request;
  head_request_ = request.method == "HEAD";
  body_end_ = end_stream;
  appendRequestId(request_id_, worker_.random());
  ctx_.request_id = request_id_;
  ctx_.client_ip = manager_.peerIp();
  ctx_.worker = &worker_;
  nextFromStages(runStages(ctx_));
}

void ActiveStream::nextFromStages(StageStatus status) {
  switch (status) {
    case StageStatus::Continue:
      next_ = Next::Forward;
      break;
    case StageStatus::LocalReply:
      next_ = Next::Reply;
      break;
    case StageStatus::Pending:
      next_ = Next::Pending;
      break;
  }
}

asio::awaitable<void> ActiveStream::runPendingStages() {
  while (next_ == Next::Pending) {
    StreamContext::PendingStep step = ctx_.pending;
    ctx_.pending = nullptr;
    if (step == nullptr) {
      setReply(500, "internal error: a stage is pending without I/O", false);
      next_ = Next::Reply;
      co_return;
    }
    co_await step(ctx_);
    if (reset_) {
      next_ = Next::Reply;  // the client went; nothing will be written
      co_return;
    }
    nextFromStages(runStages(ctx_));
  }
}

void ActiveStream::onData(std::string_view data, bool end_stream) {
  facts_.bytes_in += data.size();
  if ((next_ == Next::Forward || next_ == Next::Pending) && !reset_) {
    body_.append(data);
  } else if (manager_.http2()) {
    // Not forwarded (a local reply, a reset): the window reopens at once so the connection's
    // other streams are not held up.
    manager_.codec().consumeRequestData(id_, data.size());
  }
  if (end_stream) {
    body_end_ = true;
  }
  wake();
}

void ActiveStream::onTrailers() {
  body_end_ = true;
  wake();
}

void ActiveStream::onRequestError(int status, std::string_view reason) {
  if (next_ == Next::Forward) {
    body_bad_status_ = status;  // the body broke off while it was being forwarded
    wake();
    return;
  }
  setReply(status, reason, /*close=*/true);
  next_ = Next::Reply;
}

void ActiveStream::onReset(http::StreamResetReason reason) {
  (void)reason;
  reset_ = true;
  client_gone_ = true;
  interrupt();
}

bool ActiveStream::manager_http2() const { return manager_.http2(); }
network::DownstreamConnection& ActiveStream::transport() { return manager_.transport(); }
network::BufferSpan ActiveStream::takeWriteBuffers() { return manager_.takeWriteBuffers(); }

bool ActiveStream::startForward() {
  // A stream the client reset before it started (HTTP/2 rapid reset: HEADERS then RST_STREAM
  // in one read) costs no upstream connection.
  if (next_ == Next::Forward && !reset_ && forwarder_.prepare()) {
    return true;
  }
  next_ = Next::Reply;
  return false;
}

void ActiveStream::endForward(Step step) {
  if (step == Step::Reply) {
    next_ = Next::Reply;
  } else if (step != Step::Finish) {
    // Abort: never a truncated body that looks complete (HTTP/2 resets the stream, HTTP/1
    // closes the connection without finishing the message).
    abort();
  }
}

asio::awaitable<void> ActiveStream::respond() {
  if (next_ == Next::Pending) {
    co_await runPendingStages();
  }
  if (startForward()) {
    Step step = Step::Reply;
    if (forwarder_.http2Endpoint()) {
      step = co_await forwarder_.runHttp2();
    } else {
      step = co_await forwarder_.runHttp1();
    }
    endForward(step);
  }
  if (encodeLocalReply()) {
    auto [ec, n] = co_await flush(kUse);
    (void)ec;
  }
}

void ActiveStream::setReply(int status, std::string_view details, bool close) {
  ctx_.reply.clear();
  ctx_.reply.status = status;
  ctx_.reply.details = details;
  ctx_.reply.close = close;
}

void ActiveStream::setTimeoutReply() {
  setReply(timeoutStatus(),
           expired_ == Expiry::Route     ? std::string_view("upstream request timeout")
           : expired_ == Expiry::Connect ? std::string_view("upstream connect timeout")
                                         : std::string_view("stream timeout"),
           /*close=*/true);
}

int ActiveStream::timeoutStatus() const {
  switch (expired_) {
    case Expiry::Route:
      return 504;
    case Expiry::Connect:
      return 503;
    default:
      // Vallum's rule (docs/decisions.md, Timeouts; Envoy's maybeRequestTimeoutCode): 504 once
      // the whole request was received, otherwise 408.
      return body_end_ && body_bad_status_ == 0 ? 504 : 408;
  }
}

bool ActiveStream::encodeLocalReply() {
  if (next_ != Next::Reply || reset_) {
    return false;
  }
  next_ = Next::None;
  if (request_id_.empty()) {
    appendRequestId(request_id_, worker_.random());
  }
  if (ctx_.sign_in && ctx_.sign_in->refreshed) {
    for (const std::string& cookie : ctx_.sign_in->set_cookies) {
      ctx_.reply.headers.add("Set-Cookie", cookie);  // the refreshed session
    }
  }
  const LocalReply& reply = ctx_.reply;
  if (!reply.log_reason.empty()) {
    VALLUM_LOG_INFO("{} for {}{}: {}", reply.status, ctx_.host, ctx_.path, reply.log_reason);
  }
  LocalReplyContext context;
  context.format = negotiateReplyFormat(
      ctx_.request != nullptr ? ctx_.request->headers.get(http::HeaderId::Accept) : std::nullopt);
  context.grpc =
      ctx_.request != nullptr && isGrpcContentType(ctx_.request->headers.get("content-type"));
  context.request_id = request_id_;
  context.date = worker_.dates().now();
  // set_response_headers: the route's for route replies (denials, redirects, direct responses,
  // upstream failures), else the global set (Pomerium `set_response_headers`).
  context.response_headers = ctx_.route != nullptr ? &ctx_.route->response_headers
                                                   : &facts_.snapshot->snapshot->response_headers;
  reply_body_.clear();
  composeLocalReply(reply, context, response_, reply_body_);
  facts_.status = reply.status;
  facts_.bytes_out =
      (head_request_ || reply.status == 204 || reply.status == 304) ? 0 : reply_body_.size();
  expired_ = Expiry::None;
  request_deadline_ = connect_deadline_ = route_deadline_ = watch_deadline_ = kNoDeadline;
  max_stream_deadline_ = kNoDeadline;
  touchActivity();  // a deadline for writing the reply itself
  http::ServerCodec& codec = manager_.codec();
  codec.encodeHeaders(id_, response_, reply_body_.empty());
  if (!reply_body_.empty()) {
    codec.encodeData(id_, reply_body_, true);
  }
  return true;
}

void ActiveStream::startResponse(const http::ResponseHeaders& head, bool end_stream) {
  composeResponse(head, *ctx_.route, request_id_, ctx_.nominated, response_);
  if (ctx_.sign_in && ctx_.sign_in->refreshed) {
    for (const std::string& cookie : ctx_.sign_in->set_cookies) {
      response_.headers.add("Set-Cookie", cookie);  // the refreshed session
    }
  }
  manager_.codec().encodeHeaders(id_, response_, end_stream);
  facts_.status = head.status;
  facts_.response_started = true;
}

void ActiveStream::startTunnelResponse() {
  response_.clear();
  response_.status = 200;
  manager_.codec().encodeHeaders(id_, response_, false);
  facts_.status = 200;
  facts_.response_started = true;
}

void ActiveStream::sendData(std::string_view data, bool end_stream) {
  facts_.bytes_out += head_request_ ? 0 : data.size();
  manager_.codec().encodeData(id_, data, end_stream);
}

void ActiveStream::sendTrailers(const http::HeaderMap& trailers) {
  manager_.codec().encodeTrailers(id_, trailers);
}

void ActiveStream::sendContinue() { manager_.codec().encodeContinue(id_); }

asio::awaitable<bool> ActiveStream::waitOutputRoom() {
  manager_.wakeWriter();
  while (!reset_ && expired_ == Expiry::None && manager_.pendingOutput(id_) > kResponseWatermark) {
    signal_.expires_at(SteadyTime::max());
    auto [ec] = co_await signal_.async_wait(kUse);
    (void)ec;
  }
  co_return !reset_ && expired_ == Expiry::None;
}

void ActiveStream::abort() {
  aborted_ = true;
  if (!reset_) {
    manager_.codec().resetStream(id_);
  }
}

void ActiveStream::consumeBody(size_t bytes) {
  body_off_ += bytes;
  if (body_off_ == body_.size()) {
    body_.clear();
    body_off_ = 0;
  }
  if (manager_.http2()) {
    manager_.codec().consumeRequestData(id_, bytes);
  }
}

asio::awaitable<bool> ActiveStream::waitBody() {
  const size_t had = body_.size() - body_off_;
  while (!reset_ && expired_ == Expiry::None && body_bad_status_ == 0 && !body_end_ &&
         !body_wait_stopped_ && body_.size() - body_off_ == had) {
    if (!manager_.http2()) {
      const bool read = co_await manager_.readMore();
      if (!read) {
        break;
      }
      continue;
    }
    signal_.expires_at(SteadyTime::max());
    auto [ec] = co_await signal_.async_wait(kUse);
    (void)ec;
  }
  co_return !reset_ && expired_ == Expiry::None && body_bad_status_ == 0 && !body_wait_stopped_ &&
      (body_end_ || body_.size() - body_off_ > had);
}

void ActiveStream::endResponseBody() {
  sendData({}, true);
  if (manager_.http2()) {
    manager_.wakeWriter();
  }
}

void ActiveStream::finish() {
  const http::RequestHeaders* request = ctx_.request;
  AccessLogEntry entry;
  entry.time = facts_.wall_start;
  entry.method = request != nullptr ? std::string_view(request->method) : std::string_view();
  entry.authority = ctx_.authority;
  entry.path = request != nullptr ? std::string_view(request->target) : std::string_view();
  entry.status = facts_.status;
  const upstream::Endpoint* endpoint = forwarder_.endpoint();
  entry.upstream =
      endpoint != nullptr ? std::string_view(endpoint->address_text) : std::string_view();
  entry.duration_ms =
      std::chrono::duration<double, std::milli>(SteadyClock::now() - facts_.start).count();
  entry.bytes_in = facts_.bytes_in;
  entry.bytes_out = facts_.bytes_out;
  entry.route = ctx_.route != nullptr ? std::string_view(ctx_.route->log_name) : std::string_view();
  entry.request_id = request_id_;
  if (const SignInState* st = ctx_.sign_in.get(); st != nullptr && st->decided) {
    entry.decision = st->decision.allowed() ? "allow" : "deny";
    entry.reasons = st->decision.reasons().bits();
    if (st->signed_in) {
      entry.user = st->session.email.empty() ? std::string_view(st->session.user)
                                             : std::string_view(st->session.email);
    }
  }
  worker_.accessLog().append(entry);
  if (ctx_.route != nullptr && !ctx_.route->metrics.empty()) {
    std::optional<std::chrono::nanoseconds> latency;
    if (forwarder_.upstreamStart() != SteadyTime{} && facts_.response_started) {
      latency = SteadyClock::now() - forwarder_.upstreamStart();
    }
    ctx_.route->metrics[worker_.index()]->record(facts_.status, facts_.bytes_in, facts_.bytes_out,
                                                 latency);
  }
  forwarder_.release(0);
  worker_.registry().requestTick();
  request_deadline_ = connect_deadline_ = route_deadline_ = kNoDeadline;
  activity_deadline_ = max_stream_deadline_ = watch_deadline_ = kNoDeadline;
  manager_.codec().streamDone(id_);
}

size_t ActiveStream::releaseMemory(size_t keep) {
  size_t freed = forwarder_.release(keep);
  for (std::string* s :
       {&ctx_.host, &ctx_.path_scratch, &ctx_.merged_path, &ctx_.upstream_host_scratch,
        &ctx_.reply_text, &ctx_.upstream.path, &request_id_, &reply_body_, &details_, &body_}) {
    if (s->capacity() > keep) {
      freed += s->capacity();
      std::string().swap(*s);
    }
  }
  facts_.snapshot.reset();
  ctx_.snapshot = nullptr;
  ctx_.request = nullptr;
  ctx_.route = nullptr;
  return freed;
}

// ------------------------------------------------------------------------------ deadlines

void ActiveStream::noteDeadline(SteadyTime t) { manager_.noteDeadline(t); }

void ActiveStream::startRouteTimer() {
  route_timeout_ = ctx_.route != nullptr ? ctx_.route->timeout : config::Duration{};
  route_deadline_ = route_timeout_.count() > 0 ? SteadyClock::now() + route_timeout_ : kNoDeadline;
  request_deadline_ = kNoDeadline;
  noteDeadline(route_deadline_);
}

void ActiveStream::setConnectDeadline(bool on) {
  connect_deadline_ = on ? SteadyClock::now() + kConnectTimeout : kNoDeadline;
  noteDeadline(connect_deadline_);
}

void ActiveStream::touchActivity() {
  // Moving a deadline later needs no registry update: the scan finds it and re-arms. The
  // route's stream idle timeout (idle_timeout; 0 off), Envoy's default before routing.
  const config::Duration idle =
      ctx_.route != nullptr ? ctx_.route->stream_idle_timeout : config::Duration(kStreamIdleTimeout);
  activity_deadline_ = idle.count() > 0 ? SteadyClock::now() + idle : kNoDeadline;
  noteDeadline(activity_deadline_);
}

void ActiveStream::enterTunnel() {
  request_deadline_ = connect_deadline_ = route_deadline_ = kNoDeadline;
  activity_deadline_ = watch_deadline_ = kNoDeadline;
}

std::string_view ActiveStream::unreadInput() const { return manager_.unreadInput(); }
void ActiveStream::dropUnreadInput() { manager_.dropUnreadInput(); }

void ActiveStream::watchClient() {
  if (!manager_.http2()) {
    watch_deadline_ = SteadyClock::now() + kClientWatchDelay;
    noteDeadline(watch_deadline_);
  }
}

void ActiveStream::stopWatchingClient() {
  watch_deadline_ = kNoDeadline;
  if (!manager_.http2()) {
    manager_.disarmClientWatch();
  }
}

SteadyTime ActiveStream::checkDeadlines(SteadyTime now) {
  if (watch_deadline_ <= now) {
    watch_deadline_ = kNoDeadline;
    manager_.armClientWatch();  // the upstream is taking a while: start watching the client
  }
  Expiry expiry = Expiry::None;
  if (connect_deadline_ <= now) {
    expiry = Expiry::Connect;
  } else if (route_deadline_ <= now) {
    expiry = Expiry::Route;
  } else if (request_deadline_ <= now) {
    expiry = Expiry::Request;
  } else if (max_stream_deadline_ <= now) {
    expiry = Expiry::MaxStream;
  } else if (activity_deadline_ <= now) {
    expiry = Expiry::StreamIdle;
  }
  if (expiry != Expiry::None) {
    if (expired_ == Expiry::None) {
      expired_ = expiry;
    }
    request_deadline_ = connect_deadline_ = route_deadline_ = kNoDeadline;
    activity_deadline_ = max_stream_deadline_ = watch_deadline_ = kNoDeadline;
    interrupt();
    return kNoDeadline;
  }
  return std::min({request_deadline_, connect_deadline_, route_deadline_, activity_deadline_,
                   max_stream_deadline_, watch_deadline_});
}

void ActiveStream::interrupt() {
  forwarder_.interrupt();
  wake();
  if (!manager_.http2()) {
    manager_.cancelTransport();  // HTTP/1: the socket's pending operations are this stream's
  }
}

void ActiveStream::interruptBodyRead() {
  wake();
  if (!manager_.http2()) {
    manager_.cancelTransport();
  }
}

void ActiveStream::clientHungUp() {
  client_gone_ = true;
  forwarder_.interrupt();
}

}  // namespace vallum::proxy
