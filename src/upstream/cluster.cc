#include "upstream/cluster.h"

#include <algorithm>

#include <boost/asio/io_context.hpp>

namespace vallum::upstream {

namespace asio = boost::asio;
using asio::ip::tcp;

Cluster buildCluster(const std::vector<config::UpstreamUrl>& to, bool resolve,
                     std::vector<std::string>* warnings, bool ipv4_only) {
  Cluster cluster;
  cluster.weighted = !to.empty() && to.front().weight != 0;
  for (const config::UpstreamUrl& url : to) {
    Endpoint ep;
    ep.authority = url.authority;
    ep.weight = url.weight == 0 ? 1 : url.weight;
    boost::system::error_code ec;
    std::string host = url.host == "localhost" ? std::string("127.0.0.1") : url.host;
    auto ip = asio::ip::make_address(host, ec);
    if (url.scheme == "unix") {
      ep.unix_path = url.unix_path;
      ep.resolved = true;
    } else if (!ec) {
      ep.address = tcp::endpoint(ip, url.effective_port);
      ep.resolved = true;
    } else if (resolve) {
      asio::io_context io;
      tcp::resolver resolver(io);
      const std::string port = std::to_string(url.effective_port);
      auto results = ipv4_only ? resolver.resolve(tcp::v4(), host, port, ec)
                               : resolver.resolve(host, port, ec);
      if (!ec && !results.empty()) {
        ep.address = results.begin()->endpoint();
        ep.resolved = true;
      } else if (warnings != nullptr) {
        warnings->push_back("cannot resolve upstream host " + url.host + ": " + ec.message());
      }
    }
    if (!ep.unix_path.empty()) {
      ep.address_text = "unix:" + ep.unix_path;
    } else if (ep.resolved) {
      const auto& a = ep.address.address();
      ep.address_text = (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" +
                        std::to_string(ep.address.port());
    } else {
      ep.address_text = url.authority;
    }
    ep.pool_key = url.scheme + "|" + ep.address_text;
    ep.tls = url.scheme == "https";
    ep.host = url.host;
    cluster.endpoints.push_back(std::move(ep));
  }
  const bool all_h2c = !to.empty() && std::all_of(to.begin(), to.end(), [](const auto& url) {
    return url.scheme == "h2c";
  });
  const bool all_https = !to.empty() && std::all_of(to.begin(), to.end(), [](const auto& url) {
    return url.scheme == "https";
  });
  for (Endpoint& ep : cluster.endpoints) {
    ep.http2 = all_h2c;
    ep.alpn_h2 = all_https;
  }
  cluster.health = std::make_shared<ClusterHealth>();
  for (size_t i = 0; i < cluster.endpoints.size(); ++i) {
    cluster.health->hosts.push_back(std::make_shared<HostHealth>());
  }
  return cluster;
}

void attachTls(Cluster& cluster, tls::ClientContextConstSharedPtr context,
               const config::UpstreamTls& settings) {
  // Hash of everything that changes what a TLS connection is: pooled connections are shared
  // only between endpoints with the same address, server name and settings.
  const size_t identity = std::hash<std::string>{}(
      std::string(settings.skip_verify ? "1" : "0") + "|" + settings.server_name + "|" +
      settings.custom_ca + "|" + settings.client_cert + "|" + settings.client_key);
  for (Endpoint& ep : cluster.endpoints) {
    if (!ep.tls) {
      continue;
    }
    ep.tls_server_name = context->serverName(ep.host);
    ep.pool_key += "|" + ep.tls_server_name + "|" + std::to_string(identity);
  }
  cluster.tls_context = std::move(context);
}

std::vector<lb::LbHost> balancingHosts(const Cluster& cluster, bool* panic) {
  std::vector<lb::LbHost> all;
  std::vector<lb::LbHost> routable;
  all.reserve(cluster.endpoints.size());
  for (size_t i = 0; i < cluster.endpoints.size(); ++i) {
    const Endpoint& ep = cluster.endpoints[i];
    lb::LbHost host;
    host.index = uint32_t(i);
    host.weight = ep.weight;
    host.hash_key = ep.address_text;
    host.active_requests = &cluster.health->hosts[i]->active_requests;
    if (cluster.health->hosts[i]->routable()) {
      routable.push_back(host);
    }
    all.push_back(std::move(host));
  }
  if (panic != nullptr) {
    *panic = false;
  }
  // Panic when strictly fewer than the threshold share are routable (4 hosts, 1 healthy = 25%
  // < 50% → panic; 2 of 4 = 50% → not). Threshold 0 never panics.
  if (!all.empty() && routable.size() * 100 < uint64_t(cluster.panic_threshold) * all.size()) {
    if (panic != nullptr) {
      *panic = true;
    }
    return all;
  }
  return routable;
}

}  // namespace vallum::upstream
