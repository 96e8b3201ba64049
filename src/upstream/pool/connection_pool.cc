#include "upstream/pool/connection_pool.h"

#include <sys/socket.h>
#include <algorithm>
#include <cerrno>

namespace vallum::upstream::pool {

namespace {

/// A pooled connection is reusable when the peer has neither closed it nor sent anything
/// (unsolicited bytes would desynchronize the next response).
bool looksAlive(boost::asio::ip::tcp::socket& socket) {
  char byte;
  ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

UpstreamConnectionPtr EndpointPool::takeIdle() {
  while (!idle_.empty()) {
    UpstreamConnectionPtr connection = std::move(idle_.back());
    idle_.pop_back();
    if (looksAlive(connection->socket)) {
      return connection;
    }
    boost::system::error_code ignored;
    connection->socket.close(ignored);
  }
  return nullptr;
}

void EndpointPool::putIdle(UpstreamConnectionPtr connection, SteadyTime now) {
  if (idle_.size() >= max_idle_) {
    boost::system::error_code ignored;
    connection->socket.close(ignored);
    return;
  }
  connection->idle_since = now;
  connection->buffer.clear();
  idle_.push_back(std::move(connection));
}

void EndpointPool::closeIdleBefore(SteadyTime cutoff) {
  size_t kept = 0;
  for (auto& connection : idle_) {
    if (connection->idle_since < cutoff) {
      boost::system::error_code ignored;
      connection->socket.close(ignored);
      connection.reset();
    } else {
      idle_[kept++] = std::move(connection);
    }
  }
  idle_.resize(kept);
  std::erase_if(h2_, [cutoff](const H2ConnectionSharedPtr& c) {
    if (c->state() == H2Connection::State::Closed) {
      return true;
    }
    if (c->users() == 0 && c->state() == H2Connection::State::Ready && c->idleSince() < cutoff) {
      c->close();
      return true;
    }
    return false;
  });
}

H2ConnectionSharedPtr EndpointPool::h2Connection(boost::asio::io_context& io) {
  std::erase_if(h2_, [](const H2ConnectionSharedPtr& c) {
    return c->state() == H2Connection::State::Closed;
  });
  for (const H2ConnectionSharedPtr& c : h2_) {
    if (c->state() == H2Connection::State::Ready && c->settingsReceived()) {
      h2_stream_limit_ = c->session().maxConcurrentStreams();
    }
  }
  for (const H2ConnectionSharedPtr& c : h2_) {
    if (c->available()) {
      return c;
    }
  }
  http::http2::ClientSettings settings;
  settings.assumed_peer_streams = std::max<uint32_t>(h2_stream_limit_, 1);
  h2_.push_back(std::make_shared<H2Connection>(io, settings));
  return h2_.back();
}

H2ConnectionSharedPtr EndpointPool::adoptH2(boost::asio::io_context& io,
                                            UpstreamConnectionPtr transport) {
  http::http2::ClientSettings settings;
  settings.assumed_peer_streams = std::max<uint32_t>(h2_stream_limit_, 1);
  h2_.push_back(std::make_shared<H2Connection>(io, settings, std::move(transport)));
  h2_.back()->beginConnect();
  h2_.back()->ready();
  return h2_.back();
}

EndpointPool& ConnectionPools::forKey(const std::string& key) {
  auto& slot = pools_[key];
  if (!slot) {
    slot = std::make_unique<EndpointPool>(max_idle_);
  }
  return *slot;
}

void ConnectionPools::sweep(SteadyTime now, std::chrono::steady_clock::duration idle_timeout) {
  for (auto& [key, pool] : pools_) {
    pool->closeIdleBefore(now - idle_timeout);
  }
}

}  // namespace vallum::upstream::pool
