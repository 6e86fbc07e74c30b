"""A small PNG reader for chart tests (8-bit RGB or RGBA, not interlaced: what
vl-convert writes), so a test can check an image's size and which colours it has."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
Pixel = tuple[int, int, int]


@dataclass(frozen=True)
class Image:
    """Decoded pixels, row by row, as RGB (alpha dropped: charts are drawn on white)."""

    width: int
    height: int
    rows: list[list[Pixel]]

    def count(self, colour: Pixel, box: tuple[int, int, int, int] | None = None,
              tolerance: int = 8) -> int:
        """Pixels within ``tolerance`` of ``colour`` per channel, inside ``box``
        (left, top, right, bottom; the whole image by default)."""
        left, top, right, bottom = box or (0, 0, self.width, self.height)
        return sum(1 for row in self.rows[top:bottom] for pixel in row[left:right]
                   if all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True)))


def hex_colour(text: str) -> Pixel:
    """``#4c78a8`` as an RGB triple."""
    return int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16)


def decode(data: bytes) -> Image:
    """The image in ``data``; ValueError if it is not a PNG this reader handles."""
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG")
    offset, header, compressed = len(SIGNATURE), b"", bytearray()
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset:offset + 4])
        kind = data[offset + 4:offset + 8]
        body = data[offset + 8:offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length:offset + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise ValueError(f"bad CRC in a {kind!r} chunk")
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            compressed += body
        offset += 12 + length
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    channels = {2: 3, 6: 4}.get(colour_type)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour_type}")
    raw = zlib.decompress(bytes(compressed))
    stride = width * channels
    rows: list[list[Pixel]] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        line = _unfilter(raw[start], bytearray(raw[start + 1:start + 1 + stride]), previous,
                         channels)
        rows.append([(line[x], line[x + 1], line[x + 2]) for x in range(0, stride, channels)])
        previous = line
    return Image(width, height, rows)


def _unfilter(kind: int, line: bytearray, up: bytearray, step: int) -> bytearray:
    for i in range(len(line)):
        left = line[i - step] if i >= step else 0
        above, corner = up[i], up[i - step] if i >= step else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + above) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + above) // 2) & 0xFF
        elif kind == 4:
            line[i] = (line[i] + _paeth(left, above, corner)) & 0xFF
    return line


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c
