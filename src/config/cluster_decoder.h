#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/options.h"
#include "config/value_reader.h"
#include "config/yaml_tree.h"

/// Internal to the config component: the route keys that describe the upstream cluster
/// (Pomerium route options): load balancing (`lb_policy`, `load_balancing_policy`,
/// the three `*_lb_config` objects, `hash_policy`, `healthy_panic_threshold`), `health_checks`,
/// `outlier_detection` and upstream TLS (`tls_skip_verify`, `tls_server_name`,
/// `tls_upstream_server_name`, `tls_custom_ca[_file]`, `tls_client_cert[_file]`,
/// `tls_client_key[_file]`).
namespace vallum::config {

/// "ROUND_ROBIN", "LEAST_REQUEST", "RANDOM", "RING_HASH", "MAGLEV".
std::string_view lbPolicyName(LbPolicy policy);

/// Parses a policy name case-insensitively: "ROUND_ROBIN", "round_robin",
/// "LOAD_BALANCING_POLICY_ROUND_ROBIN"; "UNSPECIFIED" (with or without the prefix) is ROUND_ROBIN.
std::optional<LbPolicy> parseLbPolicy(std::string_view text);

/// Decodes the cluster keys of one route. Keys may come in any order, so the checks that
/// involve several of them (the chosen policy against the `*_lb_config` objects and
/// `hash_policy`, the TLS pairs, the outlier-detection lint that needs the `to` count) run in
/// finish().
class ClusterDecoder {
 public:
  /// Diagnostics go through `reader`, which must outlive this object.
  explicit ClusterDecoder(ValueReader& reader);
  ~ClusterDecoder();
  ClusterDecoder(const ClusterDecoder&) = delete;
  ClusterDecoder& operator=(const ClusterDecoder&) = delete;

  /// True when `name` is one of the route keys this class decodes.
  static bool handles(std::string_view name);

  /// Decodes one non-null entry whose name handles() accepted; `key` is its YAML path.
  void decode(const yaml::Entry& entry, const std::string& key, Route& route);

  /// Cross-key checks; call once after every key of the route (including `to`) was decoded.
  void finish(Route& route);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace vallum::config
