#!/usr/bin/env python3
"""Builds the sample inputs for `Worker transform` (README's run command) for the linear model
(formats/models/linear: X[N,4] float -> Y[N,3]). The same 100 rows in four Content-Types:

    linear/rows.csv       text/csv, one row per line (two rows use RFC 4180 quoting)
    linear/rows.jsonl     application/jsonlines, one array per line
    linear/rows.tfrecord  application/x-tfrecord, tf.train.Example {"X": float_list}
    linear/rows.rec       application/x-recordio-protobuf, aialgs Record {"values": Float32Tensor}

Plain python3, no packages: the protobuf and both framings are written by hand (formats/README.md
has the byte layouts). Run: python3 formats/inputs/make_inputs.py"""
import math
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS = [[round(math.sin(i * 4 + j) * 10, 3) for j in range(4)] for i in range(100)]


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, payload):  # length-delimited field
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def packed_floats(values):
    return struct.pack("<%df" % len(values), *values)


def example(row):
    float_list = field(1, packed_floats(row))                  # FloatList.value = 1 (packed)
    feature = field(2, float_list)                               # Feature.float_list = 2
    entry = field(1, b"X") + field(2, feature)                   # map entry: key = 1, value = 2
    return field(1, field(1, entry))                             # Example.features = 1 -> Features.feature = 1


def record(row):
    tensor = field(1, packed_floats(row))                        # Float32Tensor.values = 1 (packed)
    value = field(2, tensor)                                     # Value.float32_tensor = 2
    entry = field(1, b"values") + field(2, value)
    return field(1, entry)                                       # Record.features = 1


def tfrecord_frame(data):
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked(crc32c(length))) + data + struct.pack("<I", masked(crc32c(data)))


def recordio_frame(data):
    pad = (4 - len(data) % 4) % 4
    return struct.pack("<II", 0xCED7230A, len(data)) + data + b"\0" * pad


def main():
    folder = os.path.join(HERE, "linear")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "rows.csv"), "w", newline="") as f:
        for i, row in enumerate(ROWS):
            cells = ["%g" % v for v in row]
            if i in (7, 42):
                cells = ['"%s"' % c for c in cells]
            f.write(",".join(cells) + "\n")
    with open(os.path.join(folder, "rows.jsonl"), "w", newline="") as f:
        for row in ROWS:
            f.write("[" + ",".join("%g" % v for v in row) + "]\n")
    with open(os.path.join(folder, "rows.tfrecord"), "wb") as f:
        for row in ROWS:
            f.write(tfrecord_frame(example(row)))
    with open(os.path.join(folder, "rows.rec"), "wb") as f:
        for row in ROWS:
            f.write(recordio_frame(record(row)))


if __name__ == "__main__":
    main()
