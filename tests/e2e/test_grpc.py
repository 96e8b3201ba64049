"""gRPC end to end: a real gRPC client (Debian's python3-grpcio) speaks HTTP/2 over TLS to Vallum,
which forwards to a real gRPC server (python3-grpcio again) over `h2c://` and over `https://` with
ALPN h2. Methods use grpcio's generic API with bytes in and out (no protoc).

What gRPC needs of a proxy (gRPC over HTTP/2, doc/PROTOCOL-HTTP2.md in grpc/grpc): request and
response messages stream in both directions without buffering, the response trailers (grpc-status,
grpc-message, custom and `-bin` metadata) reach the client intact, and a trailers-only response
(one HEADERS frame with END_STREAM) stays one. A call the proxy cannot serve over HTTP/2 — a
route whose upstream speaks HTTP/1.1 only — fails as gRPC clients expect: UNAVAILABLE, carried by a
503 whose headers hold grpc-status 14 (Envoy's local replies for gRPC requests; docs/decisions.md,
gRPC). Vallum runs with --concurrency 1."""

from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from lib.helpers import route
from lib.upstream import payload, refused_port, sha256

HOST = "grpc.example.test"
SERVICE = "vallum.test.Echo"
GATE_TIMEOUT = 5.0  # how long a server waits for the client to prove it saw a message
CALL_TIMEOUT = 20.0


def method(name: str) -> str:
    return f"/{SERVICE}/{name}"


class GrpcOrigin:
    """A grpcio server on 127.0.0.1 (h2c, or TLS with ALPN h2 when `tls` is (cert, key) paths)
    with the methods the tests call. Every handler records what it saw in `seen`."""

    def __init__(self, tls=None):
        self.seen: dict = {}
        self.gate = threading.Event()          # set by a client that got the first message
        self.got_first = threading.Event()     # set by a server that got the first request message
        self.finished = threading.Event()      # set when a streaming handler returns
        self._lock = threading.Lock()
        handlers = {
            "Echo": grpc.unary_unary_rpc_method_handler(self._echo),
            "Fail": grpc.unary_unary_rpc_method_handler(self._fail),
            "FailAfterHeaders": grpc.unary_unary_rpc_method_handler(self._fail_after_headers),
            "Stream": grpc.unary_stream_rpc_method_handler(self._stream),
            "StreamThenFail": grpc.unary_stream_rpc_method_handler(self._stream_then_fail),
            "Bulk": grpc.unary_stream_rpc_method_handler(self._bulk),
            "Collect": grpc.stream_unary_rpc_method_handler(self._collect),
            "PingPong": grpc.stream_stream_rpc_method_handler(self._ping_pong),
        }
        self.server = grpc.server(ThreadPoolExecutor(max_workers=16),
                                  options=[("grpc.max_receive_message_length", 8 << 20),
                                           ("grpc.max_send_message_length", 8 << 20)])
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        if tls is None:
            self.port = self.server.add_insecure_port("127.0.0.1:0")
        else:
            with open(tls[0], "rb") as c, open(tls[1], "rb") as k:
                creds = grpc.ssl_server_credentials([(k.read(), c.read())])
            self.port = self.server.add_secure_port("127.0.0.1:0", creds)
        assert self.port > 0
        self.server.start()

    def close(self) -> None:
        self.server.stop(grace=None)

    def _record(self, name: str, context, **extra) -> None:
        with self._lock:
            self.seen.setdefault(name, []).append({"metadata": list(context.invocation_metadata()), **extra})

    # unary
    def _echo(self, request: bytes, context) -> bytes:
        self._record("Echo", context, request=request, time_remaining=context.time_remaining())
        md = dict(context.invocation_metadata())
        context.send_initial_metadata([("x-echo-md", md.get("x-client-md", "")), ("x-origin", "grpc")])
        context.set_trailing_metadata([("x-trailer", "t-" + md.get("x-client-md", "")),
                                       ("x-trailer-bin", b"\x00\x01\xfe\xff")])
        return b"echo:" + request

    def _fail(self, request: bytes, context) -> bytes:
        """Nothing sent before the status: grpcio answers trailers-only (one HEADERS frame)."""
        self._record("Fail", context, request=request)
        context.set_trailing_metadata([("x-why", "no-such-thing"), ("x-why-bin", b"\xde\xad\xbe\xef")])
        context.abort(grpc.StatusCode.NOT_FOUND, "thing 42 not found: ünïcødé, 100% sure")

    def _fail_after_headers(self, request: bytes, context) -> bytes:
        """Initial metadata first, then the status: HEADERS, then trailers with no DATA between."""
        self._record("FailAfterHeaders", context, request=request)
        context.send_initial_metadata([("x-early", "1")])
        context.set_trailing_metadata([("x-late", "2")])
        context.abort(grpc.StatusCode.PERMISSION_DENIED, "not you")

    # server streaming
    def _stream(self, request: bytes, context):
        self._record("Stream", context, request=request)
        try:
            yield b"first:" + request
            released = self.gate.wait(GATE_TIMEOUT)
            yield b"second:" + (b"released-by-client" if released else b"gate-timed-out")
            for i in range(3):
                yield b"more:%d" % i
            context.set_trailing_metadata([("x-stream-trailer", "done")])
        finally:
            self.finished.set()

    def _stream_then_fail(self, request: bytes, context):
        self._record("StreamThenFail", context, request=request)
        yield b"one"
        yield b"two"
        context.set_trailing_metadata([("x-after", "two")])
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "quota gone after two")

    def _bulk(self, request: bytes, context):
        count, size = (int(x) for x in request.split(b","))
        for i in range(count):
            yield payload(size, i)

    # client streaming
    def _collect(self, request_iterator, context) -> bytes:
        got = []
        for m in request_iterator:
            got.append(m)
            if len(got) == 1:
                self.got_first.set()
        self._record("Collect", context, got=got)
        context.set_trailing_metadata([("x-count", str(len(got)))])
        return b"|".join(got)

    # bidirectional
    def _ping_pong(self, request_iterator, context):
        for m in request_iterator:
            yield b"pong:" + m


