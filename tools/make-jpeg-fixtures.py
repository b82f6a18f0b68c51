#!/usr/bin/python3
"""Writes tests/fixtures/jpeg/: small JPEGs in the layouts a decoder can get wrong (chroma
subsampling, progressive, odd sizes, grey, Adobe CMYK) cut from a real CC0 tile, and beside each
the RGB bytes Pillow decodes from it (Image.open(f).convert("RGB")). test-image checks that
rm_image_decode_memory gives exactly those bytes. Run with Debian's python3 and python3-pil
(Pillow 9.4, the version the official code pins): /usr/bin/python3 tools/make-jpeg-fixtures.py
"""
import os
import sys

from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "..", "tests", "fixtures", "jpeg")
os.makedirs(out, exist_ok=True)
tile = Image.open(os.path.join(here, "..", "data", "sample", "tile1_part005.jpg")).convert("RGB")
crop = tile.crop((300, 250, 337, 273))  # 37 x 23: neither side a multiple of 8 or 16

cases = {
    "rgb420": (crop, dict(quality=85, subsampling=2)),
    "rgb422": (crop, dict(quality=90, subsampling=1)),
    "rgb444": (crop, dict(quality=95, subsampling=0)),
    "progressive": (crop, dict(quality=80, progressive=True)),
    "grey": (crop.convert("L"), dict(quality=85)),
    "cmyk": (crop.convert("CMYK"), dict(quality=90)),
}
for name, (image, options) in cases.items():
    path = os.path.join(out, name + ".jpg")
    image.save(path, "JPEG", **options)
    decoded = Image.open(path)
    with open(os.path.join(out, name + ".rgb"), "wb") as f:
        f.write(decoded.convert("RGB").tobytes())
    print(name, decoded.mode, decoded.size, file=sys.stderr)
