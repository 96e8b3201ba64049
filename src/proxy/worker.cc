#include "proxy/worker.h"

#include <malloc.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <system_error>

#include "common/logging.h"
#include "proxy/connection_manager.h"
#include "proxy/google_id_tokens.h"
#include "proxy/oidc_client.h"

namespace vallum::proxy {

namespace {
constexpr auto kTick = std::chrono::milliseconds(100);
constexpr auto kPoolSweepEvery = std::chrono::seconds(5);
/// Idle upstream keep-alive connections are closed after this (Envoy's upstream idle_timeout
/// is 1 h; a shorter one keeps file descriptors in check and stays below common origin
/// keep-alive timeouts such as nginx's 75 s only if origins are generous, so requests on a
/// connection the origin just closed are retried once — see Http1Connection).
constexpr auto kUpstreamIdleTimeout = std::chrono::seconds(60);
/// Freed connection buffers (bytes) after which a tick trims the allocator (noteMemoryFreed):
/// rare enough that the trim's cost (a walk of the free lists) never shows per request.
constexpr size_t kTrimThreshold = 4 * 1024 * 1024;
}  // namespace

Worker::Worker(size_t index)
    // UNSAFE: no locking in asio's scheduler nor in its reactor (a lock and an unlock per
    // completed operation otherwise: ~2% of a keep-alive request's instructions). Sound
    // because a worker's sockets, timers and queue are only ever touched on its own thread;
    // other threads reach it through post() (a mutex and an eventfd of our own), never
    // through asio::post(io()).
    : index_(index),
      io_(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE),
      mailbox_wake_(io_),
      registry_(io_, kTick),
      idle_park_(
          io_, registry_,
          [this](network::IdleConnection&& connection) {
            resumeConnection(*this, std::move(connection));
          },
          [this] { connectionClosed(); }),
      access_log_(STDOUT_FILENO) {
  registry_.setTickHook([this] { onTick(); });
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) {
    throw std::system_error(errno, std::generic_category(), "eventfd");
  }
  mailbox_wake_.assign(fd);
}

Worker::~Worker() = default;

OidcClient& Worker::oidc() {
  if (!oidc_) {
    oidc_ = std::make_unique<OidcClient>(io_.get_executor(),
                                         [this](std::function<void()> fn) { post(std::move(fn)); });
  }
  return *oidc_;
}

GoogleIdTokens& Worker::googleIdTokens() {
  if (!google_id_tokens_) {
    google_id_tokens_ = std::make_unique<GoogleIdTokens>(
        io_.get_executor(), [this](std::function<void()> fn) { post(std::move(fn)); });
  }
  return *google_id_tokens_;
}

void Worker::install(SnapshotConstSharedPtr snapshot) {
  auto ws = std::make_shared<WorkerSnapshot>();
  ws->balancers.reserve(snapshot->routes.size());
  ws->pools.reserve(snapshot->routes.size());
  ws->balancers.resize(snapshot->routes.size());
  for (const RouteRuntime& route : snapshot->routes) {
    auto& pools = ws->pools.emplace_back();
    pools.reserve(route.cluster.endpoints.size());
    for (const upstream::Endpoint& ep : route.cluster.endpoints) {
      pools.push_back(&pools_.forKey(ep.pool_key));
    }
  }
  ws->snapshot = std::move(snapshot);
  current_ = std::move(ws);
}

std::optional<uint32_t> Worker::pickEndpoint(WorkerSnapshot& ws, uint32_t route_index,
                                             std::optional<uint64_t> hash) {
  const upstream::Cluster& cluster = ws.snapshot->routes[route_index].cluster;
  RouteBalancer& balancer = ws.balancers[route_index];
  const uint64_t epoch = cluster.health->epoch.load(std::memory_order_acquire);
  if (!balancer.lb || balancer.epoch != epoch) {
    balancer.lb = upstream::lb::createLoadBalancer(
        cluster.policy, cluster.lb_config, upstream::balancingHosts(cluster, &balancer.panic),
        random_.next());
    balancer.epoch = epoch;
  }
  upstream::lb::LbContext context;
  context.hash = hash;
  context.random = &random_;
  return balancer.lb->chooseHost(context);
}

