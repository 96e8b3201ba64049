#include "upstream/pool/connector.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include <openssl/ssl.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace vallum::upstream::pool {

namespace {
namespace asio = boost::asio;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
}  // namespace

namespace {

/// A Unix-domain stream connect (connect(2) on AF_UNIX completes or fails at once; EAGAIN, a
/// full backlog, is a refusal like any other), its descriptor then given to `socket`.
boost::system::error_code connectUnix(asio::ip::tcp::socket& socket, std::string_view path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address.sun_path)) {
    return asio::error::name_too_long;
  }
  std::memcpy(address.sun_path, path.data(), path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return {errno, boost::system::system_category()};
  }
  const socklen_t length = socklen_t(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
    const int error = errno;
    ::close(fd);
    return {error, boost::system::system_category()};
  }
  boost::system::error_code ec;
  socket.close(ec);
  socket.assign(asio::ip::tcp::v4(), fd, ec);
  if (ec) {
    ::close(fd);
  }
  return ec;
}

}  // namespace

asio::awaitable<std::optional<ConnectFailure>> connectTransport(
    asio::ip::tcp::socket& socket, std::unique_ptr<TlsClientStream>& tls_stream,
    const ConnectTarget& target) {
  tls_stream.reset();
  boost::system::error_code ec;
  if (!target.unix_path.empty()) {
    ec = connectUnix(socket, target.unix_path);
  } else {
    // (GCC 12: no co_await inside a condition.)
    auto [connect_ec] = co_await socket.async_connect(target.address, kUse);
    ec = connect_ec;
  }
  if (ec) {
    co_return ConnectFailure{ConnectFailure::Stage::Tcp, ec};
  }
  boost::system::error_code ignored;
  socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  if (target.tls == nullptr) {
    co_return std::nullopt;
  }
  tls_stream = std::make_unique<TlsClientStream>(socket, target.tls->sslContext());
  SSL* ssl = tls_stream->native_handle();
  target.tls->prepare(ssl, std::string(target.server_name));
  if (!target.alpn.empty()) {
    SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(target.alpn.data()),
                        static_cast<unsigned int>(target.alpn.size()));
  }
  auto [hec] = co_await tls_stream->async_handshake(asio::ssl::stream_base::client, kUse);
  if (hec) {
    co_return ConnectFailure{ConnectFailure::Stage::Tls, hec};
  }
  co_return std::nullopt;
}

bool alpnChoseH2(TlsClientStream& tls_stream) {
  const unsigned char* protocol = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(tls_stream.native_handle(), &protocol, &length);
  return length == 2 && protocol[0] == 'h' && protocol[1] == '2';
}

}  // namespace vallum::upstream::pool
