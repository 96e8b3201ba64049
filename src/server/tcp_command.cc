#include "server/tcp_command.h"

#include <csignal>
#include <memory>
#include <ostream>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "config/url.h"
#include "network/listener.h"
#include "network/tunnel.h"

// GCC 12 at -O2 reports -Wmismatched-new-delete on asio coroutine frames: a false positive
// (see proxy/oidc_client.cc).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace vallum::server {

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using TlsStream = asio::ssl::stream<tcp::socket>;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

/// The proxy side of a tunnel: the TLS stream that carried the CONNECT.
class ProxyEnd final : public network::TunnelEnd {
 public:
  explicit ProxyEnd(TlsStream& stream) : stream_(stream) {}
  asio::awaitable<size_t> readSome(asio::mutable_buffer buffer) override {
    auto [ec, n] = co_await stream_.async_read_some(buffer, kUse);
    co_return ec ? 0 : n;  // close_notify or a closed socket: the end of the stream
  }
  asio::awaitable<bool> writeAll(asio::const_buffer buffer) override {
    auto [ec, n] = co_await asio::async_write(stream_, buffer, kUse);
    co_return !ec;
  }
  /// A TCP half-close: the proxy reads it as the end of our bytes and passes it on, while its
  /// bytes keep coming.
  void shutdownWrite() override {
    boost::system::error_code ignored;
    stream_.lowest_layer().shutdown(tcp::socket::shutdown_send, ignored);
  }
  void cancel() override {
    boost::system::error_code ignored;
    stream_.lowest_layer().cancel(ignored);
  }

 private:
  TlsStream& stream_;
};

struct Target {
  std::string connect_authority;  ///< host:port the CONNECT asks for
  std::string proxy_host;         ///< TLS server name and where to connect
  std::string proxy_port;
};

/// Reads the route URL (and the --pomerium-url override) as pomerium-cli does.
bool parseTarget(const TcpOptions& options, Target& out, std::ostream& err) {
  auto route = config::splitUrl(options.route_url);
  if (!route || (route->scheme != "tcp+https" && route->scheme != "tcp+http") ||
      route->host.empty()) {
    err << "vallum tcp: " << options.route_url
        << " is not a tcp+https:// route URL (tcp+https://host:port)\n";
    return false;
  }
  std::string_view path = route->path;
  while (!path.empty() && path.front() == '/') {
    path.remove_prefix(1);
  }
  if (!path.empty()) {
    out.connect_authority = std::string(path.substr(0, path.find('/')));
    out.proxy_port = route->port ? std::to_string(*route->port) : "443";
  } else if (route->port) {
    out.connect_authority = route->authority;
    out.proxy_port = "443";
  } else {
    err << "vallum tcp: " << options.route_url << " has no port (tcp+https://host:port)\n";
    return false;
  }
  out.proxy_host = route->host;
  if (!options.proxy_url.empty()) {
    auto proxy = config::splitUrl(options.proxy_url);
    if (!proxy || proxy->host.empty() || (proxy->scheme != "https" && !proxy->scheme.empty())) {
      err << "vallum tcp: --pomerium-url " << options.proxy_url
          << " is not an https:// URL with a host\n";
      return false;
    }
    out.proxy_host = proxy->host;
    out.proxy_port = proxy->port ? std::to_string(*proxy->port) : "443";
  }
  return true;
}

