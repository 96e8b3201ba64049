#pragma once

#include "proxy/stages/stage.h"

/// The request stages in their fixed order (docs/architecture.md §2.1), listed once in
/// stage_chain.cc: validate → normalize path → internal endpoints → Max-Forwards → route →
/// upgrade check → (authenticate) → authorize → route action → rewrite request. The forward
/// step follows when every stage continues.
namespace vallum::proxy {

/// Runs the stages from ctx.next_stage on. Returns LocalReply (ctx.reply filled), Pending (a
/// stage started I/O: call again once it completed; the chain resumes with that stage), or
/// Continue (every stage passed: forward ctx.upstream to the route's cluster). Synchronous
/// stages are plain calls: no allocation, no virtual hop. Called on the stream's worker.
StageStatus runStages(StreamContext& ctx);

}  // namespace vallum::proxy
