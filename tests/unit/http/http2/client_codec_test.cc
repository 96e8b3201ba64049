#include "http/http2/client_codec.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

// The client session against a real nghttp2 server session, bytes passed in memory: what the
// origin receives and what the client's stream handler hears.

namespace vallum::http::http2 {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

/// An nghttp2 server session with scriptable answers.
class Origin {
 public:
  struct Stream {
    Headers headers;
    std::string body;
    bool ended = false;
    uint32_t reset_code = UINT32_MAX;
  };

  Origin() {
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* f, const uint8_t* n, size_t nl,
               const uint8_t* v, size_t vl, uint8_t, void* u) {
          static_cast<Origin*>(u)->streams[f->hd.stream_id].headers.emplace_back(
              std::string(reinterpret_cast<const char*>(n), nl),
              std::string(reinterpret_cast<const char*>(v), vl));
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cb, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t l, void* u) {
          static_cast<Origin*>(u)->streams[id].body.append(reinterpret_cast<const char*>(d), l);
          return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* f, void* u) {
          if (f->hd.stream_id != 0 && (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
            static_cast<Origin*>(u)->streams[f->hd.stream_id].ended = true;
          }
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cb, [](nghttp2_session*, int32_t id, uint32_t code, void* u) {
          static_cast<Origin*>(u)->streams[id].reset_code = code;
          return 0;
        });
    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    nghttp2_option_set_max_send_header_block_length(opt, 1024 * 1024);  // oversized-head test
    nghttp2_session_server_new2(&session, cb, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000}};
    nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, iv, 1);
  }
  ~Origin() { nghttp2_session_del(session); }

  void respond(int32_t id, int status, Headers headers, const std::string* body) {
    std::vector<nghttp2_nv> nv;
    const std::string s = std::to_string(status);
    headers.insert(headers.begin(), {":status", s});
    for (auto& [n, v] : headers) {
      nv.push_back({reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()),
                    n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
    }
    if (body == nullptr) {
      nghttp2_submit_response(session, id, nv.data(), nv.size(), nullptr);
      return;
    }
    outgoing[id] = *body;
    nghttp2_data_provider p{};
    p.read_callback = [](nghttp2_session*, int32_t sid, uint8_t* buf, size_t len,
                         uint32_t* flags, nghttp2_data_source*, void* user) -> ssize_t {
      Origin* o = static_cast<Origin*>(user);
      std::string& rest = o->outgoing[sid];
      const size_t n = std::min(len, rest.size());
      std::memcpy(buf, rest.data(), n);
      rest.erase(0, n);
      if (rest.empty()) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
      }
      return ssize_t(n);
    };
    nghttp2_submit_response(session, id, nv.data(), nv.size(), &p);
  }
  void headersOnly(int32_t id, Headers headers, bool end_stream) {
    std::vector<nghttp2_nv> nv;
    for (auto& [n, v] : headers) {
      nv.push_back({reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()),
                    n.size(), v.size(), NGHTTP2_NV_FLAG_NO_INDEX});
    }
    nghttp2_submit_headers(session, end_stream ? NGHTTP2_FLAG_END_STREAM : NGHTTP2_FLAG_NONE, id,
                           nullptr, nv.data(), nv.size(), nullptr);
  }

  nghttp2_session* session = nullptr;
  std::map<int32_t, Stream> streams;
  std::map<int32_t, std::string> outgoing;
};

/// Records what one stream hears.
struct Recorder : ClientStreamHandler {
  void onResponseHead(ResponseHeaders& head) override {
    ++heads;
    status = head.status;
    framing = head.framing;
    content_length = head.content_length;
    for (size_t i = 0; i < head.headers.fieldCount(); ++i) {
      headers.emplace_back(head.headers.name(i), head.headers.value(i));
    }
  }
  void onResponseData(std::string_view data) override { body.append(data); }
  void onResponseComplete() override { complete = true; }
  void onStreamClose(uint32_t code, bool malformed) override {
    closed = true;
    close_code = code;
    protocol_error = malformed;
  }
  size_t readRequestBody(uint8_t* out, size_t max, bool* eof) override {
    const size_t n = std::min(max, tx.size());
    std::memcpy(out, tx.data(), n);
    tx.erase(0, n);
    *eof = tx.empty() && tx_eof;
    return n;
  }

  int heads = 0;
  int status = 0;
  BodyFraming framing = BodyFraming::None;
  uint64_t content_length = 0;
  Headers headers;
  std::string body;
  bool complete = false;
  bool closed = false;
  uint32_t close_code = 0;
  bool protocol_error = false;
  std::string tx;
  bool tx_eof = false;
};