/// One accepted local connection: TLS to the proxy, CONNECT, then the tunnel.
asio::awaitable<void> serveOne(tcp::socket local, asio::ssl::context& tls, Target target,
                               std::ostream& err) {
  const auto executor = co_await asio::this_coro::executor;
  TlsStream proxy(executor, tls);
  tcp::resolver resolver(executor);
  auto [rec, endpoints] = co_await resolver.async_resolve(target.proxy_host, target.proxy_port, kUse);
  if (rec) {
    err << "vallum tcp: cannot resolve " << target.proxy_host << ": " << rec.message() << '\n';
    co_return;
  }
  auto [cec, connected] = co_await asio::async_connect(proxy.lowest_layer(), endpoints, kUse);
  if (cec) {
    err << "vallum tcp: cannot connect to " << target.proxy_host << ':' << target.proxy_port
        << ": " << cec.message() << '\n';
    co_return;
  }
  SSL_set_tlsext_host_name(proxy.native_handle(), target.proxy_host.c_str());
  proxy.set_verify_callback(asio::ssl::host_name_verification(target.proxy_host));
  auto [hec] = co_await proxy.async_handshake(asio::ssl::stream_base::client, kUse);
  if (hec) {
    err << "vallum tcp: TLS with " << target.proxy_host << " failed: " << hec.message() << '\n';
    co_return;
  }
  const std::string request = "CONNECT " + target.connect_authority + " HTTP/1.1\r\nHost: " +
                              target.connect_authority + "\r\n\r\n";
  auto [wec, wn] = co_await asio::async_write(proxy, asio::buffer(request), kUse);
  if (wec) {
    co_return;
  }
  asio::streambuf head(64 * 1024);
  auto [hrec, hn] = co_await asio::async_read_until(proxy, head, "\r\n\r\n", kUse);
  if (hrec) {
    err << "vallum tcp: the proxy closed before answering the CONNECT\n";
    co_return;
  }
  const std::string text(asio::buffers_begin(head.data()), asio::buffers_begin(head.data()) + hn);
  const std::string status_line = text.substr(0, text.find("\r\n"));
  if (status_line.size() < 12 || status_line.compare(9, 3, "200") != 0) {
    err << "vallum tcp: CONNECT " << target.connect_authority << " answered \"" << status_line
        << "\"";
    if (status_line.find(" 302") != std::string::npos ||
        status_line.find(" 401") != std::string::npos) {
      err << ": the route needs a signed-in user, and vallum tcp does not sign in yet (give "
             "the route a public policy, or allow the client by source_ip)";
    }
    err << '\n';
    co_return;
  }
  head.consume(hn);
  // Bytes that came right behind the 200 belong to the tunnel.
  if (head.size() > 0) {
    auto [ec, n] = co_await asio::async_write(local, head.data(), kUse);
    if (ec) {
      co_return;
    }
  }
  network::SocketTunnelEnd<tcp::socket> client_end(local);
  ProxyEnd proxy_end(proxy);
  co_await network::runTunnel(client_end, proxy_end, network::TunnelOptions{});
}

asio::awaitable<void> acceptLoop(tcp::acceptor& acceptor, asio::ssl::context& tls, Target target,
                                 std::ostream& err) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kUse);
    if (ec) {
      if (ec == asio::error::operation_aborted) {
        co_return;
      }
      continue;
    }
    asio::co_spawn(acceptor.get_executor(), serveOne(std::move(socket), tls, target, err),
                   asio::detached);
  }
}

}  // namespace

int tcp(const TcpOptions& options, std::ostream& out, std::ostream& err) {
  Target target;
  if (!parseTarget(options, target, err)) {
    return 1;
  }
  auto listen = config::parseListenAddress(options.listen);
  if (!listen) {
    err << "vallum tcp: --listen: " << listen.error().detail() << '\n';
    return 1;
  }
  auto endpoint = network::resolveListenAddress(listen->address);
  if (!endpoint) {
    err << "vallum tcp: --listen: " << endpoint.error().detail() << '\n';
    return 1;
  }
  asio::ssl::context tls(asio::ssl::context::tls_client);
  tls.set_verify_mode(asio::ssl::verify_peer);
  boost::system::error_code ec;
  if (options.ca_cert.empty()) {
    tls.set_default_verify_paths(ec);
  } else {
    tls.load_verify_file(options.ca_cert, ec);
  }
  if (ec) {
    err << "vallum tcp: cannot load " << (options.ca_cert.empty() ? "the system CAs" : options.ca_cert)
        << ": " << ec.message() << '\n';
    return 1;
  }
  asio::io_context io(1);
  tcp::acceptor acceptor(io);
  acceptor.open(endpoint->protocol(), ec);
  if (!ec) {
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    acceptor.bind(*endpoint, ec);
  }
  if (!ec) {
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    err << "vallum tcp: cannot listen on " << options.listen << ": " << ec.message() << '\n';
    return 1;
  }
  out << "listening on " << network::formatEndpoint(acceptor.local_endpoint()) << " for "
      << target.connect_authority << " via " << target.proxy_host << ':' << target.proxy_port
      << std::endl;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    io.stop();
  });
  asio::co_spawn(io, acceptLoop(acceptor, tls, target, err), asio::detached);
  io.run();
  return 0;
}

}  // namespace vallum::server
