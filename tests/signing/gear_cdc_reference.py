#!/usr/bin/env python3
"""gear-cdc-1 written from docs/bundle-format.md ("Chunk index") alone, as a
second implementation: prints the chunk index of FILE (OFFSET SIZE SHA256).
Usage: gear_cdc_reference.py FILE [MIN AVG MAX]"""
import hashlib
import sys

M64 = (1 << 64) - 1


def gear_table():
    state, table = 0x6564676566726F67, []
    for _ in range(256):
        state = (state + 0x9E3779B97F4A7C15) & M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        table.append(z ^ (z >> 31))
    return table


def top_bits(bits):
    return (M64 << (64 - bits)) & M64 if bits > 0 else 0


def chunks(data, lo, avg, hi):
    gear = gear_table()
    bits = avg.bit_length() - 1
    small, large = top_bits(bits + 2), top_bits(bits - 2)
    start, h = 0, 0
    for i, b in enumerate(data):
        h = ((h << 1) + gear[b]) & M64
        length = i + 1 - start
        if length < lo:
            continue
        mask = small if length < avg else large
        if h & mask == 0 or length == hi:
            yield start, length
            start, h = i + 1, 0
    if start < len(data):
        yield start, len(data) - start


def main():
    data = open(sys.argv[1], "rb").read()
    lo, avg, hi = (int(x) for x in sys.argv[2:5]) if len(sys.argv) == 5 else (16384, 65536, 262144)
    for off, size in chunks(data, lo, avg, hi):
        print(off, size, hashlib.sha256(data[off:off + size]).hexdigest())


main()
