#!/usr/bin/env python3
"""Pillow + numpy preprocessing of the benchmark photos, as a Python container does it per request:
decode, RGB, Resize(256) (BILINEAR, antialiased), CenterCrop(224), to float32 / 255, ImageNet
mean/std, CHW. One process, one core. Prints images/s (median of ROUNDS rounds over every file).
    /usr/bin/python3 Benchmarks/images/pil-preprocess.py DIR [ROUNDS]"""
import glob
import io
import os
import statistics
import sys
import time
from PIL import Image
import numpy as np

files = sorted(glob.glob(os.path.join(sys.argv[1], "*.jpg")))
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
blobs = [open(f, "rb").read() for f in files]
mean = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(3, 1, 1)
std = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(3, 1, 1)


def preprocess(blob):
    img = Image.open(io.BytesIO(blob)).convert("RGB")
    w, h = img.size
    short, long_ = (w, h) if w <= h else (h, w)
    new_long = int(256 * long_ / short)
    img = img.resize((256, new_long) if w <= h else (new_long, 256), Image.BILINEAR)
    left = int(round((img.width - 224) / 2.0))
    top = int(round((img.height - 224) / 2.0))
    img = img.crop((left, top, left + 224, top + 224))
    x = np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0
    return (x - mean) / std


for blob in blobs:  # warm
    preprocess(blob)
rates = []
for _ in range(rounds):
    start = time.perf_counter()
    count = 0
    while time.perf_counter() - start < 2.0:
        for blob in blobs:
            preprocess(blob)
            count += 1
    rates.append(count / (time.perf_counter() - start))
print(f"pil+numpy images/s: median {statistics.median(rates):.1f} (rounds: {', '.join(f'{r:.1f}' for r in rates)}); {len(blobs)} files")