@pytest.fixture
def grpc_origin():
    made = []

    def make(tls=None) -> GrpcOrigin:
        o = GrpcOrigin(tls)
        made.append(o)
        return o

    yield make
    for o in made:
        o.close()


def start(vallum, routes):
    return vallum(vallum.config(routes), concurrency=1)


def channel(v, ca, host: str = HOST) -> grpc.Channel:
    """A TLS channel to Vallum's port on 127.0.0.1 whose SNI and :authority are `host`."""
    with open(ca.cert, "rb") as f:
        creds = grpc.ssl_channel_credentials(root_certificates=f.read())
    return grpc.secure_channel(f"127.0.0.1:{v.port}", creds, options=[
        ("grpc.ssl_target_name_override", host),
        ("grpc.default_authority", host),
        ("grpc.enable_http_proxy", 0),
        ("grpc.enable_retries", 0),
        ("grpc.max_receive_message_length", 8 << 20),
        ("grpc.max_send_message_length", 8 << 20),
    ])


@pytest.fixture
def h2c_setup(vallum, grpc_origin, ca):
    o = grpc_origin()
    v = start(vallum, [route(f"https://{HOST}", f"h2c://127.0.0.1:{o.port}")])
    ch = channel(v, ca)
    yield v, o, ch
    ch.close()


def md(seq) -> dict:
    return {k: v for k, v in seq}


# ----------------------------------------------------------------------------- unary


def test_unary_call_carries_message_metadata_and_trailers(h2c_setup):
    """Request bytes, request metadata, response initial metadata, response bytes, trailing
    metadata (text and -bin) and status OK, all as the origin sent them."""
    v, o, ch = h2c_setup
    call = ch.unary_unary(method("Echo"))
    resp, c = call.with_call(b"hello \x00 world", metadata=[("x-client-md", "abc"), ("x-client-bin", b"\x01\x02")],
                             timeout=CALL_TIMEOUT)
    assert resp == b"echo:hello \x00 world"
    assert c.code() == grpc.StatusCode.OK
    assert c.details() in ("", None)
    initial = md(c.initial_metadata())
    assert (initial.get("x-echo-md"), initial.get("x-origin")) == ("abc", "grpc"), initial
    trailing = md(c.trailing_metadata())
    assert trailing.get("x-trailer") == "t-abc", trailing
    assert trailing.get("x-trailer-bin") == b"\x00\x01\xfe\xff", trailing
    [rec] = o.seen["Echo"]
    assert rec["request"] == b"hello \x00 world"
    seen = md(rec["metadata"])
    assert seen.get("x-client-md") == "abc" and seen.get("x-client-bin") == b"\x01\x02", seen
    # The client's deadline (grpc-timeout) reached the origin.
    assert rec["time_remaining"] is not None and 0 < rec["time_remaining"] <= CALL_TIMEOUT, rec
    # A second call on the same channel (and the same upstream connection) works as well.
    assert call(b"again", timeout=CALL_TIMEOUT) == b"echo:again"
    log = v.wait_access_log(lambda e: e.get("path") == method("Echo"), what="Echo access log")
    assert log.get("status") == 200, log


