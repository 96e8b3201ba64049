#include "upstream/cluster.h"

#include <boost/asio/io_context.hpp>

namespace vallum::upstream {

namespace asio = boost::asio;
using asio::ip::tcp;

Cluster buildCluster(const std::vector<config::UpstreamUrl>& to, bool resolve,
                     std::vector<std::string>* warnings) {
  Cluster cluster;
  cluster.weighted = !to.empty() && to.front().weight != 0;
  for (const config::UpstreamUrl& url : to) {
    Endpoint ep;
    ep.authority = url.authority;
    ep.weight = url.weight == 0 ? 1 : url.weight;
    boost::system::error_code ec;
    std::string host = url.host == "localhost" ? std::string("127.0.0.1") : url.host;
    auto ip = asio::ip::make_address(host, ec);
    if (!ec) {
      ep.address = tcp::endpoint(ip, url.effective_port);
      ep.resolved = true;
    } else if (resolve) {
      asio::io_context io;
      tcp::resolver resolver(io);
      auto results = resolver.resolve(host, std::to_string(url.effective_port), ec);
      if (!ec && !results.empty()) {
        ep.address = results.begin()->endpoint();
        ep.resolved = true;
      } else if (warnings != nullptr) {
        warnings->push_back("cannot resolve upstream host " + url.host + ": " + ec.message());
      }
    }
    if (ep.resolved) {
      const auto& a = ep.address.address();
      ep.address_text = (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" +
                        std::to_string(ep.address.port());
    } else {
      ep.address_text = url.authority;
    }
    ep.pool_key = url.scheme + "|" + ep.address_text;
    cluster.endpoints.push_back(std::move(ep));
  }
  return cluster;
}

}  // namespace vallum::upstream
