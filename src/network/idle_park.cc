#include "network/idle_park.h"

namespace vallum::network {

/// A parked connection. Owned by the readiness wait's handler (so a worker that stops with
/// connections parked frees them with its io_context); linked in the registry for its deadline
/// and the drain.
class IdlePark::Node final : public TrackedConnection {
 public:
  explicit Node(IdleConnection&& connection) : connection_(std::move(connection)) {}

  void onDeadline() override { close(); }
  void onDrain() override { close(); }

  IdleConnection& connection() { return connection_; }
  bool closing() const { return closing_; }

 private:
  void close() {
    closing_ = true;
    setDeadline(kNoDeadline);
    boost::system::error_code ignored;
    connection_.socket.cancel(ignored);  // the wait completes (aborted) and frees the node
  }

  IdleConnection connection_;
  bool closing_ = false;
};

IdlePark::IdlePark(ConnectionRegistry& registry,
                   std::function<void(IdleConnection&&)> on_readable,
                   std::function<void()> on_closed)
    : registry_(registry), on_readable_(std::move(on_readable)), on_closed_(std::move(on_closed)) {}

void IdlePark::park(IdleConnection&& connection, SteadyTime deadline) {
  auto node = std::make_unique<Node>(std::move(connection));
  node->setDeadline(deadline);
  registry_.add(*node);
  ++size_;
  Node& parked = *node;
  parked.connection().socket.async_wait(
      boost::asio::ip::tcp::socket::wait_read,
      [this, node = std::move(node)](boost::system::error_code ec) mutable {
        onReady(std::move(node), ec);
      });
}

void IdlePark::onReady(std::unique_ptr<Node> node, boost::system::error_code ec) {
  registry_.remove(*node);
  --size_;
  if (ec || node->closing()) {
    node.reset();  // closes the socket; TLS without close_notify, as nginx closes idle ones
    on_closed_();
    return;
  }
  // Bytes or a hang-up: either way the connection manager reads and finds out.
  IdleConnection connection = std::move(node->connection());
  node.reset();
  on_readable_(std::move(connection));
}

}  // namespace vallum::network