def test_large_messages_both_ways(h2c_setup):
    """A 3 MiB request and a 3 MiB response: beyond every HTTP/2 flow-control window on both hops."""
    v, o, ch = h2c_setup
    big = payload(3 << 20, 9)
    resp = ch.unary_unary(method("Echo"))(big, timeout=CALL_TIMEOUT)
    assert (len(resp), sha256(resp)) == (len(big) + 5, sha256(b"echo:" + big))


def test_error_status_after_initial_metadata(h2c_setup):
    """Initial metadata, then a non-OK status with trailing metadata and no message between."""
    v, o, ch = h2c_setup
    with pytest.raises(grpc.RpcError) as ei:
        ch.unary_unary(method("FailAfterHeaders")).with_call(b"x", timeout=CALL_TIMEOUT)
    e = ei.value
    assert (e.code(), e.details()) == (grpc.StatusCode.PERMISSION_DENIED, "not you")
    assert md(e.initial_metadata()).get("x-early") == "1", e.initial_metadata()
    assert md(e.trailing_metadata()).get("x-late") == "2", e.trailing_metadata()


# ----------------------------------------------------------------------------- streaming


def test_server_streaming_messages_arrive_one_by_one(h2c_setup):
    """The origin sends its first message and then waits for the client to say it has it: only a
    proxy that relays each message as it comes lets the call go on. Then the rest, the trailing
    metadata and OK."""
    v, o, ch = h2c_setup
    it = ch.unary_stream(method("Stream"))(b"s1", timeout=CALL_TIMEOUT)
    first = next(it)
    assert first == b"first:s1"
    assert not o.finished.is_set(), "the origin had already finished when the first message arrived"
    o.gate.set()
    rest = list(it)
    assert rest == [b"second:released-by-client", b"more:0", b"more:1", b"more:2"]
    assert it.code() == grpc.StatusCode.OK
    assert md(it.trailing_metadata()).get("x-stream-trailer") == "done", it.trailing_metadata()


def test_server_streaming_ends_with_error_status_after_messages(h2c_setup):
    """Messages, then a non-OK status in the trailers: the client gets both messages, then the
    code, the message and the trailing metadata."""
    v, o, ch = h2c_setup
    it = ch.unary_stream(method("StreamThenFail"))(b"", timeout=CALL_TIMEOUT)
    got = []
    with pytest.raises(grpc.RpcError) as ei:
        for m in it:
            got.append(m)
    assert got == [b"one", b"two"]
    e = ei.value
    assert (e.code(), e.details()) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "quota gone after two")
    assert md(e.trailing_metadata()).get("x-after") == "two", e.trailing_metadata()


def test_server_streaming_many_messages_under_flow_control(h2c_setup):
    """200 messages of 16 KiB (3.2 MiB): every one arrives, in order, byte for byte."""
    v, o, ch = h2c_setup
    got = list(ch.unary_stream(method("Bulk"))(b"200,16384", timeout=CALL_TIMEOUT))
    assert len(got) == 200
    assert [sha256(m) for m in got] == [sha256(payload(16384, i)) for i in range(200)]


def test_client_streaming_messages_reach_origin_one_by_one(h2c_setup):
    """The client sends its first message and holds the rest until the origin has read it: only a
    proxy that relays request messages as they come (not the whole request body) lets it go on."""
    v, o, ch = h2c_setup
    waited = {}

    def requests():
        yield b"a"
        waited["first_seen"] = o.got_first.wait(GATE_TIMEOUT)
        yield b"b"
        yield b"c" * 1000

    resp, c = ch.stream_unary(method("Collect")).with_call(requests(), timeout=CALL_TIMEOUT)
    assert waited == {"first_seen": True}
    assert resp == b"a|b|" + b"c" * 1000
    assert c.code() == grpc.StatusCode.OK
    assert md(c.trailing_metadata()).get("x-count") == "3", c.trailing_metadata()
    assert o.seen["Collect"][0]["got"] == [b"a", b"b", b"c" * 1000]


def test_bidirectional_streaming_ping_pong(h2c_setup):
    """Full duplex: each request message is sent only after the answer to the previous one came
    back through Vallum."""
    v, o, ch = h2c_setup
    outbox: queue.Queue = queue.Queue()

    def requests():
        while True:
            m = outbox.get(timeout=GATE_TIMEOUT)
            if m is None:
                return
            yield m

    it = ch.stream_stream(method("PingPong"))(requests(), timeout=CALL_TIMEOUT)
    got = []
    for i in range(5):
        outbox.put(b"ping%d" % i)
        got.append(next(it))
    outbox.put(None)
    assert list(it) == []
    assert got == [b"pong:ping%d" % i for i in range(5)]
    assert it.code() == grpc.StatusCode.OK


