#include "config/cluster_decoder.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "common/strings.h"
#include "config/diagnostics.h"
#include "config/health_check_decoder.h"
#include "config/proto_object.h"

namespace vallum::config {

namespace {

using yaml::childKey;
using yaml::indexKey;

struct PolicyNameEntry {
  std::string_view name;
  LbPolicy policy;
};

constexpr PolicyNameEntry kPolicyNames[] = {
    {"ROUND_ROBIN", LbPolicy::RoundRobin}, {"LEAST_REQUEST", LbPolicy::LeastRequest},
    {"RANDOM", LbPolicy::Random},          {"RING_HASH", LbPolicy::RingHash},
    {"MAGLEV", LbPolicy::Maglev},
};

// Envoy's caps (ring_hash.proto, maglev.proto); the same as upstream::lb::kMaxRingSize and
// kMaxMaglevTableSize.
constexpr uint64_t kMaxRingSize = 8388608;
constexpr uint64_t kMaxMaglevTableSize = 5000011;

constexpr std::string_view kClusterKeys[] = {
    "lb_policy",
    "load_balancing_policy",
    "least_request_lb_config",
    "ring_hash_lb_config",
    "maglev_lb_config",
    "hash_policy",
    "healthy_panic_threshold",
    "health_checks",
    "outlier_detection",
    "tls_skip_verify",
    "tls_server_name",
    "tls_upstream_server_name",
    "tls_custom_ca",
    "tls_custom_ca_file",
    "tls_client_cert",
    "tls_client_cert_file",
    "tls_client_key",
    "tls_client_key_file",
};

// Envoy Cluster.LeastRequestLbConfig / RingHashLbConfig / MaglevLbConfig (the legacy shapes the
// route docs show).
constexpr ProtoFieldSpec kLeastRequestFields[] = {
    {"choice_count"},
    {"active_request_bias"},
    {"slow_start_config", "slow start is not supported yet"},
};
constexpr ProtoFieldSpec kRuntimeDoubleFields[] = {
    {"default_value"},
    {"runtime_key", "there are no runtime overrides"},
};
constexpr ProtoFieldSpec kRingHashFields[] = {
    {"minimum_ring_size"},
    {"maximum_ring_size"},
    {"hash_function"},
};
constexpr ProtoFieldSpec kMaglevFields[] = {
    {"table_size"},
};

// Envoy RouteAction.HashPolicy.
constexpr ProtoFieldSpec kHashPolicyFields[] = {
    {"header"},          {"cookie"},       {"connection_properties"},
    {"query_parameter"}, {"filter_state"}, {"terminal"},
};
constexpr ProtoFieldSpec kHeaderHashFields[] = {{"header_name"}, {"regex_rewrite"}};
constexpr std::string_view kNoCookieGeneration = "cookie generation is not supported";
constexpr ProtoFieldSpec kCookieHashFields[] = {
    {"name"},
    {"ttl", kNoCookieGeneration},
    {"path", kNoCookieGeneration},
    {"attributes", kNoCookieGeneration},
};
constexpr ProtoFieldSpec kQueryHashFields[] = {{"name"}};
constexpr ProtoFieldSpec kConnectionHashFields[] = {{"source_ip"}};

// Envoy cluster.v3.OutlierDetection.
struct OutlierUint {
  std::string_view name;
  uint32_t OutlierDetection::*field;
  bool percent;
};
constexpr OutlierUint kOutlierUints[] = {
    {"consecutive_5xx", &OutlierDetection::consecutive_5xx, false},
    {"consecutive_gateway_failure", &OutlierDetection::consecutive_gateway_failure, false},
    {"consecutive_local_origin_failure", &OutlierDetection::consecutive_local_origin_failure,
     false},
    {"max_ejection_percent", &OutlierDetection::max_ejection_percent, true},
    {"enforcing_consecutive_5xx", &OutlierDetection::enforcing_consecutive_5xx, true},
    {"enforcing_consecutive_gateway_failure",
     &OutlierDetection::enforcing_consecutive_gateway_failure, true},
    {"enforcing_consecutive_local_origin_failure",
     &OutlierDetection::enforcing_consecutive_local_origin_failure, true},
    {"enforcing_success_rate", &OutlierDetection::enforcing_success_rate, true},
    {"enforcing_local_origin_success_rate", &OutlierDetection::enforcing_local_origin_success_rate,
     true},
    {"success_rate_minimum_hosts", &OutlierDetection::success_rate_minimum_hosts, false},
    {"success_rate_request_volume", &OutlierDetection::success_rate_request_volume, false},
    {"success_rate_stdev_factor", &OutlierDetection::success_rate_stdev_factor, false},
    {"failure_percentage_threshold", &OutlierDetection::failure_percentage_threshold, true},
    {"enforcing_failure_percentage", &OutlierDetection::enforcing_failure_percentage, true},
    {"enforcing_failure_percentage_local_origin",
     &OutlierDetection::enforcing_failure_percentage_local_origin, true},
    {"failure_percentage_minimum_hosts", &OutlierDetection::failure_percentage_minimum_hosts,
     false},
    {"failure_percentage_request_volume", &OutlierDetection::failure_percentage_request_volume,
     false},
};
struct OutlierDuration {
  std::string_view name;
  Duration OutlierDetection::*field;
  bool positive;  ///< Envoy's `gt: {}`
};
constexpr OutlierDuration kOutlierDurations[] = {
    {"interval", &OutlierDetection::interval, true},
    {"base_ejection_time", &OutlierDetection::base_ejection_time, true},
    {"max_ejection_time", &OutlierDetection::max_ejection_time, true},
    {"max_ejection_time_jitter", &OutlierDetection::max_ejection_time_jitter, false},
};
struct OutlierBool {
  std::string_view name;
  bool OutlierDetection::*field;
};
constexpr OutlierBool kOutlierBools[] = {
    {"split_external_local_origin_errors", &OutlierDetection::split_external_local_origin_errors},
    {"successful_active_health_check_uneject_host",
     &OutlierDetection::successful_active_health_check_uneject_host},
    {"always_eject_one_host", &OutlierDetection::always_eject_one_host},
};

const std::vector<ProtoFieldSpec>& outlierFields() {
  static const std::vector<ProtoFieldSpec> fields = [] {
    std::vector<ProtoFieldSpec> out;
    for (const OutlierUint& f : kOutlierUints) {
      out.push_back({f.name});
    }
    for (const OutlierDuration& f : kOutlierDurations) {
      out.push_back({f.name});
    }
    for (const OutlierBool& f : kOutlierBools) {
      out.push_back({f.name});
    }
    out.push_back({"monitors"});
    out.push_back({"detect_degraded_hosts", "Vallum has no degraded host state"});
    return out;
  }();
  return fields;
}

bool isPrime(uint64_t n) {
  if (n < 2) {
    return false;
  }
  for (uint64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) {
      return false;
    }
  }
  return true;
}

bool after(yaml::Mark a, yaml::Mark b) {
  return a.line != b.line ? a.line > b.line : a.column > b.column;
}

/// A number, including YAML's spellings of NaN and infinity (.nan, .inf, -.inf).
std::optional<double> readNumber(ValueReader& r, const yaml::Node& n, const std::string& key) {
  if (n.isScalar()) {
    std::string_view s = n.scalar;
    if (s == ".nan" || s == ".NaN" || s == ".NAN") {
      return std::numeric_limits<double>::quiet_NaN();
    }
    bool negative = !s.empty() && s[0] == '-';
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
      s.remove_prefix(1);
    }
    if (s == ".inf" || s == ".Inf" || s == ".INF") {
      return negative ? -std::numeric_limits<double>::infinity()
                      : std::numeric_limits<double>::infinity();
    }
  }
  return r.readFloat(n, key);
}

