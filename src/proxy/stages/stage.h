#pragma once

#include <cstdint>
#include <string_view>

#include "proxy/stream_context.h"

/// The contract every stage of the request chain keeps (docs/architecture.md §2.1).
namespace vallum::proxy {

/// What a stage decided.
enum class StageStatus : uint8_t {
  Continue,    ///< the next stage runs
  LocalReply,  ///< the stream ends with ctx.reply (the codec renders it)
  Pending,     ///< the stage started I/O; the chain resumes with it when that completes
};

/// Fills ctx.reply with an error reply and returns StageStatus::LocalReply. `close`: the rest of
/// the request will not be read (framing errors).
inline StageStatus replyWith(StreamContext& ctx, int status, std::string_view details,
                             bool close = false) {
  ctx.reply.clear();
  ctx.reply.status = status;
  ctx.reply.details = details;
  ctx.reply.close = close;
  return StageStatus::LocalReply;
}

}  // namespace vallum::proxy
