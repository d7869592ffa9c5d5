"""Synthetic MRZ lines for the glyph classifier (issue 16), rendered from the
six cuts of Debian's fonts-ocr-b only, and resampled onto the OCR stage's
strips exactly as `stages/src/ocr/mod.rs::strip` does (30 px per pitch,
60 px tall, bilinear, 2nd/98th percentile contrast stretch).

Output (one file): for every line, `u32 width, u32 cells, width*60 bytes of
strip, cells x (u8 class, f32 centre x in the strip)`, then a JSON side file
with each line's variation tags. The Rust example `glyph_features` turns the
strips into the classifier's inputs with the very code inference runs.

Seeded and deterministic: `python3 gen.py --seed 1 --lines 6000 --out f`.
"""

import argparse
import io
import json
import math
import struct

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"
LETTERS = ALPHABET[:26]
DIGITS = ALPHABET[26:36]
FONT_DIR = "/usr/share/fonts/opentype/ocr-b/"
# Regular, sharp-cornered, oblique, outline, and the two white-on-black cuts
# (E, X: the glyph is the box's hole, inverted here).
CUTS = ["OCRB", "OCRBS", "OCRBL", "OCRBF", "OCRBE", "OCRBX"]
CUT_WEIGHTS = [0.34, 0.22, 0.08, 0.08, 0.14, 0.14]
# FreeType anti-aliased with its hinting at the target size; FreeType at 8x
# box-filtered down (unhinted, exact-area coverage as ab_glyph draws);
# FreeType monochrome (hinted, aliased).
RASTERS = ["hinted", "unhinted", "mono"]
RASTER_WEIGHTS = [0.4, 0.4, 0.2]
UNITS = 1000.0
ADVANCE = 723.0  # every glyph of every cut, font units
STRIP_PITCH = 30.0
STRIP_HEIGHT = 60
SUPER = 8

_fonts = {}


def font(cut, size):
    key = (cut, round(size * 64))
    if key not in _fonts:
        if len(_fonts) > 4000:
            _fonts.clear()
        _fonts[key] = ImageFont.truetype(FONT_DIR + cut + ".otf", size=round(size * 64) / 64.0)
    return _fonts[key]


def line_text(rng, n):
    kind = rng.integers(0, 4)
    if kind == 0:  # anything
        return "".join(rng.choice(list(ALPHABET), n))
    if kind == 1:  # names: letters and filler runs
        out = []
        while len(out) < n:
            out += list(rng.choice(list(LETTERS), rng.integers(2, 10)))
            out += ["<"] * int(rng.integers(1, 4))
        return "".join(out[:n])
    if kind == 2:  # numbers: digits, a few letters and fillers
        p = np.array([0.75 / 10] * 10 + [0.15 / 26] * 26 + [0.10])
        return "".join(rng.choice(list(DIGITS + LETTERS + "<"), n, p=p))
    # confusable-heavy
    return "".join(rng.choice(list("0OQDCG8B5S2Z1I7T6<KX4AUV"), n))


BASE_EM = 240.0
BASE_PAD = 24
_bases = {}


