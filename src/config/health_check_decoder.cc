#include "config/health_check_decoder.h"

#include <utility>
#include <vector>

#include "common/strings.h"
#include "config/diagnostics.h"
#include "config/proto_object.h"

namespace vallum::config {

namespace {

using yaml::childKey;
using yaml::indexKey;

constexpr std::string_view kNoEventLog = "health check event logs are not supported";
constexpr std::string_view kAlwaysLogged =
    "health changes are always logged; single check results are not";
constexpr std::string_view kRouteTls = "health checks use the route's upstream TLS settings";

// Envoy core.v3.HealthCheck.
constexpr ProtoFieldSpec kHealthCheckFields[] = {
    {"timeout"},
    {"interval"},
    {"initial_jitter"},
    {"interval_jitter"},
    {"interval_jitter_percent"},
    {"unhealthy_threshold"},
    {"healthy_threshold"},
    {"alt_port"},
    {"reuse_connection"},
    {"http_health_check"},
    {"tcp_health_check"},
    {"grpc_health_check"},
    {"custom_health_check"},
    {"no_traffic_interval"},
    {"no_traffic_healthy_interval"},
    {"unhealthy_interval"},
    {"unhealthy_edge_interval"},
    {"healthy_edge_interval"},
    {"event_log_path", kNoEventLog},
    {"event_logger", kNoEventLog},
    {"event_service", kNoEventLog},
    {"always_log_health_check_failures", kAlwaysLogged},
    {"always_log_health_check_success", kAlwaysLogged},
    {"tls_options", kRouteTls},
    {"transport_socket_match_criteria", kRouteTls},
};

// Envoy core.v3.HealthCheck.HttpHealthCheck.
constexpr ProtoFieldSpec kHttpFields[] = {
    {"host"},
    {"path"},
    {"send"},
    {"receive"},
    {"response_buffer_size", "only used with receive, which is not supported yet"},
    {"request_headers_to_add"},
    {"request_headers_to_remove"},
    {"expected_statuses"},
    {"retriable_statuses"},
    {"codec_client_type"},
    {"service_name_matcher"},
    {"method"},
    {"use_http2"},
    {"service_name"},
};

// Envoy core.v3.HealthCheck.TcpHealthCheck.
constexpr ProtoFieldSpec kTcpFields[] = {
    {"send"},
    {"receive"},
    {"proxy_protocol_config"},
};

// Envoy core.v3.HealthCheck.Payload.
constexpr ProtoFieldSpec kPayloadFields[] = {
    {"text"},
    {"binary"},
};

// Envoy type.v3.Int64Range.
constexpr ProtoFieldSpec kRangeFields[] = {
    {"start"},
    {"end"},
};

int hexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

/// True for bytes that cannot appear in a request target or a Host value.
bool hasControlOrSpace(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return true;
    }
  }
  return false;
}

class HealthCheckDecoder {
 public:
  HealthCheckDecoder(const std::string& key, ValueReader& r) : key_(key), r_(r) {}

  std::optional<HealthCheck> decode(const yaml::Node& node) {
    if (!node.isMap()) {
      r_.error(node.mark, key_,
               "expected a health check (a mapping with timeout, interval, unhealthy_threshold, "
               "healthy_threshold and http_health_check or tcp_health_check), got " +
                   yaml::describe(node));
      return std::nullopt;
    }
    const size_t errors_before = r_.diagnostics().errorCount();
    hc_.key = key_;
    hc_.pos = r_.pos(node.mark);
    std::vector<const ProtoField*> checkers;
    auto fields = resolveProtoFields(node, key_, kHealthCheckFields, "health check", r_);
    for (const ProtoField& f : fields) {
      decodeField(f, checkers);
    }
    requireField("timeout", "timeout: 5s");
    requireField("interval", "interval: 10s");
    requireField("unhealthy_threshold", "unhealthy_threshold: 3");
    requireField("healthy_threshold", "healthy_threshold: 1");
    if (checkers.empty()) {
      r_.error(node.mark, key_, "missing: one of http_health_check or tcp_health_check");
    } else {
      for (size_t i = 1; i < checkers.size(); ++i) {
        r_.error(checkers[i]->keyMark(), checkers[i]->key,
                 "a health check has exactly one of http_health_check, tcp_health_check or "
                 "grpc_health_check; this one also sets " +
                     std::string(checkers[0]->name));
      }
    }
    if (r_.diagnostics().errorCount() != errors_before) {
      return std::nullopt;
    }
    return std::move(hc_);
  }