/// A non-negative integer (protobuf uint64 / UInt64Value).
std::optional<uint64_t> readUint64(ValueReader& r, const yaml::Node& n, const std::string& key) {
  auto v = r.readInt(n, key);
  if (!v) {
    return std::nullopt;
  }
  if (*v < 0) {
    r.error(n.mark, key, "must not be negative, got " + std::to_string(*v));
    return std::nullopt;
  }
  return uint64_t(*v);
}

/// True for a header name a hash policy can read: a token, or a pseudo-header (":authority").
bool isHashableHeaderName(std::string_view name) {
  if (!name.empty() && name[0] == ':') {
    name.remove_prefix(1);
  }
  return strings::isToken(name);
}

/// A string value with both of its positions (for checks that run after all keys are read).
struct Located {
  std::string value;
  yaml::Mark value_mark;
  yaml::Mark key_mark;
  std::string key;
};

/// `lb_policy` or `load_balancing_policy` as written.
struct PolicySetting {
  LbPolicy policy = LbPolicy::RoundRobin;
  std::string_view option;  ///< "lb_policy" / "load_balancing_policy"
  std::string text;
  yaml::Mark value_mark;
  std::string key;
};

/// A `*_lb_config` object: its range checks (which mirror validatePolicyConfig) are reported
/// only when the route uses that policy; otherwise the object gets one "ignored" warning.
struct LbConfigDraft {
  bool present = false;  ///< written and not empty
  yaml::Mark key_mark;
  std::string key;
  std::vector<Diagnostic> deferred;
};

}  // namespace