class ClientCodecTest : public ::testing::Test {
 protected:
  /// Moves bytes both ways until neither side has anything to send.
  void pump() {
    for (int round = 0; round < 1000; ++round) {
      std::string out;
      client.takeOutput(out);  // false once the session is done; what it queued still goes
      if (!out.empty()) {
        ASSERT_GE(nghttp2_session_mem_recv(origin.session,
                                           reinterpret_cast<const uint8_t*>(out.data()),
                                           out.size()),
                  0);
      }
      std::string back;
      for (;;) {
        const uint8_t* data = nullptr;
        const ssize_t n = nghttp2_session_mem_send(origin.session, &data);
        ASSERT_GE(n, 0);
        if (n == 0) {
          break;
        }
        back.append(reinterpret_cast<const char*>(data), size_t(n));
      }
      if (!back.empty()) {
        received_ok = client.receive(back) && received_ok;
      }
      if (out.empty() && back.empty()) {
        return;
      }
    }
    FAIL() << "the sessions never went quiet";
  }

  int32_t get(Recorder& r, const std::string& path = "/", bool has_body = false) {
    const int32_t id = client.submitRequest({{":method", has_body ? "POST" : "GET"},
                                             {":scheme", "http"},
                                             {":authority", "app.internal:9000"},
                                             {":path", path},
                                             {"x-forwarded-proto", "https"}},
                                            has_body, &r);
    EXPECT_GT(id, 0);
    return id;
  }

  Origin origin;
  ClientCodec client;
  bool received_ok = true;
};

TEST_F(ClientCodecTest, RequestHeadersAndAResponseWithContentLength) {
  Recorder r;
  const int32_t id = get(r, "/a?b=1");
  pump();
  ASSERT_TRUE(origin.streams[id].ended);  // no body: END_STREAM on HEADERS
  EXPECT_EQ(origin.streams[id].headers,
            (Headers{{":method", "GET"},
                     {":scheme", "http"},
                     {":authority", "app.internal:9000"},
                     {":path", "/a?b=1"},
                     {"x-forwarded-proto", "https"}}));
  const std::string body = "hello";
  origin.respond(id, 201, {{"content-length", "5"}, {"x-app", "1"}}, &body);
  pump();
  EXPECT_EQ(r.heads, 1);
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.framing, BodyFraming::ContentLength);
  EXPECT_EQ(r.content_length, 5u);
  EXPECT_EQ(r.headers, (Headers{{"content-length", "5"}, {"x-app", "1"}}));
  EXPECT_EQ(r.body, "hello");
  EXPECT_TRUE(r.complete);
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.close_code, kNoError);
  EXPECT_EQ(client.openStreams(), 0u);
}

TEST_F(ClientCodecTest, FramingWithoutContentLengthAndWithoutBody) {
  Recorder streamed;
  Recorder empty;
  const int32_t a = get(streamed);
  const int32_t b = get(empty);
  pump();
  const std::string body(70000, 'x');
  origin.respond(a, 200, {}, &body);
  origin.respond(b, 204, {}, nullptr);
  pump();
  EXPECT_EQ(streamed.framing, BodyFraming::CloseDelimited);  // ends with the stream
  EXPECT_EQ(empty.framing, BodyFraming::None);
  EXPECT_EQ(empty.status, 204);
  EXPECT_TRUE(empty.complete);
  // 64 KiB stream window and nothing consumed: the rest waits for the client.
  EXPECT_EQ(streamed.body.size(), 65536u);
  EXPECT_FALSE(streamed.complete);
  client.consume(a, streamed.body.size());
  pump();
  EXPECT_EQ(streamed.body, body);
  EXPECT_TRUE(streamed.complete);
}

// The connection window (1 MiB) is given back on arrival: 20 streams whose clients never read
// hold 20 x 64 KiB (more than the connection window) and a 21st stream still gets its body.
TEST_F(ClientCodecTest, StalledStreamsDoNotBlockTheConnection) {
  std::vector<Recorder> stalled(20);
  std::vector<int32_t> ids;
  for (Recorder& r : stalled) {
    ids.push_back(get(r));
  }
  Recorder fresh;
  const int32_t fresh_id = get(fresh);
  pump();
  const std::string big(200000, 'b');
  for (int32_t id : ids) {
    origin.respond(id, 200, {}, &big);
  }
  pump();
  size_t held = 0;
  for (const Recorder& r : stalled) {
    EXPECT_EQ(r.body.size(), 65536u);  // each up to its stream window, never consumed
    held += r.body.size();
  }
  EXPECT_GT(held, 1024u * 1024u);
  const std::string small(100000, 's');
  origin.respond(fresh_id, 200, {}, &small);
  pump();
  EXPECT_EQ(fresh.body.size(), 65536u);
  client.consume(fresh_id, fresh.body.size());
  pump();
  EXPECT_EQ(fresh.body, small);
  EXPECT_TRUE(fresh.complete);
}

