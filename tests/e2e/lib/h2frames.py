"""HTTP/2 frames and HPACK blocks written by hand (RFC 9113 §4, §6; RFC 7541), for the peers
that must break the protocol on purpose: the hostile origin (h2hostile.py) and the raw client
(h2client.RawH2). python3-h2 is used wherever a well-behaved peer is enough."""

import struct
from typing import List, Sequence, Tuple

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIO_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20

S_HEADER_TABLE_SIZE, S_ENABLE_PUSH, S_MAX_CONCURRENT_STREAMS, S_INITIAL_WINDOW_SIZE, S_MAX_FRAME_SIZE, \
    S_MAX_HEADER_LIST_SIZE = 1, 2, 3, 4, 5, 6

NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, STREAM_CLOSED, \
    FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR, CONNECT_ERROR, ENHANCE_YOUR_CALM = range(12)

Headers = List[Tuple[str, str]]


# ----------------------------------------------------------------------------- frames


def frame(ftype: int, flags: int, sid: int, payload: bytes = b"") -> bytes:
    """One frame: 24-bit length, type, flags, stream id (reserved bit clear), payload."""
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid & 0x7FFFFFFF) + payload


def settings_frame(pairs: Sequence[Tuple[int, int]] = (), ack: bool = False) -> bytes:
    return frame(SETTINGS, ACK if ack else 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def rst_frame(sid: int, code: int) -> bytes:
    return frame(RST_STREAM, 0, sid, struct.pack(">I", code))


def window_update(sid: int, increment: int) -> bytes:
    return frame(WINDOW_UPDATE, 0, sid, struct.pack(">I", increment))


def ping_frame(data: bytes = b"12345678", ack: bool = False) -> bytes:
    return frame(PING, ACK if ack else 0, 0, data)


# ----------------------------------------------------------------------------- HPACK


def hpack_int(value: int, prefix_bits: int, first: int = 0) -> bytes:
    """RFC 7541 §5.1 integer with an N-bit prefix; `first` carries the pattern bits."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_str(s: bytes) -> bytes:
    return hpack_int(len(s), 7) + s  # no Huffman


def _b(x) -> bytes:
    return x if isinstance(x, (bytes, bytearray)) else str(x).encode("latin-1")


def lit(name, value) -> bytes:
    """Literal header field without indexing, new name (RFC 7541 §6.2.2)."""
    return b"\x00" + hpack_str(_b(name)) + hpack_str(_b(value))


def lit_indexed_insert(name, value) -> bytes:
    """Literal header field with incremental indexing, new name (§6.2.1): enters the dynamic table."""
    return b"\x40" + hpack_str(_b(name)) + hpack_str(_b(value))


def indexed(index: int) -> bytes:
    """Indexed header field (§6.1); 62 = the newest dynamic table entry."""
    return hpack_int(index, 7, 0x80)


def block(headers: Headers) -> bytes:
    return b"".join(lit(k, v) for k, v in headers)
