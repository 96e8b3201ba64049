#pragma once

#include <cstddef>
#include <string_view>

#include <boost/system/error_code.hpp>
#include <openssl/ssl.h>

/// Server-side TLS on a non-blocking socket, the way nginx does it: OpenSSL reads and writes
/// the file descriptor itself (SSL_set_fd) and the caller waits for readiness between
/// attempts. There are no record buffers of our own, and with SSL_MODE_RELEASE_BUFFERS
/// OpenSSL frees its read and write buffers whenever a connection has nothing in flight, so an
/// idle TLS connection costs the SSL object alone. (asio's ssl::stream keeps four 17 KB
/// buffers — its own and a BIO pair's — per connection whatever its state.)
namespace vallum::network {

/// What one attempt of a TLS operation did.
struct TlsStep {
  enum class Kind : uint8_t {
    Done,       ///< finished: `bytes` moved (read/write), or the handshake/shutdown completed
    WantRead,   ///< wait until the socket is readable, then try again
    WantWrite,  ///< wait until the socket is writable, then try again
    Failed,     ///< `error` says why (asio::error::eof for a close_notify or a plain FIN)
  };
  Kind kind = Kind::Done;
  size_t bytes = 0;
  boost::system::error_code error;
};

/// One connection's SSL object. Move-only; owned and used by one worker thread.
class TlsSocket {
 public:
  TlsSocket() = default;
  ~TlsSocket() { reset(); }
  TlsSocket(TlsSocket&& other) noexcept : ssl_(other.ssl_) { other.ssl_ = nullptr; }
  TlsSocket& operator=(TlsSocket&& other) noexcept;
  TlsSocket(const TlsSocket&) = delete;
  TlsSocket& operator=(const TlsSocket&) = delete;

  /// Starts the server side of a connection on `fd` (already non-blocking) with `context`
  /// (SNI and ALPN callbacks included). False when OpenSSL cannot allocate the object.
  bool open(SSL_CTX* context, int fd);
  /// Frees the SSL object (no close_notify: see shutdownStep()).
  void reset();
  bool isOpen() const { return ssl_ != nullptr; }
  SSL* native() const { return ssl_; }

  /// The negotiated ALPN protocol ("" when none), valid after the handshake.
  std::string_view alpn() const;

  TlsStep handshakeStep();
  /// Reads decrypted bytes into [data, data + size).
  TlsStep readStep(void* data, size_t size);
  /// Writes [data, data + size) — or a part of it: `bytes` says how much was taken.
  TlsStep writeStep(const void* data, size_t size);
  /// Sends close_notify, then waits for the peer's (its application data is discarded).
  TlsStep shutdownStep();

 private:
  TlsStep classify(int result);

  SSL* ssl_ = nullptr;
};

}  // namespace vallum::network
