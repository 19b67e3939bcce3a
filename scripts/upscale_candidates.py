"""The upsampling candidates booth/vision/upsample.py was chosen from, measured side by side.

    .venv/bin/python scripts/upscale_candidates.py [PHOTOS]    # default: the public set, weights/photos

Runs the generator once per photo of PHOTOS/faces and PHOTOS/groups, then makes the
full-resolution result (the booth's size rule) with each candidate and measures it
with ``booth eval upscale``'s own measures: PSNR shrunk back to the generator's size,
mean gradient against bicubic, overshoot at strong edges, time. Prints a Markdown table.
Not part of the booth: the losing candidates live only here.
"""

import statistics
import sys
import time

import cv2
import numpy as np

from booth import config
from booth.vision import framing, geometry, upsample
from booth.vision.images import load_image
from booth.vision.pipeline import Pipeline
from booth.measure.photos import photo_set, photos_in
from booth.measure.upscale import edge_overshoot, gradient_ratio, psnr, ramp_radius

PHOTOS = photo_set(sys.argv[1] if len(sys.argv) > 1 else None)
# The pipeline stops at the generator's output; each candidate makes the rest.
S = config.defaults().replace("storage", result_long_side=0)
pipe = Pipeline.from_settings(S)

# Every candidate takes (p, gl, g): p the generator's output, gl the crop it ran on (same
# size), g the guide (the same region rendered from the photo at the result's size).

def grey(x): return cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float32)
def box(x, r): return cv2.blur(x, (2*r+1, 2*r+1), borderType=cv2.BORDER_REFLECT)
def up(x, wh, i=cv2.INTER_LINEAR): return cv2.resize(x, wh, interpolation=i)

def bicubic(p, gl, g): return up(p, (g.shape[1], g.shape[0]), cv2.INTER_CUBIC)

def fast_guided_filter(p, gl, g, r=1, eps=(0.01*255)**2):
    I, Il = grey(g), grey(gl); wh = (g.shape[1], g.shape[0]); out = []
    for c in range(3):
        P = p[..., c].astype(np.float32); mI, mp = box(Il, r), box(P, r)
        a = (box(Il*P, r) - mI*mp)/(box(Il*Il, r) - mI*mI + eps); b = mp - a*mI
        out.append(up(box(a, r), wh)*I + up(box(b, r), wh))
    return np.clip(np.dstack(out), 0, 255).round().astype(np.uint8)

def detail_transfer(p, gl, g):
    wh = (g.shape[1], g.shape[0]); d = grey(g) - up(grey(gl), wh)
    return np.clip(up(p, wh, cv2.INTER_CUBIC).astype(np.float32) + d[..., None], 0, 255).round().astype(np.uint8)

def guided_detail(p, gl, g):
    wh = (g.shape[1], g.shape[0]); d = grey(g) - up(grey(gl), wh)
    a = upsample.guide_slopes(grey(gl), p)
    out = up(p, wh, cv2.INTER_CUBIC).astype(np.float32) + up(a, wh)*d[..., None]
    return np.clip(out, 0, 255).round().astype(np.uint8)

def joint_bilateral(p, gl, g, sigma=12.0):
    H, W = g.shape[:2]; h, w = gl.shape[:2]; I = grey(g); Il = grey(gl)
    ys = (np.arange(H)+0.5)*h/H-0.5; xs = (np.arange(W)+0.5)*w/W-0.5
    y0 = np.floor(ys).astype(int); x0 = np.floor(xs).astype(int)
    acc = np.zeros((H, W, 3), np.float32); wsum = np.zeros((H, W), np.float32); pf = p.astype(np.float32)
    for dy in (-1, 0, 1, 2):
        for dx in (-1, 0, 1, 2):
            yy = np.clip(y0+dy, 0, h-1); xx = np.clip(x0+dx, 0, w-1)
            sw = np.exp(-((ys-yy)**2)/2)[:, None]*np.exp(-((xs-xx)**2)/2)[None, :]
            wgt = (sw*np.exp(-((I-Il[yy][:, xx])**2)/(2*sigma*sigma))).astype(np.float32)
            acc += wgt[..., None]*pf[yy][:, xx]; wsum += wgt
    return np.clip(acc/np.maximum(wsum, 1e-6)[..., None], 0, 255).round().astype(np.uint8)

def chosen(p, gl, g): return upsample.upsample(p, gl, g)

CANDIDATES = {"bicubic": bicubic, "fast guided filter": fast_guided_filter, "joint bilateral": joint_bilateral,
              "detail transfer": detail_transfer, "guided detail": guided_detail, "guided detail + snap (chosen)": chosen}
files = photos_in(PHOTOS / 'faces') + photos_in(PHOTOS / 'groups')
rows = {k: [] for k in CANDIDATES}; gen_ms = []
for f in files:
    rgb = load_image(f); res = pipe.process(rgb)
    shot = res.crop_framing
    shape = upsample.result_shape(shot.shape, shot.scale, 1350)
    if shape == shot.shape: continue
    g = geometry.warp(rgb, framing.resized(shot, shape)); p, gl = res.generated, res.crop
    t = time.perf_counter(); pipe.generator.stylize(cv2.resize(gl, (408, 512))); gen_ms.append((time.perf_counter()-t)*1e3)
    bic = bicubic(p, gl, g); radius = ramp_radius(max(shape)/max(shot.shape))
    for name, fn in CANDIDATES.items():
        t = time.perf_counter(); out = fn(p, gl, g); ms = (time.perf_counter()-t)*1e3
        shrunk = cv2.resize(out, (p.shape[1], p.shape[0]), interpolation=cv2.INTER_AREA)
        o = edge_overshoot(out, bic, radius)
        rows[name].append(dict(psnr=psnr(shrunk, p), grad=gradient_ratio(out, bic), over=o[0], p99=o[1], ms=ms))
print(f"{len(rows['bicubic'])} photos upscaled; generator at 512 median {statistics.median(gen_ms):.0f} ms (same process)")
print(f"| candidate | PSNR min / mean (dB) | gradient vs bicubic mean (min) | overshoot mean / worst p99 | ms median |")
print("|---|---|---|---|---|")
for name, rs in rows.items():
    m = lambda k: statistics.fmean(r[k] for r in rs)
    print(f"| {name} | {min(r['psnr'] for r in rs):.1f} / {m('psnr'):.1f} | {m('grad'):.2f}× ({min(r['grad'] for r in rs):.2f}) | "
          f"{m('over'):.2f} / {max(r['p99'] for r in rs):.0f} | {statistics.median(r['ms'] for r in rs):.0f} |")
