#pragma once

#include <iterator>
#include <string>
#include <string_view>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "http/codec.h"
#include "network/tls_socket.h"

/// The client side of one accepted connection: the socket, TLS and its handshake (SNI picks the
/// certificate, ALPN the protocol), reads and writes, and the close (docs/architecture.md §2.1). Knows
/// nothing of HTTP.
namespace vallum::network {

/// A view of a buffer vector that asio can copy for free (write operations keep a copy of their
/// buffer sequence; copying a std::vector would allocate on every write).
struct BufferSpan {
  const boost::asio::const_buffer* first = nullptr;
  const boost::asio::const_buffer* last = nullptr;
  const boost::asio::const_buffer* begin() const { return first; }
  const boost::asio::const_buffer* end() const { return last; }
  bool empty() const { return first == last; }
};

/// Application protocol a connection speaks, from ALPN (RFC 7301) or, without TLS, from the
/// first bytes (the HTTP/2 preface, RFC 9113 §3.3).
enum class AppProtocol : uint8_t { Http1, Http2 };

/// The HTTP/2 client connection preface (RFC 9113 §3.4).
inline constexpr std::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Runs TLS attempts until one does not ask to wait (an asio composed operation: no coroutine
/// frame; the wait is the socket's own readiness wait). `Attempt` is a callable returning a
/// TlsStep; the completion is (error_code, bytes). A result ready at the first attempt is
/// posted, never delivered inside the initiating call.
template <class Attempt>
class TlsOperation {
 public:
  TlsOperation(boost::asio::ip::tcp::socket& socket, Attempt attempt)
      : socket_(socket), attempt_(std::move(attempt)) {}

  template <class Self>
  void operator()(Self& self, boost::system::error_code wait_error = {}) {
    if (posted_) {
      self.complete(result_.error, result_.bytes);
      return;
    }
    if (wait_error) {
      self.complete(wait_error, 0);  // cancelled: a deadline fired, or the server drains
      return;
    }
    result_ = attempt_();
    if (result_.kind == TlsStep::Kind::WantRead || result_.kind == TlsStep::Kind::WantWrite) {
      first_ = false;
      socket_.async_wait(result_.kind == TlsStep::Kind::WantRead
                             ? boost::asio::ip::tcp::socket::wait_read
                             : boost::asio::ip::tcp::socket::wait_write,
                         std::move(self));
      return;
    }
    if (first_) {
      posted_ = true;
      boost::asio::post(socket_.get_executor(), std::move(self));
      return;
    }
    self.complete(result_.error, result_.bytes);
  }

 private:
  boost::asio::ip::tcp::socket& socket_;
  Attempt attempt_;
  TlsStep result_;
  bool first_ = true;
  bool posted_ = false;
};

/// Says goodbye to an idle HTTP/2 connection about to close: queues GOAWAY NO_ERROR on
/// `session` (RFC 9113 §6.8) and writes what the session has to send with one non-blocking
/// attempt (through `tls` when it is open), never waiting: an idle socket's buffer is empty; what
/// does not fit is dropped. Only with no write in flight. Worker thread.
void sendGoAwayWithoutWaiting(http::ServerCodec& session, int fd, TlsSocket& tls);

/// One downstream connection's transport. Reused across connections through attach()/detach()
/// (the owner's spare list), so a connection object allocates nothing in steady state. Owned
/// and used by one worker.
class DownstreamConnection {
 public:
  using tcp = boost::asio::ip::tcp;

  explicit DownstreamConnection(boost::asio::io_context& io) : socket_(io) {}

  /// Takes an accepted socket; with `tls_context`, TLS is spoken over it (OpenSSL keeps a
  /// reference to the context for the connection's life). False when TLS cannot start.
  bool attach(tcp::socket&& socket, SSL_CTX* tls_context) {
    socket_ = std::move(socket);
    alpn_ = {};
    if (tls_context == nullptr) {
      tls_.reset();
      return true;
    }
    boost::system::error_code ec;
    socket_.native_non_blocking(true, ec);
    return !ec && tls_.open(tls_context, socket_.native_handle());
  }
  /// Takes a connection's socket and TLS state as they are (a parked idle connection coming
  /// back: the handshake is long done).
  void resume(tcp::socket&& socket, TlsSocket&& tls) {
    socket_ = std::move(socket);
    tls_ = std::move(tls);
    alpn_ = tls_.isOpen() ? tls_.alpn() : std::string_view();
  }
  /// Gives the socket and TLS state away (to park an idle connection).
  std::pair<tcp::socket, TlsSocket> release() {
    return {std::move(socket_), std::move(tls_)};
  }
  /// Drops the TLS state and the socket.
  void detach() {
    tls_.reset();
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  bool tls() const { return tls_.isOpen(); }
  tcp::socket& socket() { return socket_; }
  /// The OpenSSL handle of a TLS connection (null without TLS).
  SSL* sslHandle() { return tls_.native(); }
  /// Bytes OpenSSL holds (decrypted, or read from the socket and not processed yet) that a
  /// read may return without the socket becoming readable again.
  bool tlsPending() const { return tls_.isOpen() && SSL_has_pending(tls_.native()) == 1; }

  /// Runs the server side of the TLS handshake; on success alpn() holds the negotiated
  /// protocol name ("" when the client offered none).
  boost::asio::awaitable<boost::system::error_code> handshake();
  std::string_view alpn() const { return alpn_; }

  /// Reads some bytes (completion: error_code, size_t). No frame is allocated: the operation
  /// is the socket's or a TlsOperation.
  template <class Token>
  auto asyncReadSome(boost::asio::mutable_buffer buffer, Token&& token) {
    if (!tls_.isOpen()) {
      return socket_.async_read_some(buffer, std::forward<Token>(token));
    }
    auto attempt = [this, buffer] { return tls_.readStep(buffer.data(), buffer.size()); };
    return boost::asio::async_compose<Token, void(boost::system::error_code, size_t)>(
        TlsOperation<decltype(attempt)>(socket_, attempt), token, socket_);
  }

  /// Writes every byte of `buffers` (completion: error_code, size_t).
  template <class Buffers, class Token>
  auto asyncWrite(const Buffers& buffers, Token&& token) {
    if (!tls_.isOpen()) {
      return boost::asio::async_write(socket_, buffers, std::forward<Token>(token));
    }
    // State: the buffer sequence (a cheap view), the piece being written (an index: the
    // lambda moves with the operation, and a single buffer's iterator would point into it)
    // and the offset in it.
    auto attempt = [this, buffers, index = size_t{0}, offset = size_t{0},
                    total = size_t{0}]() mutable {
      auto at = boost::asio::buffer_sequence_begin(buffers);
      const auto end = boost::asio::buffer_sequence_end(buffers);
      std::advance(at, index);
      for (; at != end; ++at, ++index, offset = 0) {
        const boost::asio::const_buffer piece(*at);
        while (offset < piece.size()) {
          const TlsStep step = tls_.writeStep(static_cast<const char*>(piece.data()) + offset,
                                              piece.size() - offset);
          if (step.kind != TlsStep::Kind::Done) {
            return step;
          }
          offset += step.bytes;
          total += step.bytes;
        }
      }
      return TlsStep{TlsStep::Kind::Done, total, {}};
    };
    return boost::asio::async_compose<Token, void(boost::system::error_code, size_t)>(
        TlsOperation<decltype(attempt)>(socket_, std::move(attempt)), token, socket_);
  }

  /// Ends the connection politely: TLS close_notify, or a TCP half-close, then reads (and
  /// drops) what the client still sends — at most `max_discard` bytes into `scratch` — until
  /// it closes or the caller's deadline cancels the socket (RFC 9112 §9.6: the last response
  /// must not be destroyed by a reset).
  boost::asio::awaitable<void> lingeringClose(boost::asio::mutable_buffer scratch,
                                              size_t max_discard);

  /// GOAWAY now or never (see sendGoAwayWithoutWaiting). Only with no write in flight.
  void sendGoAwayWithoutWaiting(http::ServerCodec& session) {
    network::sendGoAwayWithoutWaiting(session, socket_.native_handle(), tls_);
  }

  /// No more bytes will be sent (a tunnel passes the other side's EOF on): TLS sends
  /// close_notify (one attempt, never waiting; reading goes on), plain TCP half-closes.
  void shutdownWrite() {
    if (tls_.isOpen()) {
      (void)tls_.shutdownStep();
      return;
    }
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
  }

  /// Cancels pending operations (a deadline fired, the server drains).
  void cancel() {
    boost::system::error_code ignored;
    socket_.cancel(ignored);
  }
  void close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

 private:
  tcp::socket socket_;
  TlsSocket tls_;
  std::string_view alpn_;  ///< points into OpenSSL's session (lives as long as tls_)
};

}  // namespace vallum::network
