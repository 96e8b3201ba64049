#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

/// The client side of one accepted connection: the socket, TLS and its handshake (SNI picks the
/// certificate, ALPN the protocol), reads and writes, and the close (ARCHITECTURE §2.1). Knows
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

/// One downstream connection's transport. Reused across connections through attach()/detach()
/// (the owner's spare list), so a connection object allocates nothing in steady state. Owned
/// and used by one worker.
class DownstreamConnection {
 public:
  using tcp = boost::asio::ip::tcp;
  using TlsStream = boost::asio::ssl::stream<tcp::socket&>;

  explicit DownstreamConnection(boost::asio::io_context& io) : socket_(io) {}

  /// Takes an accepted socket; with `tls_context`, TLS is spoken over it (the context must
  /// outlive the connection).
  void attach(tcp::socket&& socket, boost::asio::ssl::context* tls_context) {
    socket_ = std::move(socket);
    if (tls_context != nullptr) {
      tls_.emplace(socket_, *tls_context);
    }
    alpn_.clear();
  }
  /// Drops the TLS state and the socket.
  void detach() {
    tls_.reset();
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  bool tls() const { return tls_.has_value(); }
  tcp::socket& socket() { return socket_; }
  /// The OpenSSL handle of a TLS connection (null without TLS).
  SSL* sslHandle() { return tls_ ? tls_->native_handle() : nullptr; }

  /// Runs the server side of the TLS handshake; on success alpn() holds the negotiated
  /// protocol name ("" when the client offered none).
  boost::asio::awaitable<boost::system::error_code> handshake();
  std::string_view alpn() const { return alpn_; }

  /// Reads some bytes (completion: error_code, size_t). No frame is allocated: the operation
  /// is the socket's or the TLS stream's own.
  template <class Token>
  auto asyncReadSome(boost::asio::mutable_buffer buffer, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this, buffer](auto handler) {
          if (tls_) {
            tls_->async_read_some(buffer, std::move(handler));
          } else {
            socket_.async_read_some(buffer, std::move(handler));
          }
        },
        token);
  }

  /// Writes every byte of `buffers` (completion: error_code, size_t).
  template <class Buffers, class Token>
  auto asyncWrite(const Buffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this, &buffers](auto handler) {
          if (tls_) {
            boost::asio::async_write(*tls_, buffers, std::move(handler));
          } else {
            boost::asio::async_write(socket_, buffers, std::move(handler));
          }
        },
        token);
  }

  /// Ends the connection politely: TLS close_notify, or a TCP half-close, then reads (and
  /// drops) what the client still sends — at most `max_discard` bytes into `scratch` — until
  /// it closes or the caller's deadline cancels the socket (RFC 9112 §9.6: the last response
  /// must not be destroyed by a reset).
  boost::asio::awaitable<void> lingeringClose(boost::asio::mutable_buffer scratch,
                                              size_t max_discard);

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
  std::optional<TlsStream> tls_;
  std::string alpn_;
};

}  // namespace vallum::network
