"""Stylize one prepared frame with the booth's Generator and save the result (arm64 proof).

Runs unchanged on the x86-64 host (the reference) and inside the emulated arm64
Debian (scripts/arm64_proof.sh), so the two outputs differ only by the CPU.

    python scripts/arm64_stylize.py prepare INPUT.npy SIZE PHOTO [PHOTO...]
    python scripts/arm64_stylize.py stylize INPUT.npy IR.xml OUTPUT.npy [PRECISION]
        (also writes OUTPUT.runtime.json: the compiled runtime graph, for `booth eval arm`)
    python scripts/arm64_stylize.py styles INPUT.npy OUT_DIR [int8|fp32]
        (every built style through its StyleGenerator, as the booth runs it: OUT_DIR/NAME_VARIANT.npy
        and NAME_VARIANT.runtime.json; `booth eval arm --ir weights/styles/NAME_int8.xml --runtime ...`)
    python scripts/arm64_stylize.py psnr A.npy B.npy   (mean over the photos; min on stderr)

INPUT.npy holds one frame per photo (N×H×W×3), so one compiled model serves them all:
under emulation the compile costs as much as several inferences.
"""

from __future__ import annotations

import json
import os
import platform
import struct
import sys
import time
from pathlib import Path

import numpy as np

# AT_HWCAP bits of the arm64 Linux ABI (arch/arm64/include/uapi/asm/hwcap.h) that
# matter to OpenVINO's ARM kernels: half-precision arithmetic, dot product, SVE.
_HWCAP_BITS = {"fphp": 9, "asimdhp": 10, "asimddp": 20, "sve": 22}
_AT_HWCAP = 16


def cpu_features() -> str:
    """The arm64 features the (emulated) CPU announces to programs, from /proc/self/auxv."""
    if platform.machine() != "aarch64":
        return platform.machine()
    data = Path("/proc/self/auxv").read_bytes()
    for key, value in struct.iter_unpack("<QQ", data):
        if key == _AT_HWCAP:
            have = [name for name, bit in _HWCAP_BITS.items() if value >> bit & 1]
            missing = [name for name in _HWCAP_BITS if name not in have]
            return f"aarch64 has {','.join(have) or '-'}; lacks {','.join(missing) or '-'}"
    return "aarch64 (no AT_HWCAP)"


def prepare(out: str, size: int, photos: list[str]) -> None:
    """Load the photos and fit each to the generator's working shape (host only)."""
    import cv2

    from booth.config import defaults
    from booth.vision.generator import working_shape
    from booth.vision.images import load_image

    h, w = working_shape(size, defaults().face.aspect)
    frames = [cv2.resize(load_image(photo), (w, h), interpolation=cv2.INTER_AREA) for photo in photos]
    np.save(out, np.ascontiguousarray(np.stack(frames)))
    print(f"prepared {len(frames)} photo(s) -> {out} {h}x{w}")


def write_runtime(gen, out: Path, precision: str, shape: tuple[int, ...]) -> None:
    """What the CPU plugin decided for each layer on this CPU, for `booth eval arm --runtime`."""
    from booth.measure.int8_report import runtime_layers

    cpu = os.environ.get("QEMU_CPU") or platform.machine()
    out.with_suffix(".runtime.json").write_text(json.dumps(
        {"cpu": cpu, "precision": precision, "shape": list(shape[:2]),
         "layers": runtime_layers(gen.runtime_model)}, indent=1))


def styles(inp: str, out_dir: str, variant: str = "int8") -> None:
    """Every built style on the first frame, through the booth's StyleGenerator."""
    from booth.vision import styles as booth_styles
    from booth.vision.generator import Generator

    rgb = np.load(inp)[0]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, style in booth_styles.catalogue().items():
        if style.classic or booth_styles.read_card(name) is None:
            continue
        started = time.perf_counter()
        gen = Generator(booth_styles.ir_path(name, variant), precision="int8" if variant == "int8" else "f32")
        anime = booth_styles.StyleGenerator(style, gen).stylize(rgb)
        np.save(out / f"{name}_{variant}.npy", anime[None])
        write_runtime(gen, out / f"{name}_{variant}.npy", variant, rgb.shape)
        print(f"{name} {variant} {rgb.shape[0]}x{rgb.shape[1]} inference precision {gen.inference_precision} "
              f"took {time.perf_counter() - started:.1f} s", flush=True)


def stylize(inp: str, ir: str, out: str, precision: str = "int8") -> None:
    import openvino as ov

    from booth.vision.generator import Generator

    frames = np.load(inp)
    started = time.perf_counter()
    gen = Generator(Path(ir), precision=precision)
    anime = np.stack([gen.stylize(rgb) for rgb in frames])
    took = time.perf_counter() - started
    np.save(out, anime)
    rgb = frames[0]
    write_runtime(gen, Path(out), precision, rgb.shape)
    # The summary `booth doctor` prints.
    from booth.cli.doctor import runtime_precisions

    hint = gen.inference_precision
    layers = ", ".join(f"{n} in {p}" for p, n in sorted(runtime_precisions(gen).items()))
    print(f"stylized {len(frames)}x {rgb.shape[0]}x{rgb.shape[1]} precision={precision} "
          f"openvino={ov.get_version().split('-')[0]} numpy={np.__version__} "
          f"(from {Path(np.__file__).parent.parent}) cpu=[{cpu_features()}] "
          f"inference precision {hint}; convolutions {layers}; "
          f"took {took:.1f} s" + (" (meaningless under emulation)" if platform.machine() == "aarch64" else ""))


def psnr(a_path: str, b_path: str) -> float:
    """Mean PSNR over the frames (printed; the lowest goes to stderr)."""
    a = np.load(a_path).astype(np.float64)
    b = np.load(b_path).astype(np.float64)
    if a.shape != b.shape:
        raise SystemExit(f"shape mismatch: {a.shape} vs {b.shape}")
    values = []
    for x, y in zip(a.reshape(-1, *a.shape[-3:]), b.reshape(-1, *b.shape[-3:])):
        mse = float(np.mean((x - y) ** 2))
        values.append(float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse))
    value = float(np.mean(values))
    print(f"{value:.2f}")
    print(f"lowest {min(values):.2f} dB of {len(values)}", file=sys.stderr)
    return value


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    if command == "prepare":
        prepare(rest[0], int(rest[1]), rest[2:])
    elif command == "stylize":
        stylize(*rest)
    elif command == "styles":
        styles(*rest)
    elif command == "psnr":
        psnr(*rest)
    else:
        raise SystemExit(__doc__)
