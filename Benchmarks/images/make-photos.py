#!/usr/bin/env python3
"""Typical photos for the image benchmark: W x H JPEGs (SIZE, default 1024x768) (quality 90) cut from real photographs,
and what Pillow makes of each (torchvision's Resize(256) + CenterCrop(224), uint8 RGB) to compare
the worker's pixels with.
    /usr/bin/python3 Benchmarks/images/make-photos.py OUT_DIR [SOURCE.jpg ...]
    SIZE=4032x3024 /usr/bin/python3 Benchmarks/images/make-photos.py OUT_DIR ...   (phone-camera size)
Sources default to python-matplotlib-data's grace_hopper.jpg and any JPEG named on the command line;
each gives 1024x768 crops at a few offsets and mirrors, so the set has several distinct files."""
import os
import sys
from PIL import Image, ImageOps
import numpy as np

out = sys.argv[1]
W, H = (int(v) for v in os.environ.get("SIZE", "1024x768").split("x"))
sources = sys.argv[2:] or ["/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg"]
os.makedirs(out, exist_ok=True)
n = 0
for source in sources:
    if not os.path.exists(source):
        continue
    base = Image.open(source).convert("RGB")
    # Scale so that W x H windows fit with some room, then take windows at a few places (upscaled where needed).
    scale = max(W / base.width, H / base.height) * 1.15
    big = base.resize((int(base.width * scale), int(base.height * scale)), Image.BICUBIC)
    for i, (fx, fy, mirror) in enumerate([(0.0, 0.0, False), (1.0, 1.0, False), (0.5, 0.3, True), (0.2, 0.8, True)]):
        x = int((big.width - W) * fx)
        y = int((big.height - H) * fy)
        img = big.crop((x, y, x + W, y + H))
        if mirror:
            img = ImageOps.mirror(img)
        path = os.path.join(out, f"photo{n:02d}.jpg")
        img.save(path, quality=90)
        n += 1

        # The reference: the JPEG as saved, read back and preprocessed by Pillow as torchvision does.
        ref = Image.open(path).convert("RGB")
        w, h = ref.size
        short, long_ = (w, h) if w <= h else (h, w)
        new_long = int(256 * long_ / short)
        size = (256, new_long) if w <= h else (new_long, 256)
        ref = ref.resize(size, Image.BILINEAR)
        left = int(round((ref.width - 224) / 2.0))
        top = int(round((ref.height - 224) / 2.0))
        ref = ref.crop((left, top, left + 224, top + 224))
        np.asarray(ref, dtype=np.uint8).tofile(path + ".pil224.rgb")
print(f"{n} photos in {out}")