std::string_view lbPolicyName(LbPolicy policy) {
  for (const PolicyNameEntry& e : kPolicyNames) {
    if (e.policy == policy) {
      return e.name;
    }
  }
  return "ROUND_ROBIN";
}

std::optional<LbPolicy> parseLbPolicy(std::string_view text) {
  constexpr std::string_view kPrefix = "LOAD_BALANCING_POLICY_";
  if (strings::istartsWith(text, kPrefix)) {
    text.remove_prefix(kPrefix.size());
  }
  if (strings::iequals(text, "UNSPECIFIED")) {
    return LbPolicy::RoundRobin;  // Pomerium leaves Envoy's default in place
  }
  for (const PolicyNameEntry& e : kPolicyNames) {
    if (strings::iequals(text, e.name)) {
      return e.policy;
    }
  }
  return std::nullopt;
}

struct ClusterDecoder::State {
  explicit State(ValueReader& reader) : r(reader) {}

  ValueReader& r;

  std::optional<PolicySetting> lb_policy;
  std::optional<PolicySetting> load_balancing_policy;
  bool policy_error = false;  ///< an unknown or contradictory policy was reported
  LbConfigDraft least_request_draft, ring_hash_draft, maglev_draft;
  LeastRequestLbConfig least_request;
  RingHashLbConfig ring_hash;
  MaglevLbConfig maglev;
  std::optional<yaml::Mark> hash_policy_mark;
  std::string hash_policy_key;

  // outlier_detection: where to point the "nothing can be ejected" lint.
  std::optional<yaml::Mark> outlier_mark;
  std::string outlier_key;
  std::optional<yaml::Mark> health_checks_mark;
  std::string health_checks_key;

  std::optional<Located> skip_verify;  ///< only when true
  std::optional<Located> server_name, upstream_server_name;
  std::optional<Located> custom_ca, custom_ca_file;
  std::optional<Located> client_cert, client_cert_file, client_key, client_key_file;

  void deferError(LbConfigDraft& draft, yaml::Mark mark, std::string key, std::string message) {
    draft.deferred.push_back(
        Diagnostic{Severity::Error, r.pos(mark), std::move(key), std::move(message)});
  }

  // ---- load balancing (Pomerium `lb_policy`; Envoy Cluster.lb_policy) ----

  void decodePolicy(const yaml::Entry& e, const std::string& key) {
    auto text = r.readString(e.value, key);
    if (!text || text->empty()) {
      return;  // "" asks for nothing: the default
    }
    auto policy = parseLbPolicy(*text);
    if (!policy) {
      policy_error = true;
      r.error(e.value.mark, key,
              "unknown load balancing policy " + quoted(*text) +
                  " (expected one of: ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV)");
      return;
    }
    bool legacy = e.key == "lb_policy";
    (legacy ? lb_policy : load_balancing_policy) = PolicySetting{
        *policy, legacy ? "lb_policy" : "load_balancing_policy", *text, e.value.mark, key};
  }

  // Opens a `*_lb_config` mapping; false when it is not one (reported) or is empty.
  bool openLbConfig(const yaml::Entry& e, const std::string& key, LbConfigDraft& draft) {
    if (!expectMap(r, e.value, key) || e.value.entries.empty()) {
      return false;
    }
    draft.present = true;
    draft.key_mark = e.key_mark;
    draft.key = key;
    return true;
  }