def base_glyph(cut, c):
    """Ink of `c` in `cut` rendered once, large (em BASE_EM px, 4x box-filtered
    from FreeType): (image "L", anchor x, anchor y of the baseline's left end)."""
    key = (cut, c)
    if key in _bases:
        return _bases[key]
    sup = 2
    em = int(BASE_EM * sup)
    w, h = int(em * 1.3), int(em * 1.7)
    ax, ay = int(em * 0.15), int(em * 1.25)
    img = Image.new("L", (w, h), 0)
    ImageDraw.Draw(img).text((ax, ay), c, font=ImageFont.truetype(FONT_DIR + cut + ".otf", em), fill=255, anchor="ls")
    a = np.asarray(img, dtype=np.float32) / 255.0
    if cut in ("OCRBE", "OCRBX"):
        rows = np.where(a.max(axis=1) > 0.5)[0]
        cols = np.where(a.max(axis=0) > 0.5)[0]
        m = int(0.03 * em)
        inner = np.zeros_like(a)
        r0, r1, c0, c1 = rows[0] + m, rows[-1] - m, cols[0] + m, cols[-1] - m
        inner[r0:r1, c0:c1] = 1.0 - a[r0:r1, c0:c1]
        a = inner
    if cut == "OCRBF":
        small = Image.fromarray((a * 255).astype(np.uint8)).resize((w // sup, h // sup), Image.BOX)
        # Regions found at a third of the size, then scaled back.
        tiny = small.resize((w // sup // 2, h // sup // 2), Image.BOX)
        filled = fill_outline(np.asarray(tiny) > 40)
        filled = Image.fromarray((filled * 255).astype(np.uint8)).resize(small.size, Image.BILINEAR)
        a = np.maximum(np.asarray(small, dtype=np.float32), np.asarray(filled, dtype=np.float32)) / 255.0
        img = Image.fromarray((a * 255).astype(np.uint8))
    else:
        img = Image.fromarray((a * 255).astype(np.uint8)).resize((w // sup, h // sup), Image.BOX)
    pad = Image.new("L", (img.width + 2 * BASE_PAD, img.height + 2 * BASE_PAD), 0)
    pad.paste(img, (BASE_PAD, BASE_PAD))
    _bases[key] = (pad, ax / sup + BASE_PAD, ay / sup + BASE_PAD)
    return _bases[key]


def render_coverage(cut, raster, lines, fs, xscale, pitch, x0, baselines, width, height):
    """Ink coverage (0..1, float32, height x width) of `lines` of text, each
    character's advance box starting at x0 + i * pitch, on `baselines`."""
    a = np.zeros((height, width), np.float32)
    if raster == "unhinted" or cut in ("OCRBE", "OCRBX", "OCRBF"):
        # Area coverage of the outline at the target size (as ab_glyph draws):
        # the large rendering box-filtered onto the target pixels.
        sx, sy = fs * xscale / BASE_EM, fs / BASE_EM
        for text, (base, jitter) in zip(lines, baselines):
            for i, c in enumerate(text):
                img, ax, ay = base_glyph(cut, c)
                x = x0 + i * pitch + jitter[i][0]
                y = base + jitter[i][1]
                # Target pixels covering the base image.
                tx0 = int(math.floor(x - (ax - BASE_PAD) * sx))
                ty0 = int(math.floor(y - (ay - BASE_PAD) * sy))
                tw = int((img.width - 2 * BASE_PAD) * sx) + 2
                th = int((img.height - 2 * BASE_PAD) * sy) + 2
                src = ((tx0 - x) / sx + ax, (ty0 - y) / sy + ay, (tx0 + tw - x) / sx + ax, (ty0 + th - y) / sy + ay)
                g = np.asarray(img.resize((tw, th), Image.BOX, box=src), dtype=np.float32) / 255.0
                ys0, xs0 = max(0, ty0), max(0, tx0)
                ys1, xs1 = min(height, ty0 + th), min(width, tx0 + tw)
                if ys1 <= ys0 or xs1 <= xs0:
                    continue
                a[ys0:ys1, xs0:xs1] = np.maximum(a[ys0:ys1, xs0:xs1], g[ys0 - ty0 : ys1 - ty0, xs0 - tx0 : xs1 - tx0])
        return a
    # FreeType at the target size, hinted (anti-aliased or monochrome); drawn
    # at horizontal scale 1, then the canvas squeezed by xscale.
    cw = int(math.ceil(width / xscale)) + 2
    img = Image.new("L", (cw, height), 0)
    d = ImageDraw.Draw(img)
    d.fontmode = "1" if raster == "mono" else "L"
    f = font(cut, fs)
    for text, (base, jitter) in zip(lines, baselines):
        for i, c in enumerate(text):
            d.text(((x0 + i * pitch + jitter[i][0]) / xscale, base + jitter[i][1]), c, font=f, fill=255, anchor="ls")
    out_w = int(round(cw * xscale))
    img = img.resize((out_w, height), Image.BILINEAR)
    w = min(width, out_w)
    a[:, :w] = np.asarray(img, dtype=np.float32)[:, :w] / 255.0
    return a


def fill_outline(edge):
    """The outline cut filled: each region the contours enclose is ink when
    an odd number of contour runs lies between it and the left margin."""
    from collections import deque

    h, w = edge.shape
    label = np.full((h, w), -1, np.int32)
    ink = edge.astype(np.float32)
    flat_edge = edge.ravel().tolist()
    flat_label = label.ravel().tolist()
    k = 0
    for start in range(h * w):
        if flat_edge[start] or flat_label[start] >= 0:
            continue
        q = deque([start])
        flat_label[start] = k
        pts = []
        while q:
            i = q.popleft()
            pts.append(i)
            y, x = divmod(i, w)
            for j, ok in ((i - w, y > 0), (i + w, y < h - 1), (i - 1, x > 0), (i + 1, x < w - 1)):
                if ok and not flat_edge[j] and flat_label[j] < 0:
                    flat_label[j] = k
                    q.append(j)
        y, x = divmod(pts[0], w)
        row = edge[y, :x]
        crossings = int(np.count_nonzero(row[1:] & ~row[:-1])) + int(row[0]) if x > 0 else 0
        if crossings % 2 == 1:
            ink.ravel()[pts] = 1.0
        k += 1
    return ink


def gaussian(a, sigma):
    if sigma < 0.2:
        return a
    r = int(math.ceil(3 * sigma))
    x = np.arange(-r, r + 1, dtype=np.float32)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    k /= k.sum()
    pad = np.pad(a, ((0, 0), (r, r)), mode="edge")
    a = sum(k[i] * pad[:, i : i + a.shape[1]] for i in range(2 * r + 1))
    pad = np.pad(a, ((r, r), (0, 0)), mode="edge")
    return sum(k[i] * pad[i : i + a.shape[0], :] for i in range(2 * r + 1)).astype(np.float32)


def smooth_noise(rng, h, w, cell):
    gh, gw = h // cell + 2, w // cell + 2
    g = rng.standard_normal((gh, gw)).astype(np.float32)
    img = Image.fromarray(g, mode="F").resize((gw * cell, gh * cell), Image.BICUBIC)
    return np.asarray(img, dtype=np.float32)[:h, :w]


def security_print(rng, h, w, pitch):
    """Guilloche-like thin curves: sums of sines, antialiased by distance."""
    out = np.zeros((h, w), np.float32)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    for _ in range(int(rng.integers(2, 12))):
        yc = rng.uniform(-0.3, 1.3) * h
        a1, l1, p1 = rng.uniform(0.1, 1.5) * pitch, rng.uniform(1, 12) * pitch, rng.uniform(0, 6.3)
        a2, l2, p2 = rng.uniform(0, 0.5) * pitch, rng.uniform(0.5, 4) * pitch, rng.uniform(0, 6.3)
        slope = rng.uniform(-0.3, 0.3)
        f = yc + slope * xs + a1 * np.sin(2 * np.pi * xs / l1 + p1) + a2 * np.sin(2 * np.pi * xs / l2 + p2)
        df = slope + a1 * 2 * np.pi / l1 * np.cos(2 * np.pi * xs / l1 + p1) + a2 * 2 * np.pi / l2 * np.cos(
            2 * np.pi * xs / l2 + p2
        )
        dist = np.abs(ys - f) / np.sqrt(1 + df * df)
        thick = rng.uniform(0.03, 0.08) * pitch
        strength = rng.uniform(0.1, 0.5)
        out = np.maximum(out, strength * np.clip(thick / 2 + 0.5 - dist, 0, 1))
    return out


def bilinear(img, x, y):
    """`stages/src/ocr/mod.rs::bilinear`: paper (255) outside, rounded."""
    h, w = img.shape
    out = np.full(x.shape, 255.0, np.float32)
    inside = (x >= 0) & (y >= 0) & (x <= w - 1) & (y <= h - 1)
    xi, yi = x[inside], y[inside]
    x0 = np.floor(xi).astype(np.int64)
    y0 = np.floor(yi).astype(np.int64)
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    fx, fy = xi - x0, yi - y0
    p = img.astype(np.float32)
    top = p[y0, x0] * (1 - fx) + p[y0, x1] * fx
    bottom = p[y1, x0] * (1 - fx) + p[y1, x1] * fx
    out[inside] = np.round(top * (1 - fy) + bottom * fy)
    return out


def strip(img, origin, direction, pitch, cells):
    """`stages/src/ocr/mod.rs::strip`."""
    s = STRIP_PITCH / max(pitch, 1.0)
    width = int(STRIP_PITCH * (cells + 1.0))
    height = STRIP_HEIGHT
    dx, dy = direction
    nx, ny = -dy, dx
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    along = (u - STRIP_PITCH) / s
    across = (v - height / 2.0) / s
    x = origin[0] + along * dx + across * nx
    y = origin[1] + along * dy + across * ny
    out = bilinear(img, x, y)
    hist = np.bincount(out.astype(np.int64).ravel(), minlength=256)
    total = out.size
    cum = np.cumsum(hist)

    def pct(q):
        i = np.nonzero(cum * 100 >= total * q)[0]
        return float(i[0]) if len(i) else 255.0

    low, high = pct(2), pct(98)
    if high - low >= 8.0:
        out = np.clip((out - low) * 255.0 / (high - low), 0, 255)
    return out.astype(np.uint8)


def sample_params(rng, preset):
    p = {
        "cut": CUTS[rng.choice(len(CUTS), p=CUT_WEIGHTS)],
        "raster": RASTERS[rng.choice(len(RASTERS), p=RASTER_WEIGHTS)],
        "dpi": float(math.exp(rng.uniform(math.log(200), math.log(600)))),
        "cap": float(rng.uniform(0.8, 1.15)),
        "width": float(rng.uniform(0.85, 1.15)),
        "weight": float(rng.uniform(0.2, 0.8)) if rng.random() < 0.7 else 0.5,
        "blur": float(rng.uniform(0, 1.5)) if rng.random() < 0.6 else (float(rng.uniform(1.5, 5.0)) if rng.random() < 0.3 else 0.0),
        "noise": float(rng.uniform(0, 14)) if rng.random() < 0.6 else 0.0,
        "jpeg": int(rng.integers(20, 96)) if rng.random() < 0.5 else 0,
        "paper": float(rng.uniform(0, 25)) if rng.random() < 0.7 else 0.0,
        "security": bool(rng.random() < 0.5),
        "edge": bool(rng.random() < 0.15),
        "ink": float(rng.uniform(0, 100)),
        "background": float(rng.uniform(175, 250)),
        "neighbours": bool(rng.random() < 0.7),
    }
    clean = {"weight": 0.5, "blur": 0.0, "noise": 0.0, "jpeg": 0, "paper": 0.0, "security": False,
             "edge": False, "ink": 25.0, "background": 246.0, "cap": 1.0, "width": 1.0, "dpi": 300.0}
    presets = {
        "mixed": {},
        "clean": dict(clean),
        "cap-0.8": dict(clean, cap=0.8),
        "cap-1.15": dict(clean, cap=1.15),
        "width-0.85": dict(clean, width=0.85),
        "width-1.15": dict(clean, width=1.15),
        "cap-0.85-width-1.1": dict(clean, cap=0.85, width=1.1),
        "spread": dict(clean, weight=0.22),
        "starved": dict(clean, weight=0.78),
        "blur-2.5": dict(clean, blur=2.5),
        "blur-4.5": dict(clean, blur=4.5),
        "noise-jpeg": dict(clean, noise=12.0, jpeg=25),
        "paper": dict(clean, paper=25.0),
        "security": dict(clean, security=True),
        "edge": dict(clean, edge=True),
        "dpi-200": dict(clean, dpi=200.0),
        "dpi-600": dict(clean, dpi=600.0),
    }
    for cut in CUTS:
        presets["cut-" + cut] = dict(clean, cut=cut)
    for r in RASTERS:
        presets["raster-" + r] = dict(clean, raster=r)
    p.update(presets[preset])
    p["preset"] = preset
    return p


def make_line(rng, p):
    n = int(rng.choice([30, 36, 44]))
    pitch = p["dpi"] / 10.0  # 2.54 mm
    fs = pitch * UNITS / ADVANCE * p["cap"]
    xscale = p["width"] / p["cap"]
    spacing = pitch * rng.uniform(1.55, 1.8)
    margin = int(2 * pitch)
    width = int((n + 4) * pitch)
    height = int(pitch * 5)
    cap_px = 713.0 / UNITS * fs
    base = height / 2 + cap_px / 2 + rng.uniform(-0.5, 0.5)
    text = line_text(rng, n)
    texts, bases = [text], []
    jit = lambda: [(rng.uniform(-0.04, 0.04) * pitch, rng.uniform(-0.03, 0.03) * pitch) for _ in range(n)]
    bases.append((base, jit()))
    if p["neighbours"]:
        for sgn in (-1, 1):
            texts.append(line_text(rng, n))
            bases.append((base + sgn * spacing, jit()))
    x0 = margin + (1 - p["width"]) * pitch / 2 + rng.uniform(0, 1)
    cov = render_coverage(p["cut"], p["raster"], texts, fs, xscale, pitch, x0, bases, width, height)
    if p["cut"] == "OCRBL":
        pass
    # Stroke weight: spread (level < 0.5) or starve (> 0.5) the blurred coverage.
    if p["blur"] > 3.0:
        p["weight"] = min(max(p["weight"], 0.35), 0.65)
    if abs(p["weight"] - 0.5) > 1e-6:
        b = gaussian(cov, 0.035 * pitch)
        t = p["weight"]
        cov = np.clip((b - t) / 0.3 + 0.5, 0, 1)
    h, w = cov.shape
    bg = np.full((h, w), p["background"], np.float32)
    if p["paper"] > 0:
        bg += p["paper"] * smooth_noise(rng, h, w, max(2, int(pitch / 3))) * 0.5
        bg += p["paper"] * 0.3 * rng.standard_normal((h, w)).astype(np.float32) * 0.3
    if p["security"]:
        bg -= security_print(rng, h, w, pitch) * (p["background"] - p["ink"])
    if p["edge"]:
        # A card edge or shadow running along the line, a little above or below it.
        y_edge = base + (rng.uniform(0.15, 0.6) * pitch if rng.random() < 0.5 else -cap_px - rng.uniform(0.15, 0.6) * pitch)
        ys = np.arange(h, dtype=np.float32)[:, None] + np.arange(w, dtype=np.float32)[None, :] * rng.uniform(-0.02, 0.02)
        dark = np.clip((ys - y_edge) / max(1.0, rng.uniform(0.5, 3)), 0, 1)
        if y_edge < base - cap_px / 2:
            dark = 1 - dark
        bg -= dark * rng.uniform(40, 160)
    img = bg * (1 - cov) + p["ink"] * cov
    if p["blur"] > 0:
        img = gaussian(img, p["blur"] * pitch / 30.0)
    if p["noise"] > 0:
        img = img + p["noise"] * rng.standard_normal(img.shape).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if p["jpeg"]:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=p["jpeg"])
        img = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L"))
    # The locate stage's grid, with its errors: origin, pitch, direction.
    est_pitch = pitch * (1 + rng.normal(0, 0.003))
    angle = rng.normal(0, 0.003)
    ox = margin + 0.5 * pitch + rng.uniform(-0.12, 0.12) * pitch
    oy = base - cap_px / 2 + rng.uniform(-0.08, 0.08) * pitch
    s = STRIP_PITCH / est_pitch
    out = strip(img, (ox, oy), (math.cos(angle), math.sin(angle)), est_pitch, n)
    centres = [STRIP_PITCH + (margin + (j + 0.5) * pitch - ox) * s for j in range(n)]
    return text, out, centres


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--lines", type=int, required=True)
    ap.add_argument("--preset", default="mixed")
    ap.add_argument("--out", required=True)
    ap.add_argument("--append", action="store_true")
    ap.add_argument("--png", help="also write the first strips to this PNG")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    tags = []
    pngs = []
    with open(a.out, "ab" if a.append else "wb") as f:
        for _ in range(a.lines):
            p = sample_params(rng, a.preset)
            text, s, centres = make_line(rng, p)
            f.write(struct.pack("<II", s.shape[1], len(text)))
            f.write(s.tobytes())
            for c, u in zip(text, centres):
                f.write(struct.pack("<Bf", ALPHABET.index(c), u))
            tags.append({k: p[k] for k in ("preset", "cut", "raster", "cap", "width", "blur", "weight", "dpi", "security")})
            if a.png and len(pngs) < 24:
                pngs.append(s)
    with open(a.out + ".json", "a" if a.append else "w") as f:
        for t in tags:
            f.write(json.dumps(t) + "\n")
    if a.png:
        w = max(s.shape[1] for s in pngs)
        sheet = np.full((60 * len(pngs), w), 128, np.uint8)
        for i, s in enumerate(pngs):
            sheet[60 * i : 60 * i + 60, : s.shape[1]] = s
        Image.fromarray(sheet).save(a.png)


if __name__ == "__main__":
    main()
