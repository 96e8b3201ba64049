#include "upstream/pool/connector.h"

#include <openssl/ssl.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace vallum::upstream::pool {

namespace {
namespace asio = boost::asio;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
}  // namespace

asio::awaitable<std::optional<ConnectFailure>> connectTransport(
    asio::ip::tcp::socket& socket, std::unique_ptr<TlsClientStream>& tls_stream,
    const ConnectTarget& target) {
  tls_stream.reset();
  auto [ec] = co_await socket.async_connect(target.address, kUse);
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