  // The range rules below mirror upstream::lb::validatePolicyConfig()
  // (src/upstream/lb/registry.h): config sits left of upstream and cannot call it. One
  // deliberate difference: a negative or NaN active_request_bias is an error here, where Envoy
  // (and the balancer) only warns and uses 1.0.
  void decodeLeastRequest(const yaml::Entry& e, const std::string& key) {
    LbConfigDraft& draft = least_request_draft;
    if (!openLbConfig(e, key, draft)) {
      return;
    }
    for (const ProtoField& f :
         resolveProtoFields(e.value, key, kLeastRequestFields, "least_request_lb_config", r)) {
      const yaml::Node& v = f.value();
      if (f.name == "choice_count") {
        if (auto n = readUint32(r, v, f.key)) {
          least_request.choice_count = *n;
          if (*n < 2) {
            deferError(draft, v.mark, f.key, "must be at least 2, got " + std::to_string(*n));
          }
        }
      } else if (f.name == "active_request_bias") {
        decodeBias(draft, v, f.key);
      }
    }
  }

  // active_request_bias: Envoy's RuntimeDouble {default_value, runtime_key}, or a plain number.
  void decodeBias(LbConfigDraft& draft, const yaml::Node& v, const std::string& key) {
    const yaml::Node* number = &v;
    std::string number_key = key;
    if (v.isMap()) {
      number = nullptr;
      for (const ProtoField& f :
           resolveProtoFields(v, key, kRuntimeDoubleFields, "active_request_bias", r)) {
        number = &f.value();
        number_key = f.key;
      }
      if (number == nullptr) {
        r.error(v.mark, childKey(key, "default_value"), "missing: the bias (e.g. 1.0)");
        return;
      }
    }
    auto bias = readNumber(r, *number, number_key);
    if (!bias) {
      return;
    }
    if (std::isnan(*bias) || std::isinf(*bias) || *bias < 0) {
      deferError(draft, number->mark, number_key,
                 "must be a non-negative number, got " + number->scalar);
      return;
    }
    least_request.active_request_bias = *bias;
  }

  void decodeRingHash(const yaml::Entry& e, const std::string& key) {
    LbConfigDraft& draft = ring_hash_draft;
    if (!openLbConfig(e, key, draft)) {
      return;
    }
    std::optional<yaml::Mark> min_mark, max_mark;
    std::string min_key, max_key;
    for (const ProtoField& f :
         resolveProtoFields(e.value, key, kRingHashFields, "ring_hash_lb_config", r)) {
      const yaml::Node& v = f.value();
      if (f.name == "minimum_ring_size" || f.name == "maximum_ring_size") {
        auto n = readUint64(r, v, f.key);
        if (!n) {
          continue;
        }
        bool is_min = f.name == "minimum_ring_size";
        (is_min ? ring_hash.minimum_ring_size : ring_hash.maximum_ring_size) = *n;
        (is_min ? min_mark : max_mark) = v.mark;
        (is_min ? min_key : max_key) = f.key;
        if (*n > kMaxRingSize) {
          deferError(
              draft, v.mark, f.key,
              "must be at most " + std::to_string(kMaxRingSize) + ", got " + std::to_string(*n));
        } else if (is_min && *n == 0) {
          deferError(draft, v.mark, f.key, "must be at least 1, got 0");
        }
      } else if (f.name == "hash_function") {
        auto s = r.readString(v, f.key);
        if (!s) {
          continue;
        }
        if (strings::iequals(*s, "XX_HASH")) {
          ring_hash.hash_function = RingHashLbConfig::HashFunction::XxHash;
        } else if (strings::iequals(*s, "MURMUR_HASH_2")) {
          ring_hash.hash_function = RingHashLbConfig::HashFunction::MurmurHash2;
        } else {
          r.error(
              v.mark, f.key,
              "unknown hash function " + quoted(*s) + " (expected one of: XX_HASH, MURMUR_HASH_2)");
        }
      }
    }
    const uint64_t min = ring_hash.minimum_ring_size;
    const uint64_t max = ring_hash.maximum_ring_size;
    if (min <= kMaxRingSize && max <= kMaxRingSize && min > max) {
      // Envoy's wording. Only an explicit maximum can be below a valid minimum.
      yaml::Mark mark = max_mark ? *max_mark : (min_mark ? *min_mark : e.value.mark);
      deferError(draft, mark, max_mark ? max_key : min_key,
                 "ring hash: minimum_ring_size (" + std::to_string(min) +
                     ") > maximum_ring_size (" + std::to_string(max) + ")");
    }
  }

