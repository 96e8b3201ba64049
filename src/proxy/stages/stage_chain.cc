#include "proxy/stages/stage_chain.h"

#include <array>

#include "proxy/stages/authenticate.h"
#include "proxy/stages/authorize.h"
#include "proxy/stages/internal_endpoints.h"
#include "proxy/stages/max_forwards.h"
#include "proxy/stages/normalize_path.h"
#include "proxy/stages/rewrite_request.h"
#include "proxy/stages/route.h"
#include "proxy/stages/route_action.h"
#include "proxy/stages/serverless_token.h"
#include "proxy/stages/upgrade_check.h"
#include "proxy/stages/validate.h"

namespace vallum::proxy {

namespace {

using Stage = StageStatus (*)(StreamContext&);

/// The order of docs/architecture.md §2.1.
constexpr std::array<Stage, 11> kStages = {
    &validateRequest,       // stages/validate.cc
    &normalizeRequestPath,  // stages/normalize_path.cc
    &answerInternalEndpoints,  // stages/internal_endpoints.cc
    &answerMaxForwards,     // stages/max_forwards.cc
    &matchRoute,            // stages/route.cc
    &checkUpgrade,          // stages/upgrade_check.cc
    &authenticateRequest,   // stages/authenticate.cc
    &authorizeRequest,      // stages/authorize.cc
    &applyRouteAction,      // stages/route_action.cc
    &fetchServerlessToken,  // stages/serverless_token.cc
    &rewriteRequest,        // stages/rewrite_request.cc
};

}  // namespace

StageStatus runStages(StreamContext& ctx) {
  while (ctx.next_stage < kStages.size()) {
    const StageStatus status = kStages[ctx.next_stage](ctx);
    if (status == StageStatus::Pending) {
      return status;  // the same stage runs again when its I/O completed
    }
    ++ctx.next_stage;
    if (status == StageStatus::LocalReply) {
      return status;
    }
  }
  return StageStatus::Continue;
}

}  // namespace vallum::proxy
