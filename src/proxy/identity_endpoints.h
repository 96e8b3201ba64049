#pragma once

#include "proxy/stages/stage.h"

/// The identity endpoints every route host serves (Pomerium's, Pomerium's .well-known endpoints):
/// `/.well-known/pomerium` (discovery), `/.well-known/pomerium/jwks.json` (the signing keys,
/// for upstreams that verify X-Pomerium-Jwt-Assertion), `/.pomerium/user` (the signed-in
/// user's claims, JSON) and `/.pomerium/jwt` (the raw assertion; only with the runtime flag
/// `pomerium_jwt_endpoint`, as Pomerium). Worker thread.
namespace vallum::proxy {

/// Answers one of the paths above; returns Continue for any other path.
StageStatus answerIdentityEndpoint(StreamContext& ctx);

}  // namespace vallum::proxy