  void decodeMaglev(const yaml::Entry& e, const std::string& key) {
    LbConfigDraft& draft = maglev_draft;
    if (!openLbConfig(e, key, draft)) {
      return;
    }
    for (const ProtoField& f :
         resolveProtoFields(e.value, key, kMaglevFields, "maglev_lb_config", r)) {
      auto n = readUint64(r, f.value(), f.key);
      if (!n) {
        continue;
      }
      maglev.table_size = *n;
      if (*n > kMaxMaglevTableSize) {
        deferError(draft, f.value().mark, f.key,
                   "must be at most " + std::to_string(kMaxMaglevTableSize) + ", got " +
                       std::to_string(*n));
      } else if (!isPrime(*n)) {
        deferError(draft, f.value().mark, f.key,
                   "The table size of maglev must be prime number, got " + std::to_string(*n));
      }
    }
  }

  // hash_policy: Envoy's RouteAction.HashPolicy list.
  void decodeHashPolicy(const yaml::Entry& e, const std::string& key, Route& route) {
    const yaml::Node& v = e.value;
    if (!r.check(ValueType::List, v, key)) {
      return;
    }
    if (!v.items.empty()) {
      hash_policy_mark = e.key_mark;
      hash_policy_key = key;
    }
    for (size_t i = 0; i < v.items.size(); ++i) {
      const yaml::Node& item = v.items[i];
      std::string item_key = indexKey(key, i);
      if (!item.isMap()) {
        r.error(item.mark, item_key,
                "expected a hash policy (a mapping with header, cookie, query_parameter or "
                "connection_properties), got " +
                    yaml::describe(item));
        continue;
      }
      if (auto policy = decodeHashPolicyEntry(item, item_key)) {
        route.hash_policy.push_back(std::move(*policy));
      }
    }
  }

  std::optional<HashPolicy> decodeHashPolicyEntry(const yaml::Node& item,
                                                  const std::string& item_key) {
    const size_t errors_before = r.diagnostics().errorCount();
    HashPolicy policy;
    const ProtoField* kind = nullptr;
    bool yields = true;
    for (const ProtoField& f :
         resolveProtoFields(item, item_key, kHashPolicyFields, "hash_policy", r)) {
      const yaml::Node& v = f.value();
      if (f.name == "terminal") {
        if (auto b = r.readBool(v, f.key)) {
          policy.terminal = *b;
        }
        continue;
      }
      if (kind != nullptr) {
        r.error(f.keyMark(), f.key,
                "a hash_policy entry has exactly one of header, cookie, query_parameter or "
                "connection_properties; this one also sets " +
                    std::string(kind->name));
        continue;
      }
      kind = &f;
      if (f.name == "filter_state") {
        r.error(f.keyMark(), f.key, "not supported yet");
        continue;
      }
      if (!expectMap(r, v, f.key)) {
        continue;
      }
      if (f.name == "header") {
        policy.kind = HashPolicy::Kind::Header;
        bool named = false;
        for (const ProtoField& h : resolveProtoFields(v, f.key, kHeaderHashFields, "header", r)) {
          if (h.name == "regex_rewrite") {
            notSupportedYetUnlessEmpty(r, h);
            continue;
          }
          named = true;
          if (auto name = readName(h)) {
            if (!isHashableHeaderName(*name)) {
              r.error(h.value().mark, h.key, "invalid header name " + quoted(*name));
            }
            policy.name = std::move(*name);
          }
        }
        if (!named) {
          r.error(v.mark, childKey(f.key, "header_name"), "missing: the header to hash");
        }
      } else if (f.name == "cookie" || f.name == "query_parameter") {
        bool cookie = f.name == "cookie";
        policy.kind = cookie ? HashPolicy::Kind::Cookie : HashPolicy::Kind::QueryParameter;
        auto fields = cookie ? resolveProtoFields(v, f.key, kCookieHashFields, "cookie", r)
                             : resolveProtoFields(v, f.key, kQueryHashFields, "query_parameter", r);
        bool named = false;
        for (const ProtoField& c : fields) {
          named = true;  // `name` is the only field these return
          if (auto name = readName(c)) {
            if (cookie && !strings::isToken(*name)) {
              r.error(c.value().mark, c.key, "invalid cookie name " + quoted(*name));
            }
            policy.name = std::move(*name);
          }
        }
        if (!named) {
          r.error(v.mark, childKey(f.key, "name"),
                  cookie ? "missing: the cookie to hash" : "missing: the query parameter to hash");
        }
      } else if (f.name == "connection_properties") {
        policy.kind = HashPolicy::Kind::SourceIp;
        bool source_ip = false;
        for (const ProtoField& c :
             resolveProtoFields(v, f.key, kConnectionHashFields, "connection_properties", r)) {
          if (auto b = r.readBool(c.value(), c.key)) {
            source_ip = *b;
          }
        }
        if (!source_ip) {
          r.warning(f.keyMark(), f.key,
                    "ignored: without source_ip: true this entry never yields a hash");
          yields = false;
        }
      }
    }
    if (kind == nullptr) {
      r.error(item.mark, item_key,
              "missing: one of header, cookie, query_parameter or connection_properties");
    }
    if (r.diagnostics().errorCount() != errors_before || !yields) {
      return std::nullopt;
    }
    return policy;
  }

