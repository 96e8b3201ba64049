#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "proxy/explain_identity.h"
#include "proxy/snapshot.h"

namespace vallum::proxy {

/// A request to explain (`vallum route`): an absolute http(s) URL, a method and extra headers.
struct ExplainRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  /// `--as EMAIL` / `--anonymous`: explain the request for this visitor (explain_identity.h);
  /// unset: as an anonymous request, without the identity fields.
  std::optional<ExplainIdentity> identity;
};

struct ExplainResult {
  /// A JSON document (pretty-printed) describing what Vallum would do, or empty on `error`.
  std::string json;
  bool route_matched = false;
  /// The URL or a header could not be parsed (the caller exits 2).
  std::string error;
};

/// Runs the request through the same stage chain the server runs (proxy/stages), without any
/// I/O, and describes the outcome:
/// * `request`: method, URL, host, port, the normalized path and the query;
/// * `route`: the matching route (index, key, name, from) and `why` it matched, or null with a
///   `reason` (no route for the host; or the host has routes of its own, none matching, and
///   wildcard routes are not consulted);
/// * `result`: "forward" with `upstream` (endpoints, the request line, the URL, Host, every
///   header, and what was `added` to and `removed` from the client's headers), or "redirect"
///   (status, location), "response" (status, body), "deny" (403), "reply" (other local
///   replies: status and details);
/// * `response_headers`: the set_response_headers the reply or response would carry.
/// The listener is TLS unless the snapshot's config sets `insecure_server`.
///
/// With `request.identity`, the chain runs with that user signed in (their session sealed into
/// the request's cookie, as a browser would send it, when the config has sign-in), the signed
/// assertion in the upstream headers is replaced by a placeholder, and the document also has
/// the fields of describeIdentity() (`as`, `decision`, `reasons`, `summary`, `policy.trace`,
/// `identity_headers`).
ExplainResult explainRequest(const Snapshot& snapshot, const ExplainRequest& request);

}  // namespace vallum::proxy