# ----------------------------------------------------------------------------- https upstream


def tls_setup(vallum, grpc_origin, ca):
    cert, key = ca.leaf(["localhost"])
    o = grpc_origin(tls=(cert, key))
    v = start(vallum, [route(f"https://{HOST}", f"https://localhost:{o.port}", tls_custom_ca_file=ca.cert)])
    return v, o


def test_https_upstream_with_alpn_h2(vallum, grpc_origin, ca):
    """`to: https://…` to a TLS gRPC origin (which offers h2 only): a unary call with metadata and
    trailers, a non-OK status after initial metadata, and a server-streaming call relayed message
    by message."""
    v, o = tls_setup(vallum, grpc_origin, ca)
    ch = channel(v, ca)
    try:
        resp, c = ch.unary_unary(method("Echo")).with_call(b"tls", metadata=[("x-client-md", "q")],
                                                            timeout=CALL_TIMEOUT)
        assert (resp, c.code()) == (b"echo:tls", grpc.StatusCode.OK)
        assert md(c.initial_metadata()).get("x-echo-md") == "q", c.initial_metadata()
        trailing = md(c.trailing_metadata())
        assert (trailing.get("x-trailer"), trailing.get("x-trailer-bin")) == ("t-q", b"\x00\x01\xfe\xff"), trailing
        with pytest.raises(grpc.RpcError) as ei:
            ch.unary_unary(method("FailAfterHeaders"))(b"x", timeout=CALL_TIMEOUT)
        assert (ei.value.code(), ei.value.details()) == (grpc.StatusCode.PERMISSION_DENIED, "not you")
        assert md(ei.value.trailing_metadata()).get("x-late") == "2"
        it = ch.unary_stream(method("Stream"))(b"t", timeout=CALL_TIMEOUT)
        assert next(it) == b"first:t"
        assert not o.finished.is_set()
        o.gate.set()
        assert list(it) == [b"second:released-by-client", b"more:0", b"more:1", b"more:2"]
        assert it.code() == grpc.StatusCode.OK
        assert md(it.trailing_metadata()).get("x-stream-trailer") == "done"
    finally:
        ch.close()


# ----------------------------------------------------------------------------- trailers-only


@pytest.mark.parametrize("upstream_kind", ["h2c", "https"])
def test_error_status_in_trailers_only_response_reaches_client_exactly(vallum, grpc_origin, ca, upstream_kind):
    """A handler that aborts before sending anything: grpcio answers trailers-only, one HEADERS
    frame with END_STREAM. The client sees the code, the percent-encoded non-ASCII message decoded
    back, and the trailing metadata (text and -bin) unchanged."""
    if upstream_kind == "h2c":
        o = grpc_origin()
        v = start(vallum, [route(f"https://{HOST}", f"h2c://127.0.0.1:{o.port}")])
    else:
        v, o = tls_setup(vallum, grpc_origin, ca)
    ch = channel(v, ca)
    try:
        with pytest.raises(grpc.RpcError) as ei:
            ch.unary_unary(method("Fail")).with_call(b"x", timeout=CALL_TIMEOUT)
        e = ei.value
        assert (e.code(), e.details()) == (grpc.StatusCode.NOT_FOUND, "thing 42 not found: ünïcødé, 100% sure")
        trailing = md(e.trailing_metadata())
        assert trailing.get("x-why") == "no-such-thing", trailing
        assert trailing.get("x-why-bin") == b"\xde\xad\xbe\xef", trailing
        assert len(o.seen["Fail"]) == 1
        # The channel stays usable.
        assert ch.unary_unary(method("Echo"))(b"after", timeout=CALL_TIMEOUT) == b"echo:after"
    finally:
        ch.close()


# ----------------------------------------------------------------------------- Vallum's own replies


def local_reply_setup(vallum, grpc_origin, ca):
    o = grpc_origin()
    v = start(vallum, [
        route("https://refused.example.test", f"h2c://127.0.0.1:{refused_port()}"),
        # A gRPC server reached over HTTP/1.1 (`http://` instead of `h2c://`): it answers the
        # HTTP/1.1 request with HTTP/2 frames, which Vallum cannot parse (502).
        route("https://h1-to-grpc.example.test", f"http://127.0.0.1:{o.port}"),
        route("https://private.example.test", f"h2c://127.0.0.1:{o.port}",
              allow_public_unauthenticated_access=False, allowed_users=["someone@example.com"]),
    ])
    return v, o


