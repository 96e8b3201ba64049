#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "http/http2/client_codec.h"
#include "network/connection_registry.h"
#include "upstream/pool/h2_connection.h"

/// The forward step's view of one stream on a multiplexed HTTP/2 upstream connection.
namespace vallum::proxy {

using network::SteadyTime;

/// Request bytes queued for an h2c stream beyond which the body pump stops reading the client
/// (backpressure; the stream window is 64 KiB).
constexpr size_t kH2BodyBacklog = 64 * 1024;

/// One request's stream on a multiplexed h2c upstream connection (Forwarder::runHttp2). The session
/// calls the handler methods from inside its own calls; they only record and wake, never call
/// back into the session. Reused across the requests of one downstream connection.
struct H2Exchange final : http::http2::ClientStreamHandler, upstream::pool::H2Waiter {
  explicit H2Exchange(boost::asio::io_context& io)
      : signal(io, SteadyTime::max()), body_signal(io, SteadyTime::max()) {}

  void reset() {
    conn.reset();
    stream_id = 0;
    head_ready = response_done = closed = protocol_error = false;
    close_code = 0;
    rx.clear();
    rx_writing.clear();
    unconsumed = 0;
    tx.clear();
    tx_off = 0;
    tx_eof = false;
    trailers = nullptr;
  }
  void wake() { signal.cancel(); }
  size_t backlog() const { return tx.size() - tx_off; }

  // http::http2::ClientStreamHandler
  void onResponseHead(http::ResponseHeaders&) override {
    head_ready = true;
    wake();
  }
  void onResponseData(std::string_view data) override {
    rx.append(data);
    unconsumed += data.size();
    wake();
  }
  void onResponseComplete() override {
    response_done = true;
    wake();
  }
  void onStreamClose(uint32_t error_code, bool malformed) override {
    closed = true;
    close_code = error_code;
    protocol_error = malformed;
    wake();
    body_signal.cancel();
  }
  size_t readRequestBody(uint8_t* out, size_t max, bool* eof) override {
    const size_t n = std::min(max, backlog());
    std::memcpy(out, tx.data() + tx_off, n);
    tx_off += n;
    if (tx_off == tx.size()) {
      tx.clear();
      tx_off = 0;
      *eof = tx_eof;
    }
    if (backlog() < kH2BodyBacklog) {
      body_signal.cancel();  // the pump may read more from the client
    }
    return n;
  }
  const http::HeaderMap* requestTrailers() const override { return tx_eof ? trailers : nullptr; }
  // upstream::pool::H2Waiter
  void onConnectionSettled() override { wake(); }

  boost::asio::steady_timer signal;       ///< wakes the response loop
  boost::asio::steady_timer body_signal;  ///< wakes the request body pump
  upstream::pool::H2ConnectionSharedPtr conn;
  int32_t stream_id = 0;
  bool head_ready = false;
  bool response_done = false;  ///< END_STREAM received after the head
  bool closed = false;
  bool protocol_error = false;
  uint32_t close_code = 0;
  std::string rx;          ///< response body received, not yet written downstream
  std::string rx_writing;  ///< response body being written downstream
  size_t unconsumed = 0;   ///< received bytes not yet given back to flow control
  std::string tx;          ///< request body not yet taken by the session
  size_t tx_off = 0;
  bool tx_eof = false;     ///< tx ends the request body
  const http::HeaderMap* trailers = nullptr;  ///< the request's trailer section, once complete
};

}  // namespace vallum::proxy