 private:
  void requireField(std::string_view name, std::string_view example) {
    for (std::string_view seen : seen_) {
      if (seen == name) {
        return;
      }
    }
    r_.diagnostics().error(hc_.pos, childKey(key_, name),
                           "missing: a health check needs " + std::string(name) + " (e.g. " +
                               std::string(example) + ")");
  }

  void decodeField(const ProtoField& f, std::vector<const ProtoField*>& checkers) {
    seen_.push_back(f.name);
    const yaml::Node& v = f.value();
    std::string_view name = f.name;
    if (name == "timeout") {
      assign(hc_.timeout, readPositiveDuration(r_, v, f.key));
    } else if (name == "interval") {
      assign(hc_.interval, readPositiveDuration(r_, v, f.key));
    } else if (name == "initial_jitter") {
      assign(hc_.initial_jitter, r_.readDuration(v, f.key));
    } else if (name == "interval_jitter") {
      assign(hc_.interval_jitter, r_.readDuration(v, f.key));
    } else if (name == "interval_jitter_percent") {
      assign(hc_.interval_jitter_percent, readUint32(r_, v, f.key));
    } else if (name == "unhealthy_threshold" || name == "healthy_threshold") {
      if (auto n = readUint32(r_, v, f.key)) {
        if (*n < 1) {
          r_.error(v.mark, f.key, "must be at least 1, got 0");
        } else {
          (name == "unhealthy_threshold" ? hc_.unhealthy_threshold : hc_.healthy_threshold) = *n;
        }
      }
    } else if (name == "alt_port") {
      if (auto port = readUint32(r_, v, f.key)) {
        if (*port > 65535) {
          r_.error(v.mark, f.key, "port must be between 1 and 65535, got " + std::to_string(*port));
        } else if (*port != 0) {  // 0 = unset (proto3 default)
          hc_.alt_port = uint16_t(*port);
        }
      }
    } else if (name == "reuse_connection") {
      assign(hc_.reuse_connection, r_.readBool(v, f.key));
    } else if (name == "no_traffic_interval") {
      hc_.no_traffic_interval = readPositiveDuration(r_, v, f.key);
    } else if (name == "no_traffic_healthy_interval") {
      hc_.no_traffic_healthy_interval = readPositiveDuration(r_, v, f.key);
    } else if (name == "unhealthy_interval") {
      hc_.unhealthy_interval = readPositiveDuration(r_, v, f.key);
    } else if (name == "unhealthy_edge_interval") {
      hc_.unhealthy_edge_interval = readPositiveDuration(r_, v, f.key);
    } else if (name == "healthy_edge_interval") {
      hc_.healthy_edge_interval = readPositiveDuration(r_, v, f.key);
    } else if (name == "http_health_check") {
      checkers.push_back(&f);
      hc_.kind = HealthCheck::Kind::Http;
      decodeHttp(v, f.key);
    } else if (name == "tcp_health_check") {
      checkers.push_back(&f);
      hc_.kind = HealthCheck::Kind::Tcp;
      decodeTcp(v, f.key);
    } else if (name == "grpc_health_check" || name == "custom_health_check") {
      checkers.push_back(&f);
      r_.error(f.keyMark(), f.key, "not supported yet");
    }
  }

  template <class T, class U>
  static void assign(T& out, const std::optional<U>& v) {
    if (v) {
      out = *v;
    }
  }

