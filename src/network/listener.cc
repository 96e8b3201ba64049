#include "network/listener.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/ip/v6_only.hpp>

namespace vallum::network {

namespace asio = boost::asio;
using asio::ip::tcp;

Result<tcp::endpoint> resolveListenAddress(const config::ListenAddress& address) {
  boost::system::error_code ec;
  if (address.host.empty()) {
    // Prefer dual-stack "::"; fall back to IPv4 when the kernel has no IPv6.
    asio::io_context probe_io;
    tcp::socket probe(probe_io);
    probe.open(tcp::v6(), ec);
    if (!ec) {
      return tcp::endpoint(asio::ip::address_v6::any(), address.port);
    }
    return tcp::endpoint(asio::ip::address_v4::any(), address.port);
  }
  if (address.host == "localhost") {
    return tcp::endpoint(asio::ip::address_v4::loopback(), address.port);
  }
  auto ip = asio::ip::make_address(address.host, ec);
  if (!ec) {
    return tcp::endpoint(ip, address.port);
  }
  asio::io_context io;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(address.host, std::to_string(address.port), ec);
  if (ec || results.empty()) {
    return Error(Errc::NotFound, ErrorSource::Config,
                 "cannot resolve listen address " + address.host + ": " + ec.message());
  }
  return results.begin()->endpoint();
}

Result<tcp::acceptor> openListener(asio::io_context& io, const tcp::endpoint& endpoint,
                                   int backlog) {
  tcp::acceptor acceptor(io);
  boost::system::error_code ec;
  auto fail = [&](const char* what) {
    return Error(Errc::InvalidArgument, ErrorSource::Config,
                 std::string(what) + " " + formatEndpoint(endpoint) + ": " + ec.message());
  };
  acceptor.open(endpoint.protocol(), ec);
  if (ec) {
    return fail("cannot open socket for");
  }
  acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  int one = 1;
  if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    ec.assign(errno, boost::system::system_category());
    return fail("cannot set SO_REUSEPORT on");
  }
  if (endpoint.address().is_v6() && endpoint.address().to_v6().is_unspecified()) {
    acceptor.set_option(asio::ip::v6_only(false), ec);
  }
  acceptor.bind(endpoint, ec);
  if (ec) {
    return fail("cannot bind");
  }
  acceptor.listen(backlog, ec);
  if (ec) {
    return fail("cannot listen on");
  }
  acceptor.non_blocking(true, ec);
  return acceptor;
}

std::string formatEndpoint(const tcp::endpoint& endpoint) {
  const asio::ip::address& a = endpoint.address();
  if (a.is_v6() && !a.to_v6().is_v4_mapped()) {
    return "[" + a.to_string() + "]:" + std::to_string(endpoint.port());
  }
  return clientAddressString(a) + ":" + std::to_string(endpoint.port());
}

namespace {

/// Dotted-quad text without inet_ntop (which goes through printf: ~1k instructions, paid once
/// per accepted connection).
std::string formatV4(const asio::ip::address_v4::bytes_type& bytes) {
  char text[15];
  char* p = text;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i != 0) {
      *p++ = '.';
    }
    const unsigned value = bytes[i];
    if (value >= 100) {
      *p++ = char('0' + value / 100);
    }
    if (value >= 10) {
      *p++ = char('0' + value / 10 % 10);
    }
    *p++ = char('0' + value % 10);
  }
  return std::string(text, size_t(p - text));
}

}  // namespace

std::string clientAddressString(const asio::ip::address& address) {
  if (address.is_v4()) {
    return formatV4(address.to_v4().to_bytes());
  }
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) {
    return formatV4(asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_bytes());
  }
  return address.to_string();
}

}  // namespace vallum::network
