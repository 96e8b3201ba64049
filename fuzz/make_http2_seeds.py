#!/usr/bin/python3
"""Writes the hand-made seeds of fuzz/corpus/http2_server/ (Debian's python3-h2 and hpack).

Each seed is: flags byte, two split-point bytes (see fuzz/http2_server_fuzz.cc), then client
frames without the preface (the target adds the preface and an empty SETTINGS frame).
Run from the repository root: /usr/bin/python3 fuzz/make_http2_seeds.py
"""
import struct

import h2.config
import h2.connection
import h2.settings
import hpack

OUT = 'fuzz/corpus/http2_server/'
PREFACE = b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'
BASE = [(':method', 'GET'), (':scheme', 'https'), (':authority', 'example.com'),
        (':path', '/index.html')]


def frame(ftype, flags, sid, payload):
    return struct.pack('>I', len(payload))[1:] + bytes([ftype, flags]) + struct.pack('>I', sid) + payload


def conn():
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding='utf-8'))
    c.initiate_connection()
    return c


def save(name, flags, data, s1=0x40, s2=0xa0):
    assert data.startswith(PREFACE)
    with open(OUT + name, 'wb') as f:
        f.write(bytes([flags, s1, s2]) + data[len(PREFACE):])


def main():
    c = conn()
    c.send_headers(1, BASE + [('user-agent', 'fuzz'), ('cookie', 'a=1'), ('cookie', 'b=2')], end_stream=True)
    save('seed-get', 0x04, c.data_to_send())

    c = conn()
    c.send_headers(1, [(':method', 'POST'), (':scheme', 'https'), (':authority', 'example.com'),
                       (':path', '/upload'), ('content-length', '11'), ('content-type', 'text/plain')])
    c.send_data(1, b'hello ')
    c.send_data(1, b'world', end_stream=True)
    save('seed-post-content-length', 0x0c, c.data_to_send())

    # Request trailers, including fields a trailer must never change (X-Forwarded-For, Host).
    c = conn()
    c.send_headers(1, [(':method', 'POST'), (':scheme', 'https'), (':authority', 'example.com'),
                       (':path', '/grpc'), ('te', 'trailers'), ('content-type', 'application/grpc')])
    c.send_data(1, b'\x00\x00\x00\x00\x01x')
    c.send_headers(1, [('grpc-timeout', '1S'), ('x-forwarded-for', '10.0.0.1'), ('host', 'evil.example')],
                   end_stream=True)
    save('seed-request-trailers', 0x0c, c.data_to_send())

    # Several streams: HEAD, encoded paths, Expect: 100-continue, a reset; SETTINGS, PING,
    # WINDOW_UPDATE.
    c = conn()
    c.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 100})
    c.send_headers(1, BASE, end_stream=True)
    c.send_headers(3, [(':method', 'HEAD'), (':scheme', 'http'), (':authority', 'a'), (':path', '/%61dmin')],
                   end_stream=True)
    c.send_headers(5, [(':method', 'PUT'), (':scheme', 'http'), (':authority', 'a'), (':path', '//admin/%2F'),
                       ('expect', '100-continue'), ('content-length', '3')])
    c.send_data(5, b'abc', end_stream=True)
    c.send_headers(7, BASE)
    c.reset_stream(7)
    c.ping(b'12345678')
    c.increment_flow_control_window(1000)
    save('seed-multi-stream', 0x11, c.data_to_send(), 0x20, 0x80)

    # HEADERS without END_HEADERS, then two CONTINUATION frames.
    c = conn()
    pre = c.data_to_send()
    block = hpack.Encoder().encode(BASE + [('x-a', '1' * 40), ('x-b', '2' * 40)])
    save('seed-continuation', 0x04,
         pre + frame(1, 0x1, 1, block[:10]) + frame(9, 0, 1, block[10:30]) + frame(9, 0x4, 1, block[30:]))
    block = hpack.Encoder().encode(BASE)
    many = b''.join(frame(9, 0, 3, block[2 + i:3 + i]) for i in range(len(block) - 3))
    save('seed-continuation-many', 0x40, pre + frame(1, 0x1, 3, block[:2]) + many + frame(9, 4, 3, block[-1:]))

    c = conn()
    c.send_headers(1, BASE + [('x-big', 'v' * 400)], end_stream=True)
    save('seed-header-too-large', 0x40, c.data_to_send())

    c = conn()
    for sid in range(1, 40, 2):
        c.send_headers(sid, BASE)
        c.reset_stream(sid)
    save('seed-rapid-reset', 0x40, c.data_to_send())

    c = conn()
    c.send_headers(1, [(':method', 'POST'), (':scheme', 'http'), (':authority', 'a'), (':path', '/')])
    save('seed-empty-data', 0x40, c.data_to_send() + b''.join(frame(0, 0, 1, b'') for _ in range(10)))

    c = conn()
    c.send_headers(1, [(':method', 'POST'), (':scheme', 'http'), (':authority', 'a'), (':path', '/'),
                       ('content-length', '2')])
    c.send_data(1, b'abcd', end_stream=True)
    save('seed-content-length-mismatch', 0x02, c.data_to_send())

    # Raw HPACK: what python-h2 refuses to send.
    c = conn()
    pre = c.data_to_send()
    enc = hpack.Encoder()
    save('seed-connect', 0x01,
         pre + frame(1, 0x4, 1, enc.encode([(':method', 'CONNECT'), (':authority', 'example.com:443')])))
    save('seed-connection-specific', 0x04,
         pre + frame(1, 0x5, 1, enc.encode([(':method', 'GET'), (':scheme', 'http'), (':authority', 'a'),
                                            (':path', '/'), ('connection', 'close'),
                                            ('transfer-encoding', 'chunked')])))
    save('seed-uppercase-name', 0x04,
         pre + frame(1, 0x5, 1, enc.encode([(':method', 'GET'), (':scheme', 'http'), (':authority', 'a'),
                                            (':path', '/'), ('X-Upper', '1')])))

    c = conn()
    c.send_headers(1, [(':method', 'POST'), (':scheme', 'http'), (':authority', 'a'), (':path', '/big')])
    for _ in range(4):
        c.send_data(1, b'x' * 1000)
    c.end_stream(1)
    save('seed-flow-control', 0xc4, c.data_to_send())

    c = conn()
    c.send_headers(1, BASE, end_stream=True)
    c.close_connection()
    save('seed-client-goaway', 0x24, c.data_to_send())


if __name__ == '__main__':
    main()
