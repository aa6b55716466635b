"""A minimal PNG writer (zlib from the standard library), so that the importer needs no imaging
package: 8-bit greyscale or RGB, one IDAT chunk, filter 0 on every row."""

import struct
import zlib

import numpy as np


def write_png(path, pixels: np.ndarray) -> None:
    a = np.ascontiguousarray(pixels, dtype=np.uint8)
    if a.ndim == 2:
        colour, channels = 0, 1
    elif a.ndim == 3 and a.shape[2] == 3:
        colour, channels = 2, 3
    else:
        raise ValueError(f"write_png: expected HxW or HxWx3, got {a.shape}")
    h, w = a.shape[:2]
    rows = a.reshape(h, w * channels)
    raw = b"".join(b"\x00" + rows[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