  // A header / cookie / query parameter name: a non-empty string.
  std::optional<std::string> readName(const ProtoField& f) {
    auto name = r.readString(f.value(), f.key);
    if (name && name->empty()) {
      r.error(f.value().mark, f.key, "must not be empty");
      return std::nullopt;
    }
    return name;
  }

  // ---- outlier_detection (Envoy cluster.v3.OutlierDetection) ----

  void decodeOutlier(const yaml::Entry& e, const std::string& key, Route& route) {
    if (!expectMap(r, e.value, key)) {
      return;
    }
    OutlierDetection od;
    std::optional<yaml::Mark> max_mark;
    std::string max_key;
    outlier_mark = e.key_mark;
    outlier_key = key;
    for (const ProtoField& f :
         resolveProtoFields(e.value, key, outlierFields(), "outlier_detection", r)) {
      const yaml::Node& v = f.value();
      if (f.name == "monitors") {
        notSupportedYetUnlessEmpty(r, f);
        continue;
      }
      for (const OutlierUint& u : kOutlierUints) {
        if (u.name == f.name) {
          auto n = u.percent ? readPercent(r, v, f.key) : readUint32(r, v, f.key);
          if (n) {
            od.*u.field = *n;
            if (u.name == "max_ejection_percent") {
              outlier_mark = v.mark;
              outlier_key = f.key;
            }
          }
        }
      }
      for (const OutlierDuration& d : kOutlierDurations) {
        if (d.name == f.name) {
          auto value = d.positive ? readPositiveDuration(r, v, f.key) : r.readDuration(v, f.key);
          if (value) {
            od.*d.field = *value;
            if (d.name == "max_ejection_time") {
              max_mark = v.mark;
              max_key = f.key;
            }
          }
        }
      }
      for (const OutlierBool& b : kOutlierBools) {
        if (b.name == f.name) {
          if (auto value = r.readBool(v, f.key)) {
            od.*b.field = *value;
          }
        }
      }
    }
    if (max_mark) {
      if (od.max_ejection_time < od.base_ejection_time) {
        r.error(*max_mark, max_key,
                "max_ejection_time (" + formatDuration(od.max_ejection_time) +
                    ") must not be less than base_ejection_time (" +
                    formatDuration(od.base_ejection_time) + ")");
      }
    } else {
      // Envoy: max_ejection_time defaults to max(300s, base_ejection_time).
      od.max_ejection_time = std::max(od.max_ejection_time, od.base_ejection_time);
    }
    route.outlier_detection = od;
  }

  // ---- upstream TLS (Pomerium route options tls_*) ----

  void decodeTls(const yaml::Entry& e, const std::string& key, Route& route) {
    const std::string& name = e.key;
    if (name == "tls_skip_verify") {
      if (auto b = r.readBool(e.value, key)) {
        route.tls.skip_verify = *b;
        if (*b) {
          skip_verify = Located{"true", e.value.mark, e.key_mark, key};
        } else {
          skip_verify.reset();
        }
      }
      return;
    }
    auto s = r.readString(e.value, key);
    if (!s || s->empty()) {
      return;  // "" asks for nothing
    }
    Located value{std::move(*s), e.value.mark, e.key_mark, key};
    std::optional<Located>* slot = name == "tls_server_name"            ? &server_name
                                   : name == "tls_upstream_server_name" ? &upstream_server_name
                                   : name == "tls_custom_ca"            ? &custom_ca
                                   : name == "tls_custom_ca_file"       ? &custom_ca_file
                                   : name == "tls_client_cert"          ? &client_cert
                                   : name == "tls_client_cert_file"     ? &client_cert_file
                                   : name == "tls_client_key"           ? &client_key
                                                                        : &client_key_file;
    *slot = std::move(value);
  }

  // ---- cross-key checks ----

  void finish(Route& route) {
    finishPolicy(route);
    finishOutlier(route);
    finishTls(route);
    finishHealthChecks(route);
  }