TEST_F(ClientCodecTest, InterimHeadsAreDroppedAndTrailersIgnored) {
  Recorder r;
  const int32_t id = get(r);
  pump();
  origin.headersOnly(id, {{":status", "103"}, {"link", "</a.css>"}}, false);
  origin.headersOnly(id, {{":status", "200"}, {"x-final", "1"}}, false);
  origin.headersOnly(id, {{"x-trailer", "t"}}, true);
  pump();
  EXPECT_EQ(r.heads, 1);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers, (Headers{{"x-final", "1"}}));
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.close_code, kNoError);
}

TEST_F(ClientCodecTest, RemoteResetReachesTheHandler) {
  Recorder r;
  Recorder other;
  const int32_t id = get(r);
  const int32_t id2 = get(other);
  pump();
  nghttp2_submit_rst_stream(origin.session, NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
  const std::string body = "ok";
  origin.respond(id2, 200, {{"content-length", "2"}}, &body);
  pump();
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.close_code, uint32_t(NGHTTP2_INTERNAL_ERROR));
  EXPECT_FALSE(r.protocol_error);
  EXPECT_EQ(r.heads, 0);
  EXPECT_EQ(other.body, "ok");  // the other stream on the connection is unaffected
  EXPECT_EQ(other.close_code, kNoError);
}

TEST_F(ClientCodecTest, MalformedResponseHeaderIsAProtocolError) {
  Recorder r;
  const int32_t id = get(r);
  pump();
  origin.headersOnly(id, {{":status", "200"}, {"Bad Name", "x"}}, false);
  pump();
  EXPECT_TRUE(r.closed);
  EXPECT_TRUE(r.protocol_error);
  EXPECT_EQ(r.heads, 0);
  EXPECT_EQ(origin.streams[id].reset_code, uint32_t(NGHTTP2_PROTOCOL_ERROR));
}

// The HTTP/1 response parser's limits hold for HTTP/2 origins too (http/message.h): over them
// the head is malformed and the stream is reset (→ 502).
TEST_F(ClientCodecTest, OversizedResponseHeadIsAProtocolError) {
  Recorder many;
  Recorder big;
  const int32_t a = get(many);
  const int32_t b = get(big);
  pump();
  Headers fields{{":status", "200"}};
  for (int i = 0; i < 1001; ++i) {  // 1000 are allowed
    fields.emplace_back("x-f" + std::to_string(i), "v");
  }
  origin.headersOnly(a, fields, true);
  origin.headersOnly(b, {{":status", "200"}, {"x-big1", std::string(40000, 'v')},
                         {"x-big2", std::string(40000, 'w')}, {"x-big3", std::string(40000, 'x')},
                         {"x-big4", std::string(40000, 'y')}}, true);
  pump();
  EXPECT_TRUE(many.protocol_error);
  EXPECT_EQ(many.heads, 0);
  EXPECT_TRUE(big.protocol_error);
  EXPECT_EQ(big.heads, 0);
  EXPECT_TRUE(client.alive());  // stream errors, not connection errors
}

// nghttp2 takes any three digits; a status below 100 is malformed (RFC 9110 §15), not interim.
TEST_F(ClientCodecTest, StatusBelow100IsAProtocolError) {
  Recorder r;
  const int32_t id = get(r);
  pump();
  origin.headersOnly(id, {{":status", "099"}}, true);
  pump();
  EXPECT_TRUE(r.closed);
  EXPECT_TRUE(r.protocol_error);
  EXPECT_EQ(r.heads, 0);
}

TEST_F(ClientCodecTest, RequestBodyIsDeferredUntilResumed) {
  Recorder r;
  const int32_t id = get(r, "/upload", /*has_body=*/true);
  pump();
  EXPECT_FALSE(origin.streams[id].ended);  // no body bytes yet: deferred
  r.tx = std::string(100000, 'a');
  client.resumeBody(id);
  pump();  // past the origin's 64 KiB window: its WINDOW_UPDATEs let the rest through
  EXPECT_EQ(origin.streams[id].body.size(), 100000u);
  EXPECT_FALSE(origin.streams[id].ended);
  r.tx = "end";
  r.tx_eof = true;
  client.resumeBody(id);
  pump();
  EXPECT_EQ(origin.streams[id].body.size(), 100003u);
  EXPECT_TRUE(origin.streams[id].ended);
}

