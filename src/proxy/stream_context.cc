#include "proxy/stream_context.h"

#include "proxy/sign_in_state.h"

namespace vallum::proxy {

StreamContext::StreamContext() = default;
StreamContext::~StreamContext() = default;

SignInState& signInState(StreamContext& ctx) {
  if (!ctx.sign_in) {
    ctx.sign_in = std::make_unique<SignInState>();
  }
  return *ctx.sign_in;
}

}  // namespace vallum::proxy
