#include "proxy/connection_manager.h"

#include <poll.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/logging.h"
#include "network/listener.h"

// Coroutine frames: asio recycles frames of up to 1020 bytes per thread and mallocs larger
// ones, and GCC keeps every local and every co_await temporary of a coroutine in its frame.
// So the per-request coroutines here keep their state in members, do their thinking in plain
// member functions, and have one co_await site per kind of operation. A co_await stands alone
// or initializes a variable: GCC 12 miscompiles it inside a condition (`if (!co_await f())`
// raised SIGILL here) or a `?:`.

namespace vallum::proxy {

namespace {

namespace asio = boost::asio;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

/// Downstream read buffer. Header bytes are copied into the HeaderMap as they are parsed, so
/// this bounds only how much is read per syscall, not the header size.
constexpr size_t kDownstreamBufferSize = 32 * 1024;
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
/// A buffer keeps its capacity across connections up to this; beyond, it is freed.
constexpr size_t kKeepCapacity = 16 * 1024;
/// TLS writes up to this size are coalesced into one buffer (one record, one syscall).
constexpr size_t kCoalesceLimit = 64 * 1024;
/// An HTTP/1 connection parks at once (not after kParkAfter) when the worker already holds
/// this many idle HTTP/1 managers.
constexpr size_t kEagerParkAbove = Worker::kMaxSpareConnections;

/// Where a parked HTTP/2 session's events would go: nowhere (it has no stream).
http::ServerCodecCallbacks& parkedSessionCallbacks() {
  struct Ignore final : http::ServerCodecCallbacks {
    void onRequestHeaders(http::StreamId, http::RequestHeaders&, bool) override {}
    void onRequestData(http::StreamId, std::string_view, bool) override {}
    void onRequestTrailers(http::StreamId) override {}
    void onRequestError(http::StreamId, int, std::string_view) override {}
    void onStreamReset(http::StreamId, http::StreamResetReason) override {}
  };
  static Ignore ignore;
  return ignore;
}

}  // namespace

ConnectionManager::ConnectionManager(Worker& worker)
    : worker_(worker),
      transport_(worker.io()),
      in_(kDownstreamBufferSize),
      h1_codec_(*this),
      h1_stream_(*this, worker),
      write_signal_(worker.io(), SteadyTime::max()) {}

ConnectionManager::~ConnectionManager() = default;

void ConnectionManager::attach(network::IdleConnection&& connection, bool resumed,
                               WorkerSnapshotSharedPtr hold) {
  hold_ = std::move(hold);
  const Snapshot& snapshot = *hold_->snapshot;
  resumed_ = resumed;
  tls_failed_ = false;
  if (resumed) {
    transport_.resume(std::move(connection.socket), std::move(connection.tls));
  } else {
    tls_failed_ = !transport_.attach(
        std::move(connection.socket),
        snapshot.tls != nullptr ? snapshot.tls->sslContext().native_handle() : nullptr);
  }
  peer_ = connection.peer;
  peer_ip_ = network::clientAddressString(peer_.address());
  park_wanted_ = parked_ = false;
  idle_deadline_ = park_at_ = kNoDeadline;
  in_.clear();
  phase_deadline_ = kNoDeadline;
  setDeadline(kNoDeadline);
  idle_ = draining_ = closed_ = phase_expired_ = writing_ = write_failed_ = false;
  running_streams_ = 0;
  write_in_flight_ = false;
  client_watch_armed_ = client_watch_pending_ = false;
  h1_codec_.reset();
  codec_ = &h1_codec_;
  http2_ = false;
  if (connection.session) {
    // A parked HTTP/2 connection: its session (HPACK tables, settings, windows) comes back.
    h2_codec_.reset(static_cast<http::http2::ServerCodec*>(connection.session.release()));
    h2_codec_->rebind(*this);
    codec_ = h2_codec_.get();
    http2_ = true;
    idle_deadline_ = connection.idle_deadline;
  }
  draining_ = worker_.draining();
}

network::IdleConnection ConnectionManager::takeIdle() {
  auto [socket, tls] = transport_.release();
  std::unique_ptr<http::ServerCodec> session;
  if (http2_) {
    // Parked, the session has no stream to report about (parkable()); should the park's
    // GOAWAY at drain make it call back anyway, nothing refers to this recycled manager.
    h2_codec_->rebind(parkedSessionCallbacks());
    session = std::move(h2_codec_);
    codec_ = &h1_codec_;
  }
  return network::IdleConnection{std::move(socket), std::move(tls), peer_, std::move(session),
                                 idle_deadline_};
}

void ConnectionManager::detach() {
  transport_.detach();
  size_t freed = h1_codec_.releaseMemory(kKeepCapacity) + h1_stream_.releaseMemory(kKeepCapacity);
  for (auto& stream : spare_streams_) {
    freed += stream->releaseMemory(kKeepCapacity);
  }
  h2_codec_.reset();
  codec_ = &h1_codec_;
  in_.clear();
  out_.clear();
  hold_.reset();
  worker_.noteMemoryFreed(freed);
}

const WorkerSnapshotSharedPtr& ConnectionManager::currentSnapshot() const {
  return worker_.current();
}

void ConnectionManager::setPhaseDeadline(SteadyTime t) {
  phase_deadline_ = t;
  noteDeadline(t);
}

asio::awaitable<void> ConnectionManager::run() {
  network::ConnectionRegistry::Registration registration(worker_.registry(), *this);
  try {
    const config::Options& options = hold_->snapshot->options;
    if (resumed_ && http2_) {
      co_await serveHttp2();  // the parked session goes on
    } else if (resumed_) {
      co_await serveHttp1();
    } else if (tls_failed_) {
      VALLUM_LOG_ERROR("connection from {}: cannot start TLS (out of memory?)", peer_ip_);
    } else if (transport_.tls()) {
      setPhaseDeadline(SteadyClock::now() + kHandshakeTimeout);
      const boost::system::error_code ec = co_await transport_.handshake();
      setPhaseDeadline(kNoDeadline);
      if (ec) {
        VALLUM_LOG_DEBUG("TLS handshake with {} failed: {}", peer_ip_, ec.message());
      } else {
        // codec_type http2 speaks HTTP/2 only (Envoy's HTTP2 codec; Pomerium: ALPN h2 only):
        // a client that did not negotiate h2 fails at the connection preface.
        http2_ = transport_.alpn() == "h2" || options.codec_type == config::CodecType::Http2;
      }
      if (!ec && http2_) {
        co_await serveHttp2();
      } else if (!ec) {
        co_await serveHttp1();
      }
    } else if (options.codec_type == config::CodecType::Http1) {
      co_await serveHttp1();
    } else if (options.codec_type == config::CodecType::Http2) {
      http2_ = true;
      co_await serveHttp2();
    } else {
      // Cleartext: HTTP/2 by prior knowledge when the client opens with the preface (RFC 9113
      // §3.3; Pomerium's codec_type auto), HTTP/1.1 otherwise.
      idle_ = true;
      setPhaseDeadline(options.timeout_idle.count() > 0 ? SteadyClock::now() + options.timeout_idle
                                                        : kNoDeadline);
      bool open = true;
      while (open && in_.size() < network::kHttp2Preface.size() &&
             network::kHttp2Preface.starts_with(in_.readable())) {
        char* at = in_.writePointer();
        auto [ec, n] = co_await transport_.asyncReadSome(asio::buffer(at, in_.writable()), kUse);
        open = !ec && n > 0;
        in_.commit(open ? n : 0);
      }
      idle_ = false;
      setPhaseDeadline(kNoDeadline);
      http2_ = open && in_.readable().starts_with(network::kHttp2Preface);
      if (http2_) {
        co_await serveHttp2();
      } else if (open) {
        co_await serveHttp1();
      }
    }
  } catch (const std::exception& e) {
    // Last-resort catch (docs/architecture.md §5): this connection only.
    VALLUM_LOG_ERROR("connection from {} failed: {}", peer_ip_, e.what());
  }
  closed_ = true;
  if (!parked_) {
    transport_.close();
  }
  write_signal_.cancel();
  // Stream coroutines, the writer and a cancelled client watch still queued refer to this
  // object: they finish before it is recycled or freed.
  while (client_watch_pending_ || running_streams_ > 0 || writing_) {
    co_await asio::post(worker_.io(), asio::use_awaitable);
  }
}

asio::awaitable<bool> ConnectionManager::readSome() {
  char* at = in_.writePointer();
  const size_t room = in_.writable();
  auto [ec, n] = co_await transport_.asyncReadSome(asio::buffer(at, room), kUse);
  if (ec || n == 0) {
    co_return false;
  }
  in_.commit(n);
  co_return true;
}

network::BufferSpan ConnectionManager::takeWriteBuffers() {
  out_.clear();
  codec_->takeOutput(out_);
  write_buffers_.clear();
  size_t total = 0;
  for (std::string_view p : out_) {
    write_buffers_.emplace_back(p.data(), p.size());
    total += p.size();
  }
  if (transport_.tls() && write_buffers_.size() > 1 && total <= kCoalesceLimit) {
    // One SSL_write per buffer would cost one TLS record and one syscall each: coalesce.
    coalesced_.clear();
    for (std::string_view p : out_) {
      coalesced_.append(p);
    }
    write_buffers_.clear();
    write_buffers_.emplace_back(coalesced_.data(), coalesced_.size());
  }
  return {write_buffers_.data(), write_buffers_.data() + write_buffers_.size()};
}

// ------------------------------------------------------------------------------ HTTP/1.1

asio::awaitable<void> ConnectionManager::serveHttp1() {
  codec_ = &h1_codec_;
  ActiveStream& stream = h1_stream_;
  for (;;) {
    if (in_.empty()) {
      if (draining_ || h1_codec_.wantsClose()) {
        break;
      }
      if (resumed_ || worker_.idleHttp1Managers() < kEagerParkAbove ||
          transport_.tlsPending()) {
        resumed_ = false;
      } else {
        // Many connections sit idle on this worker: park at once rather than hold a manager
        // for the parking delay (a burst of new connections that each make one request would
        // otherwise allocate a manager each and leave the heap fragmented when they park).
        parked_ = true;
        break;
      }
      enterIdle(worker_.current()->snapshot->options.timeout_idle);
      worker_.noteIdleHttp1Manager(+1);
      char* at = in_.writePointer();
      auto [ec, n] = co_await transport_.asyncReadSome(asio::buffer(at, in_.writable()), kUse);
      worker_.noteIdleHttp1Manager(-1);
      idle_ = false;
      setPhaseDeadline(kNoDeadline);
      if (park_wanted_) {
        park_wanted_ = false;
        if (ec == asio::error::operation_aborted && !draining_) {
          parked_ = true;  // runConnection hands the socket to the worker's IdlePark
          break;
        }
      }
      if (ec || n == 0) {
        break;  // the client closed, the idle timeout fired, or we are draining
      }
      in_.commit(n);
    }
    stream.begin(1);
    bool closed_mid_head = false;
    for (;;) {
      in_.consume(h1_codec_.dispatch(in_.readable()));
      if (stream.headersSeen()) {
        break;
      }
      const bool more = co_await readSome();
      if (!more) {
        if (stream.expired() == Expiry::None) {
          closed_mid_head = true;  // nobody to answer
        } else {
          stream.onRequestError(408, "request timeout");
        }
        break;
      }
    }
    if (closed_mid_head) {
      break;
    }
    // ActiveStream::respond(), inline: one coroutine frame fewer per request.
    if (stream.stagePending()) {
      co_await stream.runPendingStages();
    }
    if (stream.startForward()) {
      Step step = Step::Reply;
      if (stream.forwarder().http2Endpoint()) {
        step = co_await stream.forwarder().runHttp2();
      } else {
        step = co_await stream.forwarder().runHttp1();
      }
      stream.endForward(step);
    }
    if (stream.encodeLocalReply()) {
      auto [ec, n] = co_await stream.flush(kUse);
      (void)ec;
    }
    const bool linger = !h1_codec_.requestComplete() || !in_.empty() || stream.ctx().reply.close;
    stream.finish();
    if (h1_codec_.wantsClose() || draining_) {
      co_await closeConnection(linger);
      break;
    }
  }
}

asio::awaitable<bool> ConnectionManager::readMore() {
  const bool got = co_await readSome();
  if (!got) {
    co_return false;
  }
  in_.consume(h1_codec_.dispatch(in_.readable()));
  co_return true;
}

asio::awaitable<void> ConnectionManager::closeConnection(bool linger) {
  if (!linger) {
    co_return;  // after a complete request with nothing pending, simply close (as nginx)
  }
  // Half-close, then read and discard what the client still sends for a moment, so that the
  // response just written is not destroyed by a TCP reset (RFC 9112 §9.6).
  setPhaseDeadline(SteadyClock::now() + kLingerTimeout);
  in_.clear();
  char* at = in_.writePointer();
  co_await transport_.lingeringClose(asio::buffer(at, in_.writable()), 256 * 1024);
  in_.clear();
}

void ConnectionManager::enterIdle(config::Duration timeout_idle) {
  idle_ = true;
  const SteadyTime now = SteadyClock::now();
  idle_deadline_ = timeout_idle.count() > 0 ? now + timeout_idle : kNoDeadline;
  park_at_ = now + kParkAfter;
  setPhaseDeadline(std::min(idle_deadline_, park_at_));
}

// ------------------------------------------------------------------------------ codec events

void ConnectionManager::onRequestHeaders(http::StreamId id, http::RequestHeaders& headers,
                                         bool end_stream) {
  if (!http2_) {
    h1_stream_.onHeaders(headers, end_stream);
    return;
  }
  ActiveStream* stream = newStream(id);
  stream->onHeaders(headers, end_stream);
  ++running_streams_;
  asio::co_spawn(worker_.io(), runStream(stream), asio::detached);
}

void ConnectionManager::onRequestData(http::StreamId id, std::string_view data, bool end_stream) {
  if (ActiveStream* stream = findStream(id)) {
    stream->onData(data, end_stream);
  } else if (h2_codec_ != nullptr) {
    h2_codec_->consumeRequestData(id, data.size());
  }
}

void ConnectionManager::onRequestTrailers(http::StreamId id) {
  if (ActiveStream* stream = findStream(id)) {
    stream->onTrailers();
  }
}

void ConnectionManager::onRequestError(http::StreamId id, int status, std::string_view reason) {
  if (!http2_) {
    h1_stream_.onRequestError(status, reason);
    return;
  }
  ActiveStream* stream = findStream(id);
  if (stream != nullptr) {
    stream->onRequestError(status, reason);
    return;
  }
  stream = newStream(id);
  stream->onRequestError(status, reason);
  ++running_streams_;
  asio::co_spawn(worker_.io(), runStream(stream), asio::detached);
}

void ConnectionManager::onStreamReset(http::StreamId id, http::StreamResetReason reason) {
  if (ActiveStream* stream = findStream(id)) {
    stream->onReset(reason);
  }
}

// ------------------------------------------------------------------------------ deadlines

void ConnectionManager::onDeadline() {
  const SteadyTime now = SteadyClock::now();
  if (phase_deadline_ <= now) {
    phase_deadline_ = kNoDeadline;
    if (idle_ && park_at_ <= now && now < idle_deadline_ && !draining_) {
      if (write_in_flight_) {
        // HTTP/2 output still draining to a slow reader: cancelling the socket would fail the
        // write. No parking this time; the idle timeout still holds.
        setPhaseDeadline(idle_deadline_);
      } else {
        // Idle long enough: HTTP/1 gives the manager back (serveHttp1 parks the connection),
        // HTTP/2 its buffers (serveHttp2).
        park_wanted_ = true;
        transport_.cancel();
      }
    } else {
      phase_expired_ = true;
      transport_.cancel();  // handshake, keep-alive idle or linger time is up
    }
  }
  SteadyTime next = phase_deadline_;
  if (http2_) {
    for (auto& stream : streams_) {
      next = std::min(next, stream->checkDeadlines(now));
    }
  } else {
    next = std::min(next, h1_stream_.checkDeadlines(now));
  }
  setDeadline(next);
}

void ConnectionManager::onDrain() {
  draining_ = true;
  codec_->goAway();
  wakeWriter();
  if (idle_) {
    transport_.cancel();
  }
}

// ------------------------------------------------------------------------------ client watch

void ConnectionManager::armClientWatch() {
  if (client_watch_armed_ || closed_) {
    return;
  }
  client_watch_armed_ = true;
  client_watch_pending_ = true;
  transport_.socket().async_wait(
      tcp::socket::wait_read,
      [this, generation = client_watch_generation_](boost::system::error_code ec) {
        onClientReadable(ec, generation);
      });
}

void ConnectionManager::disarmClientWatch() {
  ++client_watch_generation_;  // a wait still queued completes as stale
  if (client_watch_armed_) {
    client_watch_armed_ = false;
    transport_.cancel();  // completes the wait at once; nothing else is pending here
  }
}

void ConnectionManager::onClientReadable(boost::system::error_code ec, uint32_t generation) {
  client_watch_pending_ = false;
  if (generation != client_watch_generation_) {
    return;  // disarmed meanwhile (the flag belongs to a newer watch, if any)
  }
  client_watch_armed_ = false;
  if (ec || closed_) {
    return;
  }
  // Readable: a hang-up, or bytes (a pipelined request, a TLS alert). Only a hang-up counts.
  pollfd p{transport_.socket().native_handle(), POLLRDHUP, 0};
  if (::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
    h1_stream_.clientHungUp();
    return;
  }
  armClientWatch();  // new bytes or the FIN arrive as a new readiness edge
}

// ------------------------------------------------------------------------------ start

namespace {

/// Roughly what a connection manager holds (the object, its read buffer and what its codec and
/// stream keep): the memory a dropped spare gives back, for the allocator trim.
constexpr size_t kManagerFootprint = sizeof(ConnectionManager) + kDownstreamBufferSize;

asio::awaitable<void> runConnection(Worker& worker, network::IdleConnection connection,
                                    bool resumed) {
  bool parked = false;
  {
    // The object comes from (and goes back to) this worker's spare list; with none spare, a
    // new one. Heap-held so the coroutine frame stays small enough for asio's frame recycling.
    std::unique_ptr<network::TrackedConnection> spare = worker.takeSpareConnection(0);
    std::unique_ptr<ConnectionManager> manager(
        spare ? static_cast<ConnectionManager*>(spare.release()) : new ConnectionManager(worker));
    manager->attach(std::move(connection), resumed, worker.current());
    co_await manager->run();
    if (manager->parked() && !worker.draining()) {
      parked = true;
      const SteadyTime deadline = manager->idleDeadline();
      worker.idlePark().park(manager->takeIdle(), deadline);
    }
    manager->detach();
    if (!worker.keepSpareConnection(0, std::move(manager))) {
      worker.noteMemoryFreed(kManagerFootprint);
    }
  }
  if (!parked) {
    worker.connectionClosed();
  }
}

}  // namespace

void resumeConnection(Worker& worker, network::IdleConnection&& connection) {
  asio::co_spawn(worker.io(), runConnection(worker, std::move(connection), true), asio::detached);
}

void startConnection(Worker& worker, asio::ip::tcp::socket socket,
                     const asio::ip::tcp::endpoint& peer) {
  boost::system::error_code ec;
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  asio::co_spawn(worker.io(),
                 runConnection(worker, network::IdleConnection{std::move(socket), {}, peer}, false),
                 asio::detached);
}

}  // namespace vallum::proxy
