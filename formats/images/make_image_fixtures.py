#!/usr/bin/env python3
"""Makes the small image fixtures the image tests compare against Pillow (Debian's python3-pil):
    apt-get install -y python3-pil && /usr/bin/python3 formats/images/make_image_fixtures.py

  gradient.png                 37x23 RGB, smooth with some detail (lossless, so every decoder agrees)
  gradient_pil_WxH.png         gradient.png resized by Pillow's BILINEAR (antialiased) to WxH
  rotated6.jpg                 a 40x24 JPEG stored sideways with EXIF Orientation 6 (rotate 90 CW to view)
  rotated6_upright.png         Pillow's ImageOps.exif_transpose of it (24x40), decoded by Pillow
"""
import os
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))


def gradient(w, h):
    img = Image.new("RGB", (w, h))
    px = img.load()
    for y in range(h):
        for x in range(w):
            px[x, y] = ((x * 255) // (w - 1), (y * 255) // (h - 1), (x * 37 + y * 91) % 256)
    return img


g = gradient(37, 23)
g.save(os.path.join(HERE, "gradient.png"))
for (w, h) in [(8, 8), (16, 5), (50, 40), (37, 11), (3, 23)]:
    g.resize((w, h), Image.BILINEAR).save(os.path.join(HERE, f"gradient_pil_{w}x{h}.png"))

# Stored sideways: what the camera wrote (40 wide, 24 high) with Orientation 6.
stored = gradient(40, 24)
exif = Image.Exif()
exif[0x0112] = 6
stored.save(os.path.join(HERE, "rotated6.jpg"), quality=95, exif=exif.tobytes())
ImageOps.exif_transpose(Image.open(os.path.join(HERE, "rotated6.jpg"))).convert("RGB").save(os.path.join(HERE, "rotated6_upright.png"))