TEST_F(ClientCodecTest, GoawayRefusesStreamsAboveTheLastIdAndStopsNewOnes) {
  Recorder a;
  Recorder b;
  const int32_t first = get(a);
  const int32_t second = get(b);
  pump();
  nghttp2_submit_goaway(origin.session, NGHTTP2_FLAG_NONE, first, NGHTTP2_NO_ERROR, nullptr, 0);
  pump();
  EXPECT_TRUE(received_ok);
  EXPECT_TRUE(client.alive());
  EXPECT_FALSE(client.canOpenStream());
  EXPECT_TRUE(b.closed);
  EXPECT_EQ(b.close_code, kRefusedStream);
  EXPECT_FALSE(a.closed);
  const std::string body = "1";
  origin.respond(first, 200, {}, &body);
  pump();
  EXPECT_EQ(a.body, "1");
  EXPECT_EQ(a.close_code, kNoError);
  EXPECT_FALSE(client.alive());  // GOAWAY received and every stream ended: close it
  (void)second;
}

TEST_F(ClientCodecTest, AtMostMaxConcurrentStreams) {
  std::vector<Recorder> rs(101);
  pump();  // the origin's SETTINGS (1000) arrive; Vallum's own cap is 100
  for (size_t i = 0; i < 100; ++i) {
    ASSERT_TRUE(client.canOpenStream()) << i;
    get(rs[i]);
  }
  EXPECT_FALSE(client.canOpenStream());
  EXPECT_EQ(client.openStreams(), 100u);
}

TEST_F(ClientCodecTest, ResetAndDetachSilenceTheHandler) {
  Recorder r;
  const int32_t id = get(r);
  pump();
  client.resetStream(id, kCancel);
  pump();
  EXPECT_EQ(origin.streams[id].reset_code, kCancel);
  EXPECT_FALSE(r.closed);  // detached: no more calls
  EXPECT_EQ(client.openStreams(), 0u);
}

TEST_F(ClientCodecTest, ConnectionLossClosesEveryOpenStream) {
  Recorder a;
  Recorder b;
  get(a);
  get(b);
  pump();
  EXPECT_TRUE(client.alive());
  client.connectionLost();
  EXPECT_EQ(a.close_code, kConnectionLost);
  EXPECT_EQ(b.close_code, kConnectionLost);
  EXPECT_FALSE(client.alive());
  EXPECT_FALSE(client.canOpenStream());
  EXPECT_LT(client.submitRequest({{":method", "GET"}}, false, &a), 0);
}

// The malformed head is known before the reset goes out; a connection lost meanwhile must not
// turn the 502 into a 503 "connection termination".
TEST_F(ClientCodecTest, ProtocolErrorSurvivesALostConnection) {
  Recorder r;
  const int32_t id = get(r);
  pump();
  origin.headersOnly(id, {{":status", "200"}, {"Bad Name", "x"}}, false);
  std::string back;
  for (;;) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(origin.session, &data);
    if (n <= 0) {
      break;
    }
    back.append(reinterpret_cast<const char*>(data), size_t(n));
  }
  client.receive(back);  // the RST_STREAM is queued, not sent
  EXPECT_FALSE(r.closed);
  client.connectionLost();
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.close_code, kConnectionLost);
  EXPECT_TRUE(r.protocol_error);
}

TEST_F(ClientCodecTest, GarbageFromThePeerKillsTheSession) {
  Recorder a;
  get(a);
  std::string out;
  client.takeOutput(out);
  // A SETTINGS frame whose length is not a multiple of 6: FRAME_SIZE_ERROR (RFC 9113 §6.5).
  client.receive(std::string("\x00\x00\x05\x04\x00\x00\x00\x00\x00" "abcde", 14));
  out.clear();
  EXPECT_FALSE(client.takeOutput(out));  // the GOAWAY goes out; nothing more will be read
  EXPECT_NE(out.find(std::string("\x07\x00", 2)), std::string::npos);  // a GOAWAY frame
  EXPECT_TRUE(a.closed);
  EXPECT_EQ(a.close_code, kConnectionLost);
}

}  // namespace
}  // namespace vallum::http::http2
