#include "network/idle_park.h"

#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "network/downstream_connection.h"

namespace vallum::network {

namespace {
constexpr size_t kChunkNodes = 256;
constexpr int kEventsPerWait = 64;
}  // namespace

/// A parked connection (fd >= 0) or a free slab slot (fd < 0, linked through next_free).
class IdlePark::Node final : public TrackedConnection {
 public:
  void onDeadline() override { park->close(this, true); }
  void onDrain() override { park->close(this, true); }

  IdlePark* park = nullptr;
  TlsSocket tls;
  boost::asio::ip::tcp::endpoint peer;
  std::unique_ptr<http::ServerCodec> session;
  int fd = -1;
  Node* next_free = nullptr;
};

IdlePark::IdlePark(boost::asio::io_context& io, ConnectionRegistry& registry,
                   std::function<void(IdleConnection&&)> on_readable,
                   std::function<void()> on_closed)
    : io_(io),
      registry_(registry),
      on_readable_(std::move(on_readable)),
      on_closed_(std::move(on_closed)),
      epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)),
      watch_(io),
      events_(kEventsPerWait) {
  if (epoll_fd_ < 0) {
    throw std::system_error(errno, std::generic_category(), "epoll_create1 for the idle park");
  }
  watch_.assign(epoll_fd_);
}

IdlePark::~IdlePark() {
  // The worker stopped with connections parked: free their TLS state and descriptors.
  for (auto& chunk : chunks_) {
    for (size_t i = 0; i < kChunkNodes; ++i) {
      Node& node = chunk[i];
      if (node.fd >= 0) {
        node.session.reset();
        node.tls.reset();
        ::close(node.fd);
        node.fd = -1;
      }
    }
  }
  boost::system::error_code ignored;
  watch_.close(ignored);  // closes epoll_fd_
}

IdlePark::Node* IdlePark::allocate() {
  if (free_ == nullptr) {
    chunks_.push_back(std::make_unique<Node[]>(kChunkNodes));
    Node* chunk = chunks_.back().get();
    for (size_t i = kChunkNodes; i-- > 0;) {
      chunk[i].park = this;
      chunk[i].next_free = free_;
      free_ = &chunk[i];
    }
  }
  Node* node = free_;
  free_ = node->next_free;
  node->next_free = nullptr;
  return node;
}

void IdlePark::release(Node* node) {
  registry_.remove(*node);
  --size_;
  node->fd = -1;
  node->setDeadline(kNoDeadline);
  node->next_free = free_;
  free_ = node;
}

void IdlePark::park(IdleConnection&& connection, SteadyTime deadline) {
  boost::system::error_code ec;
  // Out of asio's reactor (its wait state goes back to the reactor's pool), into ours.
  const int fd = connection.socket.release(ec);
  if (ec) {
    on_closed_();
    return;  // the socket closes with `connection`
  }
  Node* node = allocate();
  node->fd = fd;
  node->tls = std::move(connection.tls);
  node->peer = connection.peer;
  node->session = std::move(connection.session);
  node->setDeadline(deadline);
  registry_.add(*node);
  ++size_;
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP;
  event.data.ptr = node;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    close(node, false);
    return;
  }
  arm();
}

void IdlePark::close(Node* node, bool farewell) {
  if (farewell && node->session) {
    sendGoAwayWithoutWaiting(*node->session, node->fd, node->tls);
  }
  node->session.reset();
  node->tls.reset();  // no close_notify for an idle connection, as nginx
  ::close(node->fd);  // also leaves the epoll set
  release(node);
  on_closed_();
}

void IdlePark::arm() {
  if (armed_ || size_ == 0) {
    return;
  }
  armed_ = true;
  watch_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                    [this](boost::system::error_code ec) {
                      armed_ = false;
                      if (!ec) {
                        onReadable();
                      }
                    });
}

void IdlePark::onReadable() {
  for (;;) {
    const int n = ::epoll_wait(epoll_fd_, events_.data(), kEventsPerWait, 0);
    for (int i = 0; i < n; ++i) {
      Node* node = static_cast<Node*>(events_[i].data.ptr);
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, node->fd, nullptr);
      IdleConnection connection{boost::asio::ip::tcp::socket(io_), std::move(node->tls),
                                node->peer, std::move(node->session), node->deadline()};
      boost::system::error_code ec;
      connection.socket.assign(node->peer.protocol(), node->fd, ec);
      const int fd = node->fd;
      release(node);
      if (ec) {
        connection.tls.reset();
        ::close(fd);
        on_closed_();
        continue;
      }
      // Bytes or a hang-up: either way the connection manager reads and finds out.
      on_readable_(std::move(connection));
    }
    if (n < kEventsPerWait) {
      break;
    }
  }
  arm();
}

}  // namespace vallum::network
