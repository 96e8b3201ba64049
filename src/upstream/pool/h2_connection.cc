#include "upstream/pool/h2_connection.h"

#include <algorithm>
#include <exception>
#include <tuple>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "common/logging.h"
#include "upstream/pool/connection_pool.h"

namespace vallum::upstream::pool {

namespace {

namespace asio = boost::asio;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

void logFailure(std::exception_ptr e) {
  if (!e) {
    return;
  }
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    VALLUM_LOG_ERROR("HTTP/2 upstream connection failed: {}", ex.what());
  }
}

}  // namespace

H2Connection::H2Connection(asio::io_context& io, const http::http2::ClientSettings& settings,
                           UpstreamConnectionPtr transport)
    : transport_(transport ? std::move(transport) : std::make_unique<UpstreamConnection>(io)),
      session_(settings),
      write_signal_(io, std::chrono::steady_clock::time_point::max()),
      read_buffer_(kUpstreamBufferSize),
      max_users_(std::min(settings.max_concurrent_streams, settings.assumed_peer_streams)) {}

H2Connection::~H2Connection() {
  boost::system::error_code ignored;
  transport_->socket.close(ignored);
}

void H2Connection::release(std::chrono::steady_clock::time_point now) {
  if (users_ > 0 && --users_ == 0) {
    idle_since_ = now;
  }
}

bool H2Connection::available() const {
  if (state_ == State::Closed) {
    return false;
  }
  if (state_ != State::Ready) {
    return users_ < max_users_;
  }
  return session_.canOpenStream() && users_ < session_.maxConcurrentStreams();
}

void H2Connection::ready() {
  state_ = State::Ready;
  auto self = shared_from_this();
  asio::co_spawn(socket().get_executor(), readLoop(self), logFailure);
  asio::co_spawn(socket().get_executor(), writeLoop(std::move(self)), logFailure);
  flush();  // the preface and SETTINGS
  settle();
}

void H2Connection::fail() { close(); }

void H2Connection::removeWaiter(H2Waiter* waiter) {
  waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), waiter), waiters_.end());
}

void H2Connection::settle() {
  std::vector<H2Waiter*> waiters;
  waiters.swap(waiters_);
  for (H2Waiter* w : waiters) {
    w->onConnectionSettled();
  }
}

void H2Connection::flush() {
  if (state_ != State::Ready) {
    return;
  }
  want_write_ = true;
  if (writer_waiting_) {
    write_signal_.cancel();
  }
}

void H2Connection::close() {
  if (state_ == State::Closed) {
    return;
  }
  state_ = State::Closed;
  boost::system::error_code ignored;
  transport_->socket.close(ignored);
  write_signal_.cancel();
  session_.connectionLost();
  settle();
}

asio::awaitable<void> H2Connection::readLoop(std::shared_ptr<H2Connection> /*keep_alive*/) {
  while (state_ == State::Ready) {
    const asio::mutable_buffer into(read_buffer_.data(), read_buffer_.size());
    boost::system::error_code ec;
    size_t n = 0;
    if (transport_->tls) {
      std::tie(ec, n) = co_await transport_->tls->async_read_some(into, kUse);
    } else {
      std::tie(ec, n) = co_await transport_->socket.async_read_some(into, kUse);
    }
    if (state_ != State::Ready) {
      break;
    }
    if (ec || n == 0 || !session_.receive(std::string_view(read_buffer_.data(), n))) {
      close();
      break;
    }
    flush();  // SETTINGS ACKs, WINDOW_UPDATEs, PING replies
  }
}

asio::awaitable<void> H2Connection::writeLoop(std::shared_ptr<H2Connection> /*keep_alive*/) {
  while (state_ == State::Ready) {
    if (!want_write_) {
      if (!session_.alive() && users_ == 0) {
        close();  // GOAWAY received and every stream ended
        break;
      }
      writer_waiting_ = true;
      write_signal_.expires_at(std::chrono::steady_clock::time_point::max());
      auto [ec] = co_await write_signal_.async_wait(kUse);
      (void)ec;
      writer_waiting_ = false;
      continue;
    }
    want_write_ = false;
    out_.clear();
    const bool ok = session_.takeOutput(out_);
    if (!out_.empty()) {
      boost::system::error_code ec;
      if (transport_->tls) {
        std::tie(ec, std::ignore) =
            co_await asio::async_write(*transport_->tls, asio::buffer(out_), kUse);
      } else {
        std::tie(ec, std::ignore) =
            co_await asio::async_write(transport_->socket, asio::buffer(out_), kUse);
      }
      if (ec) {
        close();
        break;
      }
    }
    if (!ok) {
      close();
      break;
    }
  }
}

}  // namespace vallum::upstream::pool