  // An all-h2c route talks HTTP/2 to origins that may not speak HTTP/1.1 at all, while HTTP
  // health checks speak HTTP/1.1 unless codec_client_type says HTTP2 (Envoy's default is
  // HTTP1), so they may fail against a healthy origin.
  void finishHealthChecks(const Route& route) {
    if (!health_checks_mark || route.to.empty() ||
        !std::all_of(route.to.begin(), route.to.end(),
                     [](const UpstreamUrl& u) { return u.scheme == "h2c"; })) {
      return;
    }
    for (const HealthCheck& hc : route.health_checks) {
      if (hc.kind == HealthCheck::Kind::Http && hc.codec_client_type == HealthCheck::Codec::Http1) {
        r.warning(*health_checks_mark, health_checks_key,
                  "http_health_check speaks HTTP/1.1 to these h2c:// endpoints; an origin that "
                  "only speaks HTTP/2 fails it (set codec_client_type: HTTP2)");
        return;
      }
    }
  }

  void finishPolicy(Route& route) {
    const PolicySetting* chosen = lb_policy ? &*lb_policy : nullptr;
    if (load_balancing_policy) {
      if (chosen != nullptr && chosen->policy != load_balancing_policy->policy) {
        const PolicySetting& later = after(load_balancing_policy->value_mark, chosen->value_mark)
                                         ? *load_balancing_policy
                                         : *chosen;
        r.error(later.value_mark, later.key,
                "lb_policy (" + lb_policy->text + ") and load_balancing_policy (" +
                    load_balancing_policy->text + ") disagree; set only one");
        policy_error = true;
      }
      if (chosen == nullptr) {
        chosen = &*load_balancing_policy;
      }
    }
    route.lb_policy = chosen != nullptr ? chosen->policy : LbPolicy::RoundRobin;
    std::string label = std::string(chosen != nullptr ? chosen->option : "lb_policy") + " is " +
                        std::string(lbPolicyName(route.lb_policy)) +
                        (chosen != nullptr ? "" : " (the default)");

    // After a policy error, which objects apply is unknown: say nothing more about them.
    auto apply = [&](LbConfigDraft& draft, LbPolicy owner, auto& decoded, auto& field) {
      if (!draft.present || policy_error) {
        return;
      }
      if (route.lb_policy != owner) {
        r.warning(draft.key_mark, draft.key, "ignored: " + label);
        return;
      }
      for (Diagnostic& d : draft.deferred) {
        r.diagnostics().add(std::move(d));
      }
      field = decoded;
    };
    apply(least_request_draft, LbPolicy::LeastRequest, least_request,
          route.least_request_lb_config);
    apply(ring_hash_draft, LbPolicy::RingHash, ring_hash, route.ring_hash_lb_config);
    apply(maglev_draft, LbPolicy::Maglev, maglev, route.maglev_lb_config);

    if (hash_policy_mark && !policy_error && route.lb_policy != LbPolicy::RingHash &&
        route.lb_policy != LbPolicy::Maglev) {
      r.warning(*hash_policy_mark, hash_policy_key,
                "ignored: " + label + "; hash_policy only applies to RING_HASH and MAGLEV");
      route.hash_policy.clear();
    }
  }

  // Envoy cluster.v3.OutlierDetection (DetectorImpl::ejectHost) ejects only while
  // 100 x (ejected + 1) / hosts <= max_ejection_percent, unless always_eject_one_host; so with
  // hosts x percent < 100 nothing is ever ejected.
  void finishOutlier(const Route& route) {
    if (!route.outlier_detection || !outlier_mark || route.to.empty()) {
      return;
    }
    const OutlierDetection& od = *route.outlier_detection;
    const uint64_t hosts = route.to.size();
    if (od.always_eject_one_host || hosts * od.max_ejection_percent >= 100) {
      return;
    }
    const uint64_t needed = (100 + hosts - 1) / hosts;
    r.warning(*outlier_mark, outlier_key,
              "with " + std::to_string(hosts) + (hosts == 1 ? " endpoint" : " endpoints") +
                  " and max_ejection_percent " + std::to_string(od.max_ejection_percent) +
                  " nothing can ever be ejected; set max_ejection_percent >= " +
                  std::to_string(needed) + " or always_eject_one_host: true");
  }

