#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "http/message.h"
#include "http/path.h"
#include "proxy/local_reply.h"
#include "proxy/snapshot.h"

/// What the stages of one request share (docs/architecture.md §2.1): the request as the codec
/// parsed it, what each stage decided, and the reply that ends the stream early. Protocol-free: the
/// same for HTTP/1.1 and HTTP/2.
namespace vallum::proxy {

class Worker;
struct SignInState;

/// Per-stream state of the stage chain. Owned by the stream (the connection manager's, or
/// `vallum route`'s) on one worker, reused from request to request (the strings keep their
/// capacity). Views point into the request, the snapshot, or the context's own strings.
struct StreamContext {
  StreamContext();
  ~StreamContext();
  StreamContext(const StreamContext&) = delete;
  StreamContext& operator=(const StreamContext&) = delete;

  // Set by the owner before the chain runs.
  const Snapshot* snapshot = nullptr;
  bool tls = false;
  /// The client's request; stages may mark fields removed (underscores) but never add.
  http::RequestHeaders* request = nullptr;
  std::string_view client_ip;
  std::string_view request_id;
  /// The connection's TLS session (an SSL*; null without TLS), for the certificate check.
  const void* tls_connection = nullptr;
  /// The worker running the stream (sign-in I/O and caches); null in `vallum route`.
  Worker* worker = nullptr;

  // authenticate / authorize / sign-in (proxy/sign_in_state.h; created on first need)
  std::unique_ptr<SignInState> sign_in;

  // validate
  /// A CONNECT (RFC 9110 §9.3.6, RFC 9113 §8.5): `authority` is its target, `path` stays empty
  /// and only tcp+https routes can match.
  bool connect = false;
  std::string_view authority;  ///< Host, :authority or the absolute-form target's, as received
  std::string host;            ///< lower-case, no port; an IPv6 literal canonical, no brackets
  uint16_t port = 0;           ///< explicit, else 443 (TLS) / 80
  http::RequestTarget target;

  // normalize_path
  std::string path_scratch;
  std::string_view path;  ///< normalized, without query

  // route
  std::string merged_path;  ///< scratch: `path` with adjacent slashes merged
  uint32_t route_index = 0;
  const RouteRuntime* route = nullptr;

  // upgrade_check
  /// The protocol the client upgrades to, allowed by the route (the `Upgrade` value); empty
  /// for an ordinary request.
  std::string_view upgrade;

  // serverless_token
  /// The Google ID token of this request was fetched (or its fetch failed): the chain does not
  /// ask again, and the token kept is sent whatever its age.
  bool serverless_token_fetched = false;

  // rewrite_request
  /// The upstream Host unless the route uses the endpoint's authority
  /// (RouteRuntime::HostRewrite::Endpoint: the forward step fills it in).
  std::string_view upstream_host;
  std::string upstream_host_scratch;
  bool host_rewritten = true;  ///< the upstream Host differs from the request's authority
  http::OutgoingRequest upstream;
  std::vector<std::string_view> nominated;  ///< scratch: fields named in Connection

  // A stage that ends the stream fills this in.
  LocalReply reply;
  std::string reply_text;      ///< storage for reply.details/location/body/log_reason when computed
  std::string reply_location;  ///< storage for reply.location when computed
  std::string reply_body;      ///< storage for reply.body when computed

  /// A stage that returns Pending sets this: the owner co_awaits it (the stage's I/O, e.g. an
  /// identity provider's token endpoint), then runs the chain again from that stage.
  using PendingStep = boost::asio::awaitable<void> (*)(StreamContext&);
  PendingStep pending = nullptr;
  /// The pending step completed `reply`: the stage that asked for it returns LocalReply.
  bool pending_reply_ready = false;

  /// The next stage to run (the chain resumes here after a Pending stage).
  uint8_t next_stage = 0;

  void reset(const Snapshot* s, bool is_tls, http::RequestHeaders* r) {
    snapshot = s;
    tls = is_tls;
    request = r;
    connect = false;
    authority = {};
    path = {};
    target = {};
    route = nullptr;
    route_index = 0;
    upgrade = {};
    serverless_token_fetched = false;
    upstream_host = {};
    host_rewritten = true;
    upstream.clear();
    reply.clear();
    pending = nullptr;
    pending_reply_ready = false;
    next_stage = 0;
  }
};

}  // namespace vallum::proxy
