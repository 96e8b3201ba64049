// DownstreamConnection over TLS (network/tls_socket.h): the server side on asio, a blocking
// OpenSSL client on a thread, real loopback TCP with small socket buffers so that writes go
// through WANT_WRITE and partial writes.

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <string>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "network/downstream_connection.h"

namespace vallum::network {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

/// A server context with a fresh self-signed P-256 certificate and ALPN h2/http1.1 (server
/// preference), as tls/server_context configures it.
SSL_CTX* serverContext() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_sign(cert, key, EVP_sha256());
  SSL_CTX_use_certificate(ctx, cert);
  SSL_CTX_use_PrivateKey(ctx, key);
  X509_free(cert);
  EVP_PKEY_free(key);
  SSL_CTX_set_alpn_select_cb(
      ctx,
      [](SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
         unsigned int inlen, void*) {
        static const unsigned char kOurs[] = "\x02h2\x08http/1.1";
        unsigned char* selected = nullptr;
        if (SSL_select_next_proto(&selected, outlen, kOurs, sizeof(kOurs) - 1, in, inlen) ==
            OPENSSL_NPN_NEGOTIATED) {
          *out = selected;
          return SSL_TLSEXT_ERR_OK;
        }
        return SSL_TLSEXT_ERR_NOACK;
      },
      nullptr);
  return ctx;
}

/// A blocking TLS client on its own socket (connected to `port`).
struct Client {
  explicit Client(uint16_t port) {
    ctx = SSL_CTX_new(TLS_client_method());
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    const int small = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>("\x08http/1.1\x02h2"), 12);
  }
  ~Client() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ::close(fd);
  }
  bool handshake() { return SSL_connect(ssl) == 1; }
  void writeAll(const std::string& data) {
    size_t at = 0;
    while (at < data.size()) {
      size_t n = 0;
      ASSERT_EQ(SSL_write_ex(ssl, data.data() + at, data.size() - at, &n), 1);
      at += n;
    }
  }
  /// Reads until `size` bytes or the end; returns what came.
  std::string read(size_t size) {
    std::string out;
    std::array<char, 16384> buf{};
    while (out.size() < size) {
      size_t n = 0;
      if (SSL_read_ex(ssl, buf.data(), std::min(buf.size(), size - out.size()), &n) != 1) {
        break;
      }
      out.append(buf.data(), n);
    }
    return out;
  }
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  int fd = -1;
};

class DownstreamTlsTest : public ::testing::Test {
 protected:
  DownstreamTlsTest()
      : ctx_(serverContext()), acceptor_(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {}
  ~DownstreamTlsTest() override { SSL_CTX_free(ctx_); }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }

  /// Accepts one connection into `connection` (TLS, small send buffer).
  asio::awaitable<void> accept(DownstreamConnection& connection) {
    auto [ec, socket] = co_await acceptor_.async_accept(kUse);
    EXPECT_FALSE(ec);
    socket.set_option(asio::socket_base::send_buffer_size(4096));
    EXPECT_TRUE(connection.attach(std::move(socket), ctx_));
    const boost::system::error_code hs = co_await connection.handshake();
    EXPECT_FALSE(hs) << hs.message();
  }

  asio::io_context io_;
  SSL_CTX* ctx_;
  tcp::acceptor acceptor_;
};

TEST_F(DownstreamTlsTest, EchoesAMegabyteThroughPartialWritesAndGatheredBuffers) {
  std::string payload(1 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i) {
    payload[i] = static_cast<char>('a' + i % 26);
  }
  std::string echoed;
  std::string alpn;
  std::thread client([&] {
    Client c(port());
    ASSERT_TRUE(c.handshake());
    c.writeAll(payload);
    echoed = c.read(payload.size());
  });
  DownstreamConnection connection(io_);
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        co_await accept(connection);
        alpn = std::string(connection.alpn());
        std::string got;
        std::array<char, 32768> buf{};
        while (got.size() < payload.size()) {
          auto [ec, n] = co_await connection.asyncReadSome(asio::buffer(buf), kUse);
          EXPECT_FALSE(ec) << ec.message();
          if (ec) {
            co_return;
          }
          got.append(buf.data(), n);
        }
        EXPECT_EQ(got, payload);
        // Three pieces in one gathered write: 100 KB, one byte, the rest.
        const std::array<asio::const_buffer, 3> pieces = {
            asio::buffer(got.data(), 100000), asio::buffer(got.data() + 100000, 1),
            asio::buffer(got.data() + 100001, got.size() - 100001)};
        auto [wec, written] = co_await connection.asyncWrite(
            BufferSpan{pieces.data(), pieces.data() + pieces.size()}, kUse);
        EXPECT_FALSE(wec) << wec.message();
        EXPECT_EQ(written, payload.size());
      },
      asio::detached);
  io_.run();
  client.join();
  EXPECT_EQ(alpn, "h2");  // the server's preference wins
  EXPECT_EQ(echoed.size(), payload.size());
  EXPECT_TRUE(echoed == payload);
}

