#include "network/tls_socket.h"

#include <cerrno>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <openssl/err.h>

namespace vallum::network {

namespace asio = boost::asio;

TlsSocket& TlsSocket::operator=(TlsSocket&& other) noexcept {
  if (this != &other) {
    reset();
    ssl_ = other.ssl_;
    other.ssl_ = nullptr;
  }
  return *this;
}

bool TlsSocket::open(SSL_CTX* context, int fd) {
  reset();
  ssl_ = SSL_new(context);
  if (ssl_ == nullptr) {
    ERR_clear_error();
    return false;
  }
  // Partial writes: a write returns after each record, so a caller never has to offer the
  // same bytes again after a WANT_WRITE. Released buffers: see the header.
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                         SSL_MODE_RELEASE_BUFFERS);
  if (SSL_set_fd(ssl_, fd) != 1) {
    ERR_clear_error();
    reset();
    return false;
  }
  SSL_set_accept_state(ssl_);
  return true;
}

void TlsSocket::reset() {
  if (ssl_ != nullptr) {
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
}

std::string_view TlsSocket::alpn() const {
  const unsigned char* data = nullptr;
  unsigned int size = 0;
  SSL_get0_alpn_selected(ssl_, &data, &size);
  return {reinterpret_cast<const char*>(data), size};
}

TlsStep TlsSocket::classify(int result) {
  TlsStep step;
  const int error = SSL_get_error(ssl_, result);
  switch (error) {
    case SSL_ERROR_WANT_READ:
      step.kind = TlsStep::Kind::WantRead;
      return step;
    case SSL_ERROR_WANT_WRITE:
      step.kind = TlsStep::Kind::WantWrite;
      return step;
    case SSL_ERROR_ZERO_RETURN:  // close_notify
      step.error = asio::error::eof;
      break;
    case SSL_ERROR_SYSCALL: {
      const int saved = errno;
      const unsigned long queued = ERR_get_error();
      step.error = queued != 0 ? boost::system::error_code(static_cast<int>(queued),
                                                           asio::error::get_ssl_category())
                   : saved != 0 ? boost::system::error_code(saved, boost::system::system_category())
                                : boost::system::error_code(asio::error::eof);
      break;
    }
    default: {
      const unsigned long queued = ERR_peek_last_error();
      // A FIN without close_notify (OpenSSL 3 reports it as an SSL error): the peer is gone.
      step.error = ERR_GET_REASON(queued) == SSL_R_UNEXPECTED_EOF_WHILE_READING
                       ? boost::system::error_code(asio::error::eof)
                       : boost::system::error_code(static_cast<int>(queued),
                                                   asio::error::get_ssl_category());
      break;
    }
  }
  ERR_clear_error();
  step.kind = TlsStep::Kind::Failed;
  return step;
}

TlsStep TlsSocket::handshakeStep() {
  ERR_clear_error();  // SSL_get_error reads this thread's queue: no stale entries
  const int result = SSL_do_handshake(ssl_);
  return result == 1 ? TlsStep{} : classify(result);
}

TlsStep TlsSocket::readStep(void* data, size_t size) {
  ERR_clear_error();
  size_t n = 0;
  const int result = SSL_read_ex(ssl_, data, size, &n);
  if (result == 1) {
    return TlsStep{TlsStep::Kind::Done, n, {}};
  }
  return classify(result);
}

TlsStep TlsSocket::writeStep(const void* data, size_t size) {
  ERR_clear_error();
  size_t n = 0;
  const int result = SSL_write_ex(ssl_, data, size, &n);
  if (result == 1) {
    return TlsStep{TlsStep::Kind::Done, n, {}};
  }
  return classify(result);
}

TlsStep TlsSocket::shutdownStep() {
  ERR_clear_error();
  const int result = SSL_shutdown(ssl_);
  if (result == 1) {
    return TlsStep{};
  }
  if (result == 0) {
    // close_notify sent; the next call reads until the peer's arrives.
    TlsStep step;
    step.kind = TlsStep::Kind::WantRead;
    return step;
  }
  return classify(result);
}

}  // namespace vallum::network
