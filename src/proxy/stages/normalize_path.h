#pragma once

#include "proxy/stages/stage.h"

namespace vallum::proxy {

/// Stage 2: the path routes and the upstream read is the normalized one (Envoy HCM path
/// normalization; http::normalizePath): a byte not allowed in a path or a bad escape → 400;
/// %2F/%5C → 400, kept, unescaped, or a 307 to the unescaped path
/// (`path_with_escaped_slashes_action`); escaped unreserved characters decoded and dot segments
/// removed (`normalize_path`); "//" merged only with `merge_slashes`. Sets ctx.path.
StageStatus normalizeRequestPath(StreamContext& ctx);

}  // namespace vallum::proxy