TEST_F(DownstreamTlsTest, CancelledReadLosesNothingAndCloseNotifyReadsAsEof) {
  std::string second;
  boost::system::error_code cancelled;
  boost::system::error_code at_end;
  std::thread client([&] {
    Client c(port());
    ASSERT_TRUE(c.handshake());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the server cancels meanwhile
    c.writeAll("after the cancel");
    EXPECT_EQ(c.read(5), "hello");
    SSL_shutdown(c.ssl);  // close_notify
  });
  DownstreamConnection connection(io_);
  asio::steady_timer timer(io_);
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        co_await accept(connection);
        timer.expires_after(std::chrono::milliseconds(50));
        timer.async_wait([&](boost::system::error_code) { connection.cancel(); });
        std::array<char, 64> buf{};
        auto [ec, n] = co_await connection.asyncReadSome(asio::buffer(buf), kUse);
        cancelled = ec;
        // The bytes sent after the cancel arrive intact on the next read.
        while (second.size() < 16) {
          auto [ec2, n2] = co_await connection.asyncReadSome(asio::buffer(buf), kUse);
          if (ec2) {
            break;
          }
          second.append(buf.data(), n2);
        }
        const std::string hello = "hello";
        auto [wec, wn] = co_await connection.asyncWrite(asio::buffer(hello), kUse);
        EXPECT_FALSE(wec);
        auto [ec3, n3] = co_await connection.asyncReadSome(asio::buffer(buf), kUse);
        at_end = ec3;
      },
      asio::detached);
  io_.run();
  client.join();
  EXPECT_EQ(cancelled, asio::error::operation_aborted);
  EXPECT_EQ(second, "after the cancel");
  EXPECT_EQ(at_end, asio::error::eof);
}

TEST_F(DownstreamTlsTest, PlainFinWithoutCloseNotifyReadsAsEof) {
  boost::system::error_code at_end;
  std::thread client([&] {
    Client c(port());
    ASSERT_TRUE(c.handshake());
    ::shutdown(c.fd, SHUT_WR);  // TCP FIN, no TLS alert
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  });
  DownstreamConnection connection(io_);
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        co_await accept(connection);
        std::array<char, 64> buf{};
        auto [ec, n] = co_await connection.asyncReadSome(asio::buffer(buf), kUse);
        at_end = ec;
      },
      asio::detached);
  io_.run();
  client.join();
  EXPECT_EQ(at_end, asio::error::eof);
}

TEST_F(DownstreamTlsTest, LingeringCloseSendsCloseNotify) {
  int client_saw = 0;
  std::thread client([&] {
    Client c(port());
    ASSERT_TRUE(c.handshake());
    char b = 0;
    size_t n = 0;
    const int r = SSL_read_ex(c.ssl, &b, 1, &n);
    client_saw = SSL_get_error(c.ssl, r);
    SSL_shutdown(c.ssl);  // answer it, so the server's shutdown completes
  });
  DownstreamConnection connection(io_);
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        co_await accept(connection);
        std::array<char, 64> scratch{};
        co_await connection.lingeringClose(asio::buffer(scratch), 1024);
      },
      asio::detached);
  io_.run();
  client.join();
  EXPECT_EQ(client_saw, SSL_ERROR_ZERO_RETURN);
}

}  // namespace
}  // namespace vallum::network