  // http_health_check (Envoy HealthCheck.HttpHealthCheck).
  void decodeHttp(const yaml::Node& v, const std::string& key) {
    if (!expectMap(r_, v, key)) {
      return;
    }
    bool has_path = false;
    for (const ProtoField& f : resolveProtoFields(v, key, kHttpFields, "http_health_check", r_)) {
      const yaml::Node& n = f.value();
      if (f.name == "path") {
        if (auto path = r_.readString(n, f.key)) {
          has_path = true;
          if (path->empty() || (*path)[0] != '/') {
            r_.error(n.mark, f.key, "must start with \"/\", got " + quoted(*path));
          } else if (hasControlOrSpace(*path)) {
            r_.error(n.mark, f.key, "invalid path " + quoted(*path) + " (spaces or controls)");
          } else {
            hc_.http_path = std::move(*path);
          }
        } else {
          has_path = true;  // the type error is reported; don't also say it is missing
        }
      } else if (f.name == "host") {
        if (auto host = r_.readString(n, f.key)) {
          if (hasControlOrSpace(*host)) {
            r_.error(n.mark, f.key, "invalid host " + quoted(*host) + " (spaces or controls)");
          } else {
            hc_.http_host = std::move(*host);
          }
        }
      } else if (f.name == "expected_statuses") {
        readRanges(n, f.key, hc_.expected_statuses);
      } else if (f.name == "retriable_statuses") {
        readRanges(n, f.key, hc_.retriable_statuses);
      } else if (f.name == "codec_client_type") {
        decodeCodec(n, f.key);
      } else if (f.name == "method") {
        if (auto method = r_.readString(n, f.key)) {
          if (strings::iequals(*method, "GET") || strings::iequals(*method, "METHOD_UNSPECIFIED") ||
              method->empty()) {
            continue;
          }
          static constexpr std::string_view kMethods[] = {"HEAD",    "POST",    "PUT",   "DELETE",
                                                          "CONNECT", "OPTIONS", "TRACE", "PATCH"};
          bool known = false;
          for (std::string_view m : kMethods) {
            known = known || strings::iequals(*method, m);
          }
          if (known) {
            r_.error(n.mark, f.key, "method " + quoted(*method) + " not supported yet (GET is)");
          } else {
            r_.error(n.mark, f.key,
                     "unknown method " + quoted(*method) +
                         " (expected one of: GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, PATCH)");
          }
        }
      } else if (f.name == "use_http2") {
        // Envoy's deprecated spelling of codec_client_type: HTTP2.
        if (auto b = r_.readBool(n, f.key); b && *b) {
          hc_.codec_client_type = HealthCheck::Codec::Http2;
        }
      } else {
        // send, receive, request_headers_to_add/remove, service_name_matcher, service_name.
        notSupportedYetUnlessEmpty(r_, f);
      }
    }
    if (!has_path) {
      r_.error(v.mark, childKey(key, "path"), "missing: the path to request (e.g. path: /healthz)");
    }
  }

  void decodeCodec(const yaml::Node& n, const std::string& key) {
    auto codec = r_.readString(n, key);
    if (!codec || codec->empty() || strings::iequals(*codec, "HTTP1")) {
      return;
    }
    if (strings::iequals(*codec, "HTTP2")) {
      hc_.codec_client_type = HealthCheck::Codec::Http2;
      return;
    }
    if (strings::iequals(*codec, "HTTP3")) {
      r_.error(n.mark, key, "codec_client_type " + quoted(*codec) + " not supported yet");
      return;
    }
    r_.error(n.mark, key,
             "unknown value " + quoted(*codec) + " (expected one of: HTTP1, HTTP2, HTTP3)");
  }

  // expected_statuses / retriable_statuses: [{start, end}], half-open, 100 <= start < end <= 600.
  void readRanges(const yaml::Node& n, const std::string& key, std::vector<StatusRange>& out) {
    if (!r_.check(ValueType::List, n, key)) {
      return;
    }
    for (size_t i = 0; i < n.items.size(); ++i) {
      const yaml::Node& item = n.items[i];
      std::string item_key = indexKey(key, i);
      if (!item.isMap()) {
        r_.error(item.mark, item_key,
                 "expected a status range {start, end}, got " + yaml::describe(item));
        continue;
      }
      StatusRange range{0, 0};  // Int64Range: an absent field is 0
      bool ok = true;
      for (const ProtoField& f : resolveProtoFields(item, item_key, kRangeFields, "range", r_)) {
        auto value = r_.readInt(f.value(), f.key);
        ok = ok && value.has_value();
        if (value) {
          (f.name == "start" ? range.start : range.end) = *value;
        }
      }
      if (!ok) {
        continue;
      }
      if (range.start < 100 || range.start >= range.end || range.end > 600) {
        r_.error(item.mark, item_key,
                 "invalid status range [" + std::to_string(range.start) + ", " +
                     std::to_string(range.end) +
                     "): expected 100 <= start < end <= 600 (end is exclusive)");
        continue;
      }
      out.push_back(range);
    }
  }

