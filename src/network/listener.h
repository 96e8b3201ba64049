#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/error.h"
#include "config/options.h"

namespace vallum::network {

/// Resolves a listen address: "" → "::" (dual-stack, or 0.0.0.0 without IPv6), "localhost" →
/// 127.0.0.1, otherwise an IP literal or a host name resolved once (first result).
Result<boost::asio::ip::tcp::endpoint> resolveListenAddress(const config::ListenAddress& address);

/// Opens a listening socket with SO_REUSEADDR and SO_REUSEPORT, so every worker can bind its
/// own acceptor to the same address and the kernel spreads connections across them. The
/// socket is bound to `endpoint` (port 0 picks a free port; read it back with
/// local_endpoint() and give that to the other workers). IPv6 "::" also accepts IPv4.
Result<boost::asio::ip::tcp::acceptor> openListener(boost::asio::io_context& io,
                                                    const boost::asio::ip::tcp::endpoint& endpoint,
                                                    int backlog = 4096);

/// "127.0.0.1:8443" / "[::1]:8443".
std::string formatEndpoint(const boost::asio::ip::tcp::endpoint& endpoint);

/// The textual client address for X-Forwarded-For and logs: IPv4-mapped IPv6 addresses are
/// shown as IPv4 ("::ffff:10.0.0.1" → "10.0.0.1").
std::string clientAddressString(const boost::asio::ip::address& address);

}  // namespace vallum::network
