// The HTTP/2 half of the connection manager: the reader loop, the writer, the streams and the
// idle buffer release. The shared parts (attach, run, deadlines, codec events) are in
// connection_manager.cc; the same coroutine rules apply (see the note at its top).

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/logging.h"
#include "proxy/connection_manager.h"

namespace vallum::proxy {

namespace {
namespace asio = boost::asio;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
}  // namespace

asio::awaitable<void> ConnectionManager::serveHttp2() {
  const config::Duration idle = worker_.current()->snapshot->options.timeout_idle;
  if (resumed_) {
    // A parked session woke up (a frame, or a hang-up): still idle until a stream opens, on
    // the idle clock it parked with.
    resumed_ = false;
    idle_ = true;
    park_at_ = SteadyClock::now() + kParkAfter;
    setPhaseDeadline(std::min(idle_deadline_, park_at_));
  } else {
    http::http2::ServerSettings settings;
    h2_codec_ = std::make_unique<http::http2::ServerCodec>(*this, settings);
  }
  codec_ = h2_codec_.get();
  if (draining_) {
    codec_->goAway();
  }
  writing_ = true;
  asio::co_spawn(worker_.io(), writeLoop(), asio::detached);
  bool idle_timed_out = false;
  for (;;) {
    if (!in_.empty()) {
      in_.consume(codec_->dispatch(in_.readable()));
      wakeWriter();
    }
    if (codec_->wantsClose() || write_failed_) {
      break;
    }
    // Idle = no open stream (Envoy's idle_timeout): the clock starts when the last stream ends
    // and frames without a stream (PING, SETTINGS, WINDOW_UPDATE) do not restart it.
    if (!streams_.empty()) {
      if (idle_) {
        idle_ = false;
        park_at_ = kNoDeadline;
        setPhaseDeadline(kNoDeadline);
      }
    } else if (!idle_) {
      enterIdle(idle);
    } else if (park_at_ == kNoDeadline) {
      park_at_ = SteadyClock::now() + kParkAfter;  // buffers came back with a frame
      setPhaseDeadline(std::min(idle_deadline_, park_at_));
    }
    bool got = co_await readSome();
    if (!got && idle_ && phase_expired_ && !write_in_flight_ && !write_failed_) {
      // timeout_idle: GOAWAY NO_ERROR, then close at once — what a parked session says at the
      // same moment (IdlePark), so the client hears it whether or not a PING woke it.
      idle_timed_out = true;
      transport_.sendGoAwayWithoutWaiting(*codec_);
    }
    if (!got && park_wanted_) {
      // Idle for kParkAfter with no stream: the buffers go back, and the manager too when
      // nothing is in flight — the connection then waits in the worker's IdlePark with its
      // session (HPACK tables, settings, windows).
      park_wanted_ = false;
      releaseIdleMemory();
      park_at_ = kNoDeadline;
      setPhaseDeadline(idle_deadline_);
      if (!draining_ && streams_.empty() && running_streams_ == 0 && !write_in_flight_ &&
          !transport_.tlsPending() && h2_codec_->parkable()) {
        parked_ = true;
        break;
      }
      auto [ec] = co_await transport_.socket().async_wait(tcp::socket::wait_read, kUse);
      got = !ec;
    }
    park_wanted_ = false;
    if (!got) {
      break;
    }
  }
  if (parked_) {
    idle_ = false;
    closed_ = true;
    write_signal_.cancel();  // the writer has nothing to send (parkable()): it ends
    co_return;
  }
  idle_ = false;
  setPhaseDeadline(kNoDeadline);
  // Our GOAWAY ended it (not the client, not a failed write): linger below.
  bool linger = codec_->wantsClose() && !write_failed_ && !idle_timed_out;
  // The connection is over: streams still running hear it, then the writer ends.
  for (auto& stream : streams_) {
    stream->onReset(http::StreamResetReason::ConnectionLost);
  }
  while (running_streams_ > 0) {
    co_await asio::post(worker_.io(), asio::use_awaitable);
  }
  closed_ = true;
  write_signal_.cancel();
  if (!linger) {
    co_return;  // run() closes the transport, which ends a write still pending
  }
  // Closing with the client's bytes unread would answer them with a TCP reset, which can
  // destroy the GOAWAY before the client reads it (a client still sending when a connection
  // error ends the connection): half-close and read for a moment first, as HTTP/1 does. The
  // GOAWAY may still be on its way out: the writer gets the linger time to finish (a client
  // that reads nothing gets its transport cancelled then, and no lingering).
  phase_expired_ = false;
  setPhaseDeadline(SteadyClock::now() + kLingerTimeout);
  while (writing_) {
    write_signal_.expires_after(std::chrono::milliseconds(5));
    auto [ec] = co_await write_signal_.async_wait(kUse);
    (void)ec;
  }
  if (!write_failed_ && !phase_expired_) {
    co_await closeConnection(true);
  }
  setPhaseDeadline(kNoDeadline);
}

void ConnectionManager::wakeWriter() { write_signal_.cancel(); }

asio::awaitable<void> ConnectionManager::writeLoop() {
  while (!closed_) {
    const network::BufferSpan buffers = takeWriteBuffers();  // TLS: one record when small
    if (buffers.empty()) {
      if (codec_->wantsClose()) {
        transport_.cancel();  // GOAWAY sent and every stream done: the reader ends
        break;
      }
      write_signal_.expires_at(SteadyTime::max());
      auto [ec] = co_await write_signal_.async_wait(kUse);
      (void)ec;
      continue;
    }
    write_in_flight_ = true;
    auto [ec, n] = co_await transport_.asyncWrite(buffers, kUse);
    write_in_flight_ = false;
    if (ec) {
      write_failed_ = true;
      transport_.cancel();
      break;
    }
    // Streams waiting for their queued response to drain may go on.
    for (auto& stream : streams_) {
      stream->wake();
    }
  }
  writing_ = false;
}

size_t ConnectionManager::pendingOutput(http::StreamId stream) const {
  return h2_codec_ != nullptr ? h2_codec_->pendingOutput(stream) : 0;
}

ActiveStream* ConnectionManager::findStream(http::StreamId id) {
  if (!http2_) {
    return &h1_stream_;
  }
  for (auto& stream : streams_) {
    if (stream->id() == id) {
      return stream.get();
    }
  }
  return nullptr;
}

ActiveStream* ConnectionManager::newStream(http::StreamId id) {
  std::unique_ptr<ActiveStream> stream;
  if (!spare_streams_.empty()) {
    stream = std::move(spare_streams_.back());
    spare_streams_.pop_back();
  } else {
    stream = std::make_unique<ActiveStream>(*this, worker_);
  }
  ActiveStream* raw = stream.get();
  streams_.push_back(std::move(stream));
  raw->begin(id);
  return raw;
}

void ConnectionManager::releaseStream(ActiveStream* stream) {
  for (size_t i = 0; i < streams_.size(); ++i) {
    if (streams_[i].get() == stream) {
      std::unique_ptr<ActiveStream> owned = std::move(streams_[i]);
      streams_[i] = std::move(streams_.back());
      streams_.pop_back();
      spare_streams_.push_back(std::move(owned));
      return;
    }
  }
}

asio::awaitable<void> ConnectionManager::runStream(ActiveStream* stream) {
  // Never inside the codec's own callbacks: the stream starts from the event loop.
  co_await asio::post(worker_.io(), asio::use_awaitable);
  try {
    co_await stream->respond();
  } catch (const std::exception& e) {
    VALLUM_LOG_ERROR("stream from {} failed: {}", peer_ip_, e.what());
    stream->abort();
  }
  stream->finish();
  releaseStream(stream);
  --running_streams_;
  wakeWriter();
  if (streams_.empty() && !closed_ && !idle_) {
    // The last stream ended while the reader waits: the idle clock starts now, not at the
    // client's next frame.
    enterIdle(worker_.current()->snapshot->options.timeout_idle);
  }
}

void ConnectionManager::releaseIdleMemory() {
  size_t freed = in_.release() + h2_codec_->releaseIdleMemory();
  for (auto& stream : spare_streams_) {
    freed += sizeof(ActiveStream) + stream->releaseMemory(0);
  }
  spare_streams_.clear();
  freed += coalesced_.capacity() + write_buffers_.capacity() * sizeof(asio::const_buffer) +
           out_.capacity() * sizeof(std::string_view);
  std::string().swap(coalesced_);
  std::vector<asio::const_buffer>().swap(write_buffers_);
  std::vector<std::string_view>().swap(out_);
  worker_.noteMemoryFreed(freed);
}

}  // namespace vallum::proxy
