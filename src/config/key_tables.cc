#include "config/key_tables.h"

#include <unordered_map>

namespace vallum::config {

namespace {

using VT = ValueType;
using KS = KeyStatus;

const std::vector<KeySpec>& globalTable() {
  static const std::vector<KeySpec> table = {
      // Implemented now. Some of them accept only part of their Pomerium range;
      // the loader handles those values itself (services, codec_type, autocert).
      {"address", VT::Address, KS::Implemented},
      {"insecure_server", VT::Bool, KS::Implemented},
      {"certificates", VT::List, KS::Implemented},
      {"certificate", VT::String, KS::Implemented},
      {"certificate_key", VT::String, KS::Implemented},
      {"certificate_file", VT::String, KS::Implemented},
      {"certificate_key_file", VT::String, KS::Implemented},
      {"default_upstream_timeout", VT::GoDuration, KS::Implemented},
      {"timeout_read", VT::GoDuration, KS::Implemented},
      {"timeout_write", VT::GoDuration, KS::Implemented},
      {"timeout_idle", VT::GoDuration, KS::Implemented},
      {"normalize_path", VT::Bool, KS::Implemented},
      {"merge_slashes", VT::Bool, KS::Implemented},
      {"path_with_escaped_slashes_action", VT::String, KS::Implemented},
      {"headers_with_underscores_action", VT::String, KS::Implemented},
      {"skip_xff_append", VT::Bool, KS::Implemented},
      {"log_level", VT::String, KS::Implemented},
      {"shared_secret", VT::String, KS::Implemented},
      {"shared_secret_file", VT::String, KS::Implemented},
      {"cookie_secret", VT::String, KS::Implemented},
      {"cookie_secret_file", VT::String, KS::Implemented},
      {"policy", VT::List, KS::Implemented},
      {"routes", VT::List, KS::Implemented},
      {"services", VT::String, KS::Implemented},
      {"autocert", VT::Bool, KS::Implemented},
      {"codec_type", VT::String, KS::Implemented},
      {"set_response_headers", VT::StringMap, KS::Implemented},
      // Upstream TLS trust and metrics.
      {"certificate_authority", VT::String, KS::Implemented},
      {"certificate_authority_file", VT::String, KS::Implemented},
      {"metrics_address", VT::Address, KS::Implemented},

      // Recognized, type-checked, ignored with a warning.
      {"authenticate_service_url", VT::Url, KS::Implemented},
      {"authenticate_internal_service_url", VT::Url},
      {"authenticate_callback_path", VT::String},
      {"authorize_service_url", VT::Url},
      {"authorize_service_urls", VT::UrlList},
      {"authorize_internal_service_url", VT::Url},
      {"databroker_service_url", VT::Url},
      {"databroker_service_urls", VT::UrlList},
      {"databroker_internal_service_url", VT::Url},
      {"databroker_storage_type", VT::String, KS::NotSupportedYet, {"memory", "postgres", "file"}},
      {"databroker_storage_connection_string", VT::String},
      {"databroker_storage_connection_string_file", VT::String},
      {"signout_redirect_url", VT::Url, KS::Implemented},
      {"idp_provider", VT::String, KS::Implemented},
      {"idp_provider_url", VT::Url, KS::Implemented},
      {"idp_client_id", VT::String, KS::Implemented},
      {"idp_client_secret", VT::String, KS::Implemented},
      {"idp_client_secret_file", VT::String, KS::Implemented},
      {"idp_scopes", VT::StringList, KS::Implemented},
      {"idp_request_params", VT::StringMap, KS::Implemented},
      {"idp_access_token_allowed_audiences", VT::StringList},
      {"cookie_name", VT::String, KS::Implemented},
      {"cookie_domain", VT::String, KS::Implemented},
      {"cookie_http_only", VT::Bool, KS::Implemented},
      {"cookie_expire", VT::GoDuration, KS::Implemented},
      {"cookie_same_site", VT::String, KS::Implemented},
      {"cookie_secure", VT::Bool, KS::Implemented},
      {"show_error_details", VT::Bool, KS::Implemented},
      {"http_redirect_addr", VT::String},
      {"metrics_basic_auth", VT::String},
      {"metrics_certificate", VT::String},
      {"metrics_certificate_key", VT::String},
      {"metrics_certificate_file", VT::String},
      {"metrics_certificate_key_file", VT::String},
      {"metrics_client_ca", VT::String},
      {"metrics_client_ca_file", VT::String},
      {"jwt_claims_headers", VT::MapListOrString, KS::Implemented},
      {"jwt_groups_filter", VT::StringList, KS::Implemented},
      {"jwt_issuer_format", VT::String, KS::Implemented},
      {"pass_identity_headers", VT::Bool, KS::Implemented},
      {"signing_key", VT::String, KS::Implemented},
      {"signing_key_file", VT::String, KS::Implemented},
      {"autocert_dir", VT::String},
      {"autocert_email", VT::String},
      {"autocert_use_staging", VT::Bool},
      {"autocert_must_staple", VT::Bool},
      {"autocert_ca", VT::Url},
      {"autocert_eab_key_id", VT::String},
      {"autocert_eab_mac_key", VT::String},
      {"autocert_trusted_ca", VT::String},
      {"autocert_trusted_ca_file", VT::String},
      {"allow_upgrades", VT::StringList, KS::Implemented},
      {"xff_num_trusted_hops", VT::Int},
      {"use_proxy_protocol", VT::Bool},
      {"grpc_address", VT::String},
      {"grpc_insecure", VT::Bool},
      {"grpc_client_timeout", VT::GoDuration},
      {"runtime_flags", VT::Map, KS::Implemented},
      {"dns_lookup_family",
       VT::String,
       KS::NotSupportedYet,
       {"AUTO", "V4_ONLY", "V6_ONLY", "V4_PREFERRED", "ALL"}},
      {"dns_udp_max_queries", VT::Int},
      {"dns_use_tcp", VT::Bool},
      {"dns_query_tries", VT::Int},
      {"dns_query_timeout", VT::GoDuration},
      {"dns_refresh_rate", VT::GoDuration},
      {"dns_failure_refresh_rate", VT::GoDuration},
      {"access_log_fields", VT::StringList},
      {"authorize_log_fields", VT::StringList},
      {"proxy_log_level",
       VT::String,
       KS::NotSupportedYet,
       {"trace", "debug", "info", "warn", "warning", "error", "fatal", "panic", "disabled"}},
      {"otel_traces_exporter", VT::String},
      {"otel_traces_sampler_arg", VT::Float},
      {"otel_resource_attributes", VT::StringList},
      {"otel_log_level", VT::String},
      {"otel_attribute_value_length_limit", VT::Int},
      {"otel_exporter_otlp_endpoint", VT::String},
      {"otel_exporter_otlp_traces_endpoint", VT::String},
      {"otel_exporter_otlp_protocol", VT::String},
      {"otel_exporter_otlp_traces_protocol", VT::String},
      {"otel_exporter_otlp_headers", VT::StringList},
      {"otel_exporter_otlp_traces_headers", VT::StringList},
      // Pomerium reads these two as integer milliseconds, not Go durations.
      {"otel_exporter_otlp_timeout", VT::Int},
      {"otel_exporter_otlp_traces_timeout", VT::Int},
      {"otel_bsp_schedule_delay", VT::Int},
      {"otel_bsp_max_export_batch_size", VT::Int},
      {"envoy_admin_address", VT::String},
      {"envoy_admin_access_log_path", VT::String},
      {"envoy_admin_profile_path", VT::String},
      {"envoy_bind_config_source_address", VT::String},
      {"envoy_bind_config_freebind", VT::Bool},
      {"client_crl", VT::String},
      {"client_crl_file", VT::String},
      {"downstream_mtls", VT::Map},
      {"google_cloud_serverless_authentication_service_account", VT::String, KS::Implemented},
      {"circuit_breaker_thresholds", VT::Map},
      {"bearer_token_format",
       VT::String,
       KS::NotSupportedYet,
       {"default", "idp_access_token", "idp_identity_token"}},
      {"programmatic_redirect_domain_whitelist", VT::StringList},
      {"installation_id", VT::String},
      {"override_certificate_name", VT::String},
      {"tls_derive", VT::String},

      // Removed from Pomerium; Pomerium refuses to start (removedConfigFields, plus the
      // pre-OpenTelemetry tracing options).
      {"client_ca",
       VT::Any,
       KS::Removed,
       {},
       false,
       "config option was removed; use downstream_mtls.ca"},
      {"client_ca_file",
       VT::Any,
       KS::Removed,
       {},
       false,
       "config option was removed; use downstream_mtls.ca_file"},
      {"idp_service_account",
       VT::Any,
       KS::Removed,
       {},
       false,
       "config option was removed with IdP directory sync"},
      {"idp_refresh_directory_timeout",
       VT::Any,
       KS::Removed,
       {},
       false,
       "config option was removed with IdP directory sync"},
      {"idp_refresh_directory_interval",
       VT::Any,
       KS::Removed,
       {},
       false,
       "config option was removed with IdP directory sync"},
      {"idp_qps",
       VT::Any,
       KS::Removed,
       {},
       false,
       "config option was removed with IdP directory sync"},
      {"tracing_provider",
       VT::Any,
       KS::Removed,
       {},
       false,
       "config option was removed; configure tracing with the otel_* options"},
      {"tracing_sample_rate",
       VT::Any,
       KS::Removed,
       {},
       false,
       "config option was removed; use otel_traces_sampler_arg"},
      {"tracing_datadog_address",
       VT::Any,
       KS::Removed,
       {},
       false,
       "config option was removed; configure tracing with the otel_* options"},
      {"tracing_jaeger_collector_endpoint",
       VT::Any,
       KS::Removed,
       {},
       false,
       "config option was removed; configure tracing with the otel_* options"},
      {"tracing_jaeger_agent_endpoint",
       VT::Any,
       KS::Removed,
       {},
       false,
       "config option was removed; configure tracing with the otel_* options"},
      {"tracing_zipkin_endpoint",
       VT::Any,
       KS::Removed,
       {},
       false,
       "config option was removed; configure tracing with the otel_* options"},
      {"policy_file",
       VT::Any,
       KS::Removed,
       {},
       false,
       "policy file setting is deprecated; list the routes under `routes:`"},
  };
  return table;
}

const std::vector<KeySpec>& routeTable() {
  static const std::vector<KeySpec> table = {
      // Implemented now: matching, the upstream URL, timeout, access and descriptive keys.
      {"from", VT::String, KS::Implemented},
      {"to", VT::MapListOrString, KS::Implemented},
      {"prefix", VT::String, KS::Implemented},
      {"path", VT::String, KS::Implemented},
      {"regex", VT::String, KS::Implemented},
      {"regex_priority_order", VT::Int, KS::Implemented},
      {"timeout", VT::GoDuration, KS::Implemented},
      {"allow_public_unauthenticated_access", VT::Bool, KS::Implemented},
      {"name", VT::String, KS::Implemented},
      {"description", VT::String, KS::Implemented},
      {"logo_url", VT::String, KS::Implemented},
      {"id", VT::String, KS::Implemented},

      // Request shaping.
      {"redirect", VT::Map, KS::Implemented},
      {"response", VT::Map, KS::Implemented},
      {"prefix_rewrite", VT::String, KS::Implemented},
      {"regex_rewrite_pattern", VT::String, KS::Implemented},
      {"regex_rewrite_substitution", VT::String, KS::Implemented},
      {"preserve_host_header", VT::Bool, KS::Implemented},
      {"host_rewrite", VT::String, KS::Implemented},
      {"host_rewrite_header", VT::String, KS::Implemented},
      {"host_path_regex_rewrite_pattern", VT::String, KS::Implemented},
      {"host_path_regex_rewrite_substitution", VT::String, KS::Implemented},
      {"set_request_headers", VT::StringMap, KS::Implemented},
      {"remove_request_headers", VT::StringList, KS::Implemented},
      {"set_response_headers", VT::StringMap, KS::Implemented},
      {"rewrite_response_headers", VT::List, KS::Implemented},

      // Upstream cluster: decoded by cluster_decoder.cc.
      {"lb_policy", VT::String, KS::Implemented},
      {"load_balancing_policy", VT::String, KS::Implemented},
      {"least_request_lb_config", VT::Map, KS::Implemented},
      {"ring_hash_lb_config", VT::Map, KS::Implemented},
      {"maglev_lb_config", VT::Map, KS::Implemented},
      {"hash_policy", VT::List, KS::Implemented},
      {"healthy_panic_threshold", VT::Int, KS::Implemented},
      {"health_checks", VT::List, KS::Implemented},
      {"outlier_detection", VT::Map, KS::Implemented, {}, true},
      {"tls_skip_verify", VT::Bool, KS::Implemented},
      {"tls_server_name", VT::String, KS::Implemented},
      {"tls_upstream_server_name", VT::String, KS::Implemented},
      {"tls_custom_ca", VT::String, KS::Implemented},
      {"tls_custom_ca_file", VT::String, KS::Implemented},
      {"tls_client_cert", VT::String, KS::Implemented},
      {"tls_client_cert_file", VT::String, KS::Implemented},
      {"tls_client_key", VT::String, KS::Implemented},
      {"tls_client_key_file", VT::String, KS::Implemented},

      {"idle_timeout", VT::GoDuration, KS::Implemented},
      {"allow_websockets", VT::Bool, KS::Implemented},
      {"allow_spdy", VT::Bool, KS::Implemented},
      {"allow_upgrades", VT::StringList, KS::Implemented},

      // Recognized; an error "not supported yet" unless the value asks for nothing.
      {"pass_identity_headers", VT::Bool, KS::Implemented},
      {"tls_downstream_server_name", VT::String},
      {"tls_downstream_client_ca", VT::String},
      {"tls_downstream_client_ca_file", VT::String},
      // The route docs spell it allow_renegotiation; Pomerium's decoder reads the long name.
      {"allow_renegotiation", VT::Bool},
      {"tls_upstream_allow_renegotiation", VT::Bool},
      {"kubernetes_service_account_token", VT::String},
      {"kubernetes_service_account_token_file", VT::String},
      {"cors_allow_preflight", VT::Bool, KS::Implemented},
      {"allow_any_authenticated_user", VT::Bool, KS::Implemented},
      {"allowed_users", VT::StringList, KS::Implemented},
      {"allowed_domains", VT::StringList, KS::Implemented},
      {"allowed_idp_claims", VT::Map, KS::Implemented},
      {"sub_policies", VT::List},
      {"idp_client_id", VT::String},
      {"idp_client_secret", VT::String},
      {"idp_access_token_allowed_audiences", VT::StringList},
      {"identity_providers", VT::StringList},
      {"show_error_details", VT::Bool, KS::Implemented},
      {"depends_on", VT::StringList},
      {"jwt_groups_filter", VT::StringList, KS::Implemented},
      {"jwt_issuer_format", VT::String, KS::Implemented},
      {"bearer_token_format",
       VT::String,
       KS::NotSupportedYet,
       {"default", "idp_access_token", "idp_identity_token"}},
      {"circuit_breaker_thresholds", VT::Map},
      {"upstream_tunnel", VT::Map},
      {"session_recording", VT::Any},
      {"enable_google_cloud_serverless_authentication", VT::Bool, KS::Implemented},
      {"policy", VT::MapListOrString, KS::Implemented},

      {"mcp", VT::Any, KS::OutOfScope, {}, false, "not supported (MCP routes are out of scope)"},
      {"allowed_groups",
       VT::Any,
       KS::Removed,
       {},
       false,
       "config option was removed; use a PPL policy with the groups criterion"},
      {"set_authorization_header",
       VT::Any,
       KS::Removed,
       {},
       false,
       "config option was removed; use set_request_headers"},
  };
  return table;
}

using Index = std::unordered_map<std::string_view, const KeySpec*>;

Index buildIndex(const std::vector<KeySpec>& table) {
  Index index;
  index.reserve(table.size());
  for (const KeySpec& spec : table) {
    index.emplace(spec.name, &spec);
  }
  return index;
}

}  // namespace

std::span<const KeySpec> globalKeys() { return globalTable(); }
std::span<const KeySpec> routeKeys() { return routeTable(); }

std::span<const std::string_view> routeKeyNames() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out;
    for (const KeySpec& spec : routeTable()) {
      out.push_back(spec.name);
    }
    return out;
  }();
  return names;
}

const KeySpec* findGlobalKey(std::string_view name) {
  static const Index index = buildIndex(globalTable());
  auto it = index.find(name);
  return it == index.end() ? nullptr : it->second;
}

const KeySpec* findRouteKey(std::string_view name) {
  static const Index index = buildIndex(routeTable());
  auto it = index.find(name);
  return it == index.end() ? nullptr : it->second;
}

}  // namespace vallum::config
