"""Reference models of the hash balancers, to predict where Vallum must send a key.

Pure Python (Debian's interpreter has no xxhash module): XXH64, Envoy's ring-hash construction
and lookup, and the weighted Maglev table (Envoy's ring_hash and maglev load balancers).
Self-checked against the vectors of Envoy's ring_hash_lb_test.cc and maglev_lb_test.cc by
test_harness-style asserts in test_clusters.py.
"""

from __future__ import annotations

import bisect
import math
from typing import List, Optional, Sequence, Tuple

M64 = (1 << 64) - 1
P1 = 11400714785074694791
P2 = 14029467366897019727
P3 = 1609587929392839161
P4 = 9650029242287828579
P5 = 2870177450012600261


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & M64


def _round(acc: int, lane: int) -> int:
    acc = (acc + lane * P2) & M64
    acc = _rotl(acc, 31)
    return (acc * P1) & M64


def _merge(acc: int, val: int) -> int:
    acc ^= _round(0, val)
    return (acc * P1 + P4) & M64


def xxh64(data, seed: int = 0) -> int:
    """The standard XXH64 of `data` (bytes or str, UTF-8) with `seed`."""
    if isinstance(data, str):
        data = data.encode()
    n = len(data)
    i = 0
    if n >= 32:
        v1 = (seed + P1 + P2) & M64
        v2 = (seed + P2) & M64
        v3 = seed & M64
        v4 = (seed - P1) & M64
        while i + 32 <= n:
            v1 = _round(v1, int.from_bytes(data[i:i + 8], "little"))
            v2 = _round(v2, int.from_bytes(data[i + 8:i + 16], "little"))
            v3 = _round(v3, int.from_bytes(data[i + 16:i + 24], "little"))
            v4 = _round(v4, int.from_bytes(data[i + 24:i + 32], "little"))
            i += 32
        h = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & M64
        for v in (v1, v2, v3, v4):
            h = _merge(h, v)
    else:
        h = (seed + P5) & M64
    h = (h + n) & M64
    while i + 8 <= n:
        k = _round(0, int.from_bytes(data[i:i + 8], "little"))
        h ^= k
        h = (_rotl(h, 27) * P1 + P4) & M64
        i += 8
    if i + 4 <= n:
        h ^= (int.from_bytes(data[i:i + 4], "little") * P1) & M64
        h = (_rotl(h, 23) * P2 + P3) & M64
        i += 4
    while i < n:
        h ^= (data[i] * P5) & M64
        h = (_rotl(h, 11) * P1) & M64
        i += 1
    h ^= h >> 33
    h = (h * P2) & M64
    h ^= h >> 29
    h = (h * P3) & M64
    h ^= h >> 32
    return h


MURMUR_MUL = (0xC6A4A793 << 32) + 0x5BD1E995
STD_HASH_SEED = 0xC70F6907


def _shift_mix(v: int) -> int:
    return v ^ (v >> 47)


def murmur2_64(data, seed: int = STD_HASH_SEED) -> int:
    """libstdc++'s 64-bit std::_Hash_bytes (what std::hash<std::string> computes), which Envoy's
    ring hash uses for hash_function MURMUR_HASH_2."""
    if isinstance(data, str):
        data = data.encode()
    n = len(data)
    aligned = n & ~7
    h = (seed ^ ((n * MURMUR_MUL) & M64)) & M64
    for i in range(0, aligned, 8):
        d = (_shift_mix((int.from_bytes(data[i:i + 8], "little") * MURMUR_MUL) & M64) * MURMUR_MUL) & M64
        h ^= d
        h = (h * MURMUR_MUL) & M64
    if n & 7:
        h ^= int.from_bytes(data[aligned:], "little")
        h = (h * MURMUR_MUL) & M64
    h = (_shift_mix(h) * MURMUR_MUL) & M64
    return _shift_mix(h)


class Ring:
    """Envoy's RING_HASH ring over `hosts` = [(key, weight)] in host-set order; `murmur` builds
    the entries with MURMUR_HASH_2 instead of XX_HASH (requests are hashed with xxHash either way)."""

    def __init__(self, hosts: Sequence[Tuple[str, int]], min_size: int = 1024, max_size: int = 8 * 1024 * 1024,
                 murmur: bool = False):
        entry_hash = murmur2_64 if murmur else xxh64
        total = sum(w for _, w in hosts)
        norm = [(k, w / total) for k, w in hosts]
        min_w = min(w for _, w in norm)
        scale = min(math.ceil(min_w * min_size) / min_w, max_size)
        entries: List[Tuple[int, str]] = []
        current = 0.0
        target = 0.0
        for key, w in norm:
            target += scale * w
            i = 0
            while current < target:
                entries.append((entry_hash(f"{key}_{i}"), key))
                i += 1
                current += 1
        entries.sort(key=lambda e: e[0])
        self.hashes = [h for h, _ in entries]
        self.keys = [k for _, k in entries]

    def pick(self, h: int) -> str:
        i = bisect.bisect_left(self.hashes, h)
        if i == len(self.hashes):
            i = 0
        return self.keys[i]


class Maglev:
    """Envoy's weighted Maglev table over `hosts` = [(key, weight)] (any order)."""

    def __init__(self, hosts: Sequence[Tuple[str, int]], table_size: int = 65537):
        m = table_size
        hs = sorted(hosts, key=lambda e: e[0])
        total = sum(w for _, w in hs)
        weights = [w / total for _, w in hs]
        max_w = max(weights)
        offset = [xxh64(k, 0) % m for k, _ in hs]
        skip = [xxh64(k, 1) % (m - 1) + 1 for k, _ in hs]
        nxt = [0] * len(hs)
        target = [0.0] * len(hs)
        table: List[Optional[int]] = [None] * m
        filled = 0
        iteration = 1
        while filled < m:
            for i in range(len(hs)):
                if filled >= m:
                    break
                if iteration * weights[i] < target[i]:
                    continue
                target[i] += max_w
                while True:
                    c = (offset[i] + skip[i] * nxt[i]) % m
                    if table[c] is None:
                        break
                    nxt[i] += 1
                table[c] = i
                nxt[i] += 1
                filled += 1
            iteration += 1
        self.table = [hs[i][0] for i in table]  # type: ignore[index]

    def pick(self, h: int) -> str:
        return self.table[h % len(self.table)]
