#!/usr/bin/python3
"""Independent PNG reference (stdlib zlib only) for the C# PNG codec tests.

  encode W H C RAW OUT   write RAW (H*W*C bytes) as PNG using filter type (row % 5): all five filters
  decode PNG RAW         decode an 8-bit non-interlaced PNG to RAW, print "W H C"
"""
import struct
import sys
import zlib

COLOR = {1: 0, 2: 4, 3: 2, 4: 6}


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode(w, h, c, raw):
    stride = w * c
    out = bytearray()
    prev = bytes(stride)
    for y in range(h):
        row = raw[y * stride:(y + 1) * stride]
        f = y % 5
        out.append(f)
        for x in range(stride):
            a = row[x - c] if x >= c else 0
            b = prev[x]
            cc = prev[x - c] if x >= c else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, cc)][f]
            out.append((row[x] - pred) & 0xFF)
        prev = row
    ihdr = struct.pack(">IIBBBBB", w, h, 8, COLOR[c], 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(out), 9)) + chunk(b"IEND", b"")


def decode(png):
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while True:
        (n,) = struct.unpack(">I", png[pos:pos + 4])
        kind, data = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", png[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(kind + data) & 0xFFFFFFFF, kind
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", data)
            assert depth == 8 and interlace == 0
            c = {v: k for k, v in COLOR.items()}[color]
        elif kind == b"IDAT":
            idat += data
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = w * c
    out = bytearray()
    prev = bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        src = raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        row = bytearray(stride)
        for x in range(stride):
            a = row[x - c] if x >= c else 0
            b = prev[x]
            cc = prev[x - c] if x >= c else 0
            row[x] = (src[x] + [0, a, b, (a + b) // 2, paeth(a, b, cc)][f]) & 0xFF
        out += row
        prev = row
    return w, h, c, bytes(out)


if __name__ == "__main__":
    if sys.argv[1] == "encode":
        w, h, c = map(int, sys.argv[2:5])
        open(sys.argv[6], "wb").write(encode(w, h, c, open(sys.argv[5], "rb").read()))
    else:
        w, h, c, raw = decode(open(sys.argv[2], "rb").read())
        open(sys.argv[3], "wb").write(raw)
        print(w, h, c)