  void finishTls(Route& route) {
    UpstreamTls& tls = route.tls;
    if (upstream_server_name) {
      tls.server_name = upstream_server_name->value;
      if (server_name && server_name->value != upstream_server_name->value) {
        r.warning(server_name->key_mark, server_name->key,
                  "ignored: tls_upstream_server_name (" + quoted(upstream_server_name->value) +
                      ") takes precedence");
      }
    } else if (server_name) {
      tls.server_name = server_name->value;
    }

    if (const Located* ca = pick(custom_ca, custom_ca_file, "tls_custom_ca")) {
      tls.custom_ca = ca->value;
      tls.custom_ca_key = ca->key;
      tls.custom_ca_pos = r.pos(ca->value_mark);
    }
    const Located* cert = pick(client_cert, client_cert_file, "tls_client_cert");
    const Located* key = pick(client_key, client_key_file, "tls_client_key");
    if (cert != nullptr && key == nullptr) {
      r.error(cert->value_mark, cert->key,
              "client certificate key and cert both must be non-empty: set tls_client_key or "
              "tls_client_key_file");
    } else if (key != nullptr && cert == nullptr) {
      r.error(key->value_mark, key->key,
              "client certificate key and cert both must be non-empty: set tls_client_cert or "
              "tls_client_cert_file");
    } else if (cert != nullptr) {
      tls.client_cert = cert->value;
      tls.client_cert_key = cert->key;
      tls.client_cert_pos = r.pos(cert->value_mark);
      tls.client_key = key->value;
      tls.client_key_key = key->key;
      tls.client_key_pos = r.pos(key->value_mark);
    }

    bool any_https = false;
    for (const UpstreamUrl& up : route.to) {
      any_https = any_https || up.scheme == "https";
    }
    if (any_https) {
      return;
    }
    for (const std::optional<Located>* setting :
         {&skip_verify, &server_name, &upstream_server_name, &custom_ca, &custom_ca_file,
          &client_cert, &client_cert_file, &client_key, &client_key_file}) {
      if (*setting) {
        r.warning((*setting)->key_mark, (*setting)->key,
                  "has no effect: no https upstream (the route's `to` has no https:// URL)");
      }
    }
  }

  // The inline value or the `_file` one; both set is an error (reported at the `_file` key).
  const Located* pick(const std::optional<Located>& inline_value,
                      const std::optional<Located>& file_value, std::string_view option) {
    if (inline_value && file_value) {
      r.error(file_value->key_mark, file_value->key,
              "set only one of " + std::string(option) + " and " + std::string(option) + "_file");
    }
    if (inline_value) {
      return &*inline_value;
    }
    return file_value ? &*file_value : nullptr;
  }
};

ClusterDecoder::ClusterDecoder(ValueReader& reader) : state_(std::make_unique<State>(reader)) {}

ClusterDecoder::~ClusterDecoder() = default;

bool ClusterDecoder::handles(std::string_view name) {
  for (std::string_view k : kClusterKeys) {
    if (k == name) {
      return true;
    }
  }
  return false;
}

void ClusterDecoder::decode(const yaml::Entry& e, const std::string& key, Route& route) {
  State& s = *state_;
  const std::string& name = e.key;
  if (name == "lb_policy" || name == "load_balancing_policy") {
    s.decodePolicy(e, key);
  } else if (name == "least_request_lb_config") {
    s.decodeLeastRequest(e, key);
  } else if (name == "ring_hash_lb_config") {
    s.decodeRingHash(e, key);
  } else if (name == "maglev_lb_config") {
    s.decodeMaglev(e, key);
  } else if (name == "hash_policy") {
    s.decodeHashPolicy(e, key, route);
  } else if (name == "healthy_panic_threshold") {
    if (auto percent = readPercent(s.r, e.value, key)) {
      route.healthy_panic_threshold = *percent;
    }
  } else if (name == "health_checks") {
    if (!s.r.check(ValueType::List, e.value, key)) {
      return;
    }
    s.health_checks_mark = e.key_mark;
    s.health_checks_key = key;
    for (size_t i = 0; i < e.value.items.size(); ++i) {
      if (auto hc = decodeHealthCheck(e.value.items[i], indexKey(key, i), s.r)) {
        route.health_checks.push_back(std::move(*hc));
      }
    }
  } else if (name == "outlier_detection") {
    s.decodeOutlier(e, key, route);
  } else {
    s.decodeTls(e, key, route);
  }
}

void ClusterDecoder::finish(Route& route) { state_->finish(route); }

}  // namespace vallum::config
