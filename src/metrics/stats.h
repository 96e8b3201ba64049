#pragma once

#include <array>
#include <string_view>

/// Every metric the metrics Registry exposes (docs/architecture.md §6: names
/// `vallum_<component>_<what>_{total,seconds,bytes}`, bounded labels only). Labels: `route` =
/// the route's `name` or "route-<id>"; `endpoint` = the configured `to` address; `code_class`
/// = one of kCodeClasses.
namespace vallum::metrics::stats {

inline constexpr std::string_view kRouteResponses = "vallum_route_responses_total";
inline constexpr std::string_view kRouteRequestBytes = "vallum_route_request_bytes_total";
inline constexpr std::string_view kRouteResponseBytes = "vallum_route_response_bytes_total";
inline constexpr std::string_view kRouteUpstreamLatency = "vallum_route_upstream_latency_seconds";
inline constexpr std::string_view kEndpointHealthy = "vallum_endpoint_healthy";
inline constexpr std::string_view kEndpointEjected = "vallum_endpoint_ejected";
inline constexpr std::string_view kEndpointActiveRequests = "vallum_endpoint_active_requests";
inline constexpr std::string_view kEndpointConnectFailures =
    "vallum_endpoint_connect_failures_total";
inline constexpr std::string_view kConfigReloads = "vallum_config_reloads_total";
inline constexpr std::string_view kConfigReloadFailures = "vallum_config_reload_failures_total";
inline constexpr std::string_view kDownstreamConnections = "vallum_downstream_connections";
inline constexpr std::string_view kDownstreamSpareManagers =
    "vallum_downstream_spare_connection_managers";

/// `code_class` label values, indexed like RouteCounters::responses ("none" = the request
/// ended before any status was sent).
inline constexpr std::array<std::string_view, 6> kCodeClasses = {"none", "1xx", "2xx",
                                                                 "3xx",  "4xx", "5xx"};

}  // namespace vallum::metrics::stats