LOCAL_REPLIES = [
    # host, HTTP statuses, gRPC code
    ("refused.example.test", {503}, grpc.StatusCode.UNAVAILABLE),
    # 502 while Vallum sends the call over HTTP/1.1 (the origin's HTTP/2 frames do not parse);
    # 503 once it refuses gRPC to HTTP/1.1 upstreams (test_call_to_http11_only_upstream_fails_unavailable).
    ("h1-to-grpc.example.test", {502, 503}, grpc.StatusCode.UNAVAILABLE),
    ("private.example.test", {401}, grpc.StatusCode.UNAUTHENTICATED),  # sign-in not configured
    ("nowhere.example.test", {404}, grpc.StatusCode.UNIMPLEMENTED),    # no route
]


def call_local_reply(v, ca, host):
    ch = channel(v, ca, host)
    try:
        with pytest.raises(grpc.RpcError) as ei:
            ch.unary_unary(method("Echo")).with_call(b"x", timeout=CALL_TIMEOUT)
        return ei.value
    finally:
        ch.close()


def test_local_replies_fail_with_the_grpc_code_of_their_status(vallum, grpc_origin, ca):
    """Vallum's own errors (connect failure, unparsable upstream, no user, no route) end the call
    with the gRPC code gRPC maps their HTTP status to, and the access log records that status."""
    v, o = local_reply_setup(vallum, grpc_origin, ca)
    for host, statuses, code in LOCAL_REPLIES:
        err = call_local_reply(v, ca, host)
        assert err.code() == code, (host, err.code(), err.details())
        log = v.wait_access_log(lambda e, h=host: e.get("authority") == h, what=f"{host} access log")
        assert log.get("status") in statuses, log
    assert "Echo" not in o.seen  # the origin was never called


def test_local_replies_carry_grpc_status_and_message(vallum, grpc_origin, ca):
    """A local reply to a gRPC call is a trailers-only response: grpc-status from its HTTP status,
    grpc-message = the reply's details (so the client's error says why), no body."""
    details = {
        "refused.example.test": "upstream connect error or disconnect/reset before headers. reset reason: "
                                "connection failure, transport failure reason: Connection refused",
        "private.example.test": "sign-in is not configured",
        "nowhere.example.test": "route not found",
    }
    v, o = local_reply_setup(vallum, grpc_origin, ca)
    for host, _, code in LOCAL_REPLIES:
        err = call_local_reply(v, ca, host)
        assert err.code() == code, (host, err.code(), err.details())
        assert not err.details().startswith("Received http2 header with status"), (host, err.details())
        if host in details:
            assert err.details() == details[host], host
        # Trailers-only: every field is trailing metadata, none initial.
        assert md(err.initial_metadata() or ()) == {}, (host, err.initial_metadata())
        trailing = md(err.trailing_metadata())
        assert trailing.get("x-pomerium-intercepted-response") == "true", (host, trailing)
        assert len(trailing.get("x-request-id", "")) == 32, (host, trailing)


# ----------------------------------------------------------------------------- HTTP/1.1 upstream


def test_call_to_http11_only_upstream_fails_unavailable(vallum, upstream, ca):
    """gRPC needs HTTP/2 end to end: a call whose route reaches its upstream over HTTP/1.1 (an
    `http://` to) is not sent there; the client gets UNAVAILABLE from a 503 with gRPC status."""
    e = upstream("h1")
    v = start(vallum, [route(f"https://{HOST}", e.url)])
    ch = channel(v, ca)
    try:
        with pytest.raises(grpc.RpcError) as ei:
            ch.unary_unary(method("Echo")).with_call(b"x", timeout=CALL_TIMEOUT)
        err = ei.value
        assert err.code() == grpc.StatusCode.UNAVAILABLE, (err.code(), err.details())
        assert "HTTP/2" in err.details(), err.details()
        assert "x-echo-server" not in md(err.trailing_metadata()) and "x-echo-server" not in md(err.initial_metadata())
        log = v.wait_access_log(lambda entry: entry.get("path") == method("Echo"), what="Echo access log")
        assert log.get("status") == 503, log
        assert e.records == []
        # Plain HTTP on the same route still works.
        r = v.get("/plain", HOST)
        assert r.status == 200 and r.header("x-echo-server") == "h1", r
    finally:
        ch.close()
