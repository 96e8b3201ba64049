#include "network/connection_registry.h"

#include <vector>

namespace vallum::network {

ConnectionRegistry::ConnectionRegistry(boost::asio::io_context& io, std::chrono::milliseconds tick)
    : timer_(io), tick_(tick) {}

ConnectionRegistry::~ConnectionRegistry() { *alive_ = false; }

void ConnectionRegistry::add(TrackedConnection& c) {
  c.prev_ = nullptr;
  c.next_ = head_;
  if (head_ != nullptr) {
    head_->prev_ = &c;
  }
  head_ = &c;
  ++size_;
  armTicker();
}

void ConnectionRegistry::remove(TrackedConnection& c) {
  if (c.prev_ != nullptr) {
    c.prev_->next_ = c.next_;
  } else if (head_ == &c) {
    head_ = c.next_;
  }
  if (c.next_ != nullptr) {
    c.next_->prev_ = c.prev_;
  }
  c.prev_ = c.next_ = nullptr;
  --size_;
}

void ConnectionRegistry::drainAll() {
  // onDrain() may close and unlink the connection: collect first.
  std::vector<TrackedConnection*> all;
  all.reserve(size_);
  for (TrackedConnection* c = head_; c != nullptr; c = c->next_) {
    all.push_back(c);
  }
  for (TrackedConnection* c : all) {
    c->onDrain();
  }
}

void ConnectionRegistry::requestTick() {
  tick_requested_ = true;
  armTicker();
}

void ConnectionRegistry::armTicker() {
  if (ticking_) {
    return;
  }
  ticking_ = true;
  timer_.expires_after(tick_);
  timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive) {
      return;
    }
    onTick();
  });
}

void ConnectionRegistry::onTick() {
  ticking_ = false;
  tick_requested_ = false;
  const SteadyTime now = std::chrono::steady_clock::now();
  // One pass collects the expired (their deadlines cleared), then each hears it: a
  // connection's onDeadline() may unlink and free itself, never another one. (10,000 idle
  // connections timing out together cost one walk, not one walk each.)
  expired_.clear();
  for (TrackedConnection* c = head_; c != nullptr; c = c->next_) {
    if (c->deadline_ <= now) {
      c->deadline_ = kNoDeadline;
      expired_.push_back(c);
    }
  }
  for (TrackedConnection* c : expired_) {
    c->onDeadline();
  }
  expired_.clear();
  if (tick_hook_) {
    tick_hook_();
  }
  if (head_ != nullptr || tick_requested_) {
    armTicker();
  }
}

}  // namespace vallum::network