void Worker::startAccepting(boost::asio::ip::tcp::acceptor acceptor) {
  acceptor_.emplace(std::move(acceptor));
  acceptNext();
}

void Worker::acceptNext() {
  if (!acceptor_ || !acceptor_->is_open()) {
    return;
  }
  // The client's address comes with accept() itself (no getpeername per connection).
  acceptor_->async_accept(accept_peer_, [this](const boost::system::error_code& ec,
                                               boost::asio::ip::tcp::socket socket) {
    if (ec) {
      if (ec == boost::asio::error::operation_aborted || draining_) {
        return;
      }
      // EMFILE/ENFILE/ENOBUFS: stop accepting for a while (the backlog holds new clients)
      // and log a bounded number of lines instead of spinning.
      const network::AcceptBackoff::Decision d =
          accept_backoff_.onFailure(std::chrono::steady_clock::now());
      if (d.log) {
        VALLUM_LOG_WARN("worker {}: accept failed: {} ({} more since the last report); "
                        "pausing accepts for {} ms",
                        index_, ec.message(), d.suppressed, d.delay.count());
      }
      auto timer = std::make_shared<boost::asio::steady_timer>(io_, d.delay);
      timer->async_wait([this, timer](const boost::system::error_code&) { acceptNext(); });
      return;
    }
    accept_backoff_.onSuccess();
    startConnection(*this, std::move(socket), accept_peer_);
    acceptNext();
  });
}

void Worker::drain(std::function<void()> on_idle) {
  draining_ = true;
  on_idle_ = std::move(on_idle);
  if (acceptor_) {
    boost::system::error_code ignored;
    acceptor_->close(ignored);
  }
  registry_.drainAll();
  if (registry_.size() == 0 && on_idle_) {
    auto cb = std::move(on_idle_);
    on_idle_ = nullptr;
    cb();
  }
}

void Worker::publishGauges() {
  if (gauges_ == nullptr) {
    return;
  }
  const size_t parked = idle_park_.size();
  gauges_->active.store(registry_.size() - parked, std::memory_order_relaxed);
  gauges_->parked.store(parked, std::memory_order_relaxed);
  gauges_->spare.store(spareConnections(), std::memory_order_relaxed);
}

void Worker::connectionClosed() {
  publishGauges();
  if (draining_ && registry_.size() == 0 && on_idle_) {
    auto cb = std::move(on_idle_);
    on_idle_ = nullptr;
    cb();
  }
}

void Worker::onTick() {
  access_log_.flush();
  publishGauges();
  if (memory_freed_ >= kTrimThreshold) {
    memory_freed_ = 0;
    ::malloc_trim(0);  // every arena, briefly locked in turn: whole free pages go back
  }
  auto now = std::chrono::steady_clock::now();
  if (now - last_sweep_ >= kPoolSweepEvery) {
    last_sweep_ = now;
    pools_.sweep(now, kUpstreamIdleTimeout);
  }
}

void Worker::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mailbox_mutex_);
    mailbox_.push_back(std::move(fn));
  }
  const uint64_t one = 1;
  // Cannot fail short of the counter overflowing (2^64 - 2 posts unread).
  [[maybe_unused]] const ssize_t n = ::write(mailbox_wake_.native_handle(), &one, sizeof one);
}

void Worker::readMailbox() {
  mailbox_wake_.async_wait(
      boost::asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
        if (ec) {
          return;
        }
        uint64_t count = 0;
        [[maybe_unused]] const ssize_t n =
            ::read(mailbox_wake_.native_handle(), &count, sizeof count);
        std::vector<std::function<void()>> ready;
        {
          std::lock_guard<std::mutex> lock(mailbox_mutex_);
          ready.swap(mailbox_);
        }
        for (auto& fn : ready) {
          fn();
        }
        readMailbox();
      });
}

void Worker::run() {
  auto guard = boost::asio::make_work_guard(io_);
  readMailbox();
  io_.run();
  access_log_.flush();
}

void Worker::stop() {
  post([this] { io_.stop(); });
}

}  // namespace vallum::proxy