  // tcp_health_check (Envoy HealthCheck.TcpHealthCheck).
  void decodeTcp(const yaml::Node& v, const std::string& key) {
    if (!expectMap(r_, v, key)) {
      return;
    }
    for (const ProtoField& f : resolveProtoFields(v, key, kTcpFields, "tcp_health_check", r_)) {
      const yaml::Node& n = f.value();
      if (f.name == "send") {
        if (auto bytes = decodePayload(n, f.key)) {
          hc_.tcp_send = std::move(*bytes);
        }
      } else if (f.name == "receive") {
        // Envoy's newer shape is a list; older versions had a single payload.
        if (n.isMap()) {
          decodeReceive(n, f.key);
        } else if (r_.check(ValueType::List, n, f.key)) {
          for (size_t i = 0; i < n.items.size(); ++i) {
            decodeReceive(n.items[i], indexKey(f.key, i));
          }
        }
      } else {
        notSupportedYetUnlessEmpty(r_, f);  // proxy_protocol_config
      }
    }
  }

  void decodeReceive(const yaml::Node& n, const std::string& key) {
    auto bytes = decodePayload(n, key);
    if (!bytes) {
      return;
    }
    if (bytes->empty()) {
      r_.error(n.mark, key, "empty payload: set text (hex) or binary (base64)");
      return;
    }
    hc_.tcp_receive.push_back(std::move(*bytes));
  }

  // Payload: {text: hex} or {binary: base64} → bytes. `{}` is an empty payload.
  std::optional<std::string> decodePayload(const yaml::Node& n, const std::string& key) {
    if (!n.isMap()) {
      r_.error(
          n.mark, key,
          "expected a payload ({text: <hex>} or {binary: <base64>}), got " + yaml::describe(n));
      return std::nullopt;
    }
    auto fields = resolveProtoFields(n, key, kPayloadFields, "payload", r_);
    if (fields.size() > 1) {
      r_.error(fields[1].keyMark(), fields[1].key, "set only one of text and binary");
      return std::nullopt;
    }
    if (fields.empty()) {
      return std::string();
    }
    const ProtoField& f = fields.front();
    auto text = r_.readString(f.value(), f.key);
    if (!text) {
      return std::nullopt;
    }
    if (f.name == "binary") {
      auto bytes = strings::base64Decode(*text);
      if (!bytes) {
        r_.error(f.value().mark, f.key, "invalid base64 payload " + quoted(*text));
      }
      return bytes;
    }
    if (text->size() % 2 != 0) {
      r_.error(f.value().mark, f.key,
               "invalid hex payload " + quoted(*text) + ": odd number of digits");
      return std::nullopt;
    }
    std::string bytes;
    bytes.reserve(text->size() / 2);
    for (size_t i = 0; i < text->size(); i += 2) {
      int hi = hexValue((*text)[i]);
      int lo = hexValue((*text)[i + 1]);
      if (hi < 0 || lo < 0) {
        char bad = hi < 0 ? (*text)[i] : (*text)[i + 1];
        r_.error(f.value().mark, f.key,
                 "invalid hex payload " + quoted(*text) + ": " + quoted(std::string_view(&bad, 1)) +
                     " is not a hex digit");
        return std::nullopt;
      }
      bytes += char((hi << 4) | lo);
    }
    return bytes;
  }

  const std::string& key_;
  ValueReader& r_;
  HealthCheck hc_;
  std::vector<std::string_view> seen_;
};

}  // namespace

std::optional<HealthCheck> decodeHealthCheck(const yaml::Node& node, const std::string& key,
                                             ValueReader& r) {
  return HealthCheckDecoder(key, r).decode(node);
}

}  // namespace vallum::config
