"""``booth bench``: the generator side by side with what people use instead.

One run, one machine, the same input for everybody; median of ``--repeats`` runs after
a warm-up, the OpenVINO rows timed in turns so a busy moment hits them alike. Rows:

=======================  ==========================================================
openvino-int8            our INT8 IR (``booth weights build``), as the booth runs it
openvino-fp32            the float IR, CPU plugin forced to f32
openvino-tflite-asis     the published INT8 TFLite graph in OpenVINO, as it is
                         (only its upsampling rewritten so it runs at 384/512)
onnxruntime-fp32         the same float network exported to ONNX, ONNX Runtime
pytorch-eager            the same float network re-implemented in PyTorch
litert-int8              the shipped .tflite in LiteRT (XNNPACK), at its only size 256
=======================  ==========================================================

Plus images/s with two requests in flight (AsyncInferQueue), start-up time (cold and
with the compile cache), the INT8-vs-FP32 fidelity over faces/ and groups/, the peak
RSS of ``booth stylize`` on a 12-megapixel photo, and ``--precisions`` to compare the
generator precision settings (int8, f16, f32) on whatever machine this is — on a
Raspberry Pi that is how an organiser chooses. The ONNX Runtime, PyTorch and LiteRT
rows need the bench extras (``./install.sh --bench``); without them they say so.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import openvino as ov

from booth import config
from booth.daemon.booth import Booth
from booth.daemon.making import load_pipeline
from booth.devices.camera import CameraSupervisor, backend_factory
from booth.files import write_json
from booth.measure import moments, quality
from booth.measure.photos import photo_crops, photo_set, photos_in
from booth.measure.styles import run_styles
from booth.measure.targets import check_targets, exit_status, targets_line
from booth.measure.timing import median_ms, random_input, times_ms
from booth.model import weights
from booth.model.build import AUTO_MIN_PSNR_DB
from booth.model.quantize import to_network_input, to_pixels
from booth.vision import mirror
from booth.vision.generator import Generator, cpu_config, working_shape
from booth.vision.images import load_image

NETWORK_SIZES = (384, 512)


@dataclass(frozen=True)
class BenchOptions:
    """What ``booth bench`` measures (:mod:`booth.cli.bench` says what each option does)."""

    json: Path | None = None
    repeats: int = 5
    threads: int = 0
    photos: str | None = None
    precisions: tuple[str, ...] = ("int8", "f16", "f32")
    mirror: bool = False
    modes: bool = False
    cycles: int = 0
    styles: bool = False
    check: bool = False
    quick: bool = False


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, {platform.machine()}, int8 ISA {int8_isa()}, "
            f"Linux {platform.release()}, OpenVINO {ov.__version__}")


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("flags", "features")):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def int8_isa(flags: set[str] | None = None) -> str:
    """The instruction set the CPU's int8 kernels run on: "AMX", "AVX-512 VNNI",
    "AVX-VNNI", "AVX-512" or "AVX2" (no VNNI: int8 dot products go through 16-bit
    sums that can saturate), "NEON dot-product" or "NEON". An ``ONEDNN_MAX_CPU_ISA``
    cap (OpenVINO's x86 kernels honour it) is named too."""
    flags = cpu_flags() if flags is None else flags
    if "asimd" in flags or platform.machine().lower() in ("aarch64", "arm64"):
        return "NEON dot-product" if "asimddp" in flags else "NEON"
    for flag, name in (("amx_int8", "AMX"), ("avx512_vnni", "AVX-512 VNNI"),
                       ("avx_vnni", "AVX-VNNI"), ("avx512bw", "AVX-512"), ("avx2", "AVX2")):
        if flag in flags:
            break
    else:
        name = "SSE4"
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "")
    cap = "" if cap.upper() == "ALL" else cap
    return f"{name} (capped by ONEDNN_MAX_CPU_ISA={cap})" if cap else name


def int8_sums_can_saturate(isa: str | None = None) -> bool:
    """True where x86 int8 kernels lack VNNI/AMX (AVX2, AVX-512 without VNNI, or capped
    to those): u8×s8 products are summed in pairs into 16 bits, which saturates for
    weights that use the full int8 range."""
    isa = isa or int8_isa()
    if "ONEDNN_MAX_CPU_ISA=" in isa:
        cap = isa.split("ONEDNN_MAX_CPU_ISA=", 1)[1].rstrip(")").upper()
        return "VNNI" not in cap and "AMX" not in cap
    return isa.split(" (")[0] in ("AVX2", "AVX-512", "SSE4")


def _ov_compiled(path: Path, threads: int, hint: str | None = None) -> ov.CompiledModel:
    core = ov.Core()
    return core.compile_model(core.read_model(str(path)), "CPU", cpu_config(hint, threads))


def _shape(size: int) -> tuple[int, int]:
    """Benchmarks run square inputs (size × size), so a figure does not depend on the
    configured [face] aspect."""
    return size, size


def _interleaved_ms(runs: dict[str, Callable[[], object]], repeats: int, warmup: int = 2) -> dict[str, float]:
    """Median ms of each run, timed in turns (A, B, C, A, B, C, …) so that a change in the
    machine's load during the benchmark hits every row alike."""
    for run in runs.values():
        for _ in range(warmup):
            run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: round(float(np.median(t)), 1) for name, t in times.items()}


def bench_openvino(threads: int, repeats: int) -> dict[str, dict[str, float]]:
    rows = {"openvino-int8": (weights.ir_path("int8"), None),
            "openvino-fp32": (weights.ir_path("fp32"), "f32"),
            "openvino-tflite-asis": (weights.ir_path("asis"), None)}
    requests = {name: _ov_compiled(path, threads, hint).create_infer_request()
                for name, (path, hint) in rows.items()}
    out: dict[str, dict[str, float]] = {name: {} for name in rows}
    for size in NETWORK_SIZES:
        x = random_input(_shape(size))
        timed = _interleaved_ms({name: functools.partial(r.infer, {0: x}) for name, r in requests.items()},
                                repeats)
        for name, ms in timed.items():
            out[name][str(size)] = ms
    x = random_input((256, 256))
    out["openvino-int8"]["256"] = median_ms(lambda: requests["openvino-int8"].infer({0: x}), repeats)
    return out


def bench_references(threads: int, repeats: int) -> dict[str, dict[str, float] | str]:
    """ONNX Runtime, PyTorch eager and LiteRT rows (bench extras)."""
    out: dict[str, dict[str, float] | str] = {}
    try:
        from booth.measure import reference
    except ImportError as exc:
        missing = f"unavailable ({exc}); install with ./install.sh --bench"
        return {"onnxruntime-fp32": missing, "pytorch-eager": missing, "litert-int8": missing}
    fp32 = weights.ir_path("fp32")
    threads = threads or os.cpu_count() or 1
    try:
        onnx_path = weights.WEIGHTS_DIR / "generator_fp32.onnx"
        if not onnx_path.is_file() or onnx_path.stat().st_mtime < fp32.stat().st_mtime:
            reference.export_onnx(fp32, onnx_path)
        run = reference.onnxruntime_runner(onnx_path, threads)
        out["onnxruntime-fp32"] = {str(s): median_ms(functools.partial(run, random_input(_shape(s))), repeats)
                                   for s in NETWORK_SIZES}
    except ImportError as exc:
        out["onnxruntime-fp32"] = f"unavailable ({exc}); install with ./install.sh --bench"
    try:
        run = reference.torch_runner(reference.torch_generator(fp32), threads)
        out["pytorch-eager"] = {str(s): median_ms(functools.partial(run, random_input(_shape(s))), repeats)
                                for s in NETWORK_SIZES}
    except ImportError as exc:
        out["pytorch-eager"] = f"unavailable ({exc}); install with ./install.sh --bench"
    try:
        run = reference.litert_runner(weights.model_path("generator"), threads)
        x = random_input((256, 256))
        out["litert-int8"] = {"256": median_ms(lambda: run(x), repeats)}
    except ImportError as exc:
        out["litert-int8"] = f"unavailable ({exc}); install with ./install.sh --bench"
    return out


def bench_throughput(threads: int, seconds: float = 6.0) -> dict[str, float]:
    """Images/s at 512 with one request, and with two in flight (AsyncInferQueue)."""
    compiled = _ov_compiled(weights.ir_path("int8"), threads)
    x = random_input(_shape(512))
    out = {}
    for jobs in (1, 2):
        queue = ov.AsyncInferQueue(compiled, jobs)
        for _ in range(jobs):  # warm-up
            queue.start_async({0: x})
        queue.wait_all()
        done = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            queue.start_async({0: x})
            done += 1
        queue.wait_all()
        out[f"{jobs}_in_flight"] = round(done / (time.perf_counter() - started), 2)
    return out


def bench_fidelity(photos: Path, threads: int) -> dict[str, float]:
    """INT8 (as the booth runs it) vs FP32 (f32) over faces/ and groups/ at 512."""
    int8 = _ov_compiled(weights.ir_path("int8"), threads)
    fp32 = _ov_compiled(weights.ir_path("fp32"), threads, "f32")
    references, outputs = [], []
    for crop in photo_crops(photos):
        x = to_network_input(crop)
        references.append(to_pixels(fp32(x)[0]))
        outputs.append(to_pixels(int8(x)[0]))
    return {**quality.fidelity(outputs, references), "images": len(outputs)}


#: Prepended to a child's code: at exit it reports its own peak RSS on stderr. Not the
#: parent's RUSAGE_CHILDREN (the largest of *all* children so far, the reference
#: runtimes' included) and not the child's ru_maxrss either: Linux carries the forked
#: copy of the parent's high-water mark across exec into it. VmHWM belongs to the
#: child's own address space.
_REPORT_PEAK_RSS = (
    "import atexit, resource, sys\n"
    "def _peak_rss_kb():\n"
    "    try:\n"
    "        for line in open('/proc/self/status'):\n"
    "            if line.startswith('VmHWM:'):\n"
    "                return int(line.split()[1])\n"
    "    except OSError:\n"
    "        pass\n"
    "    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "atexit.register(lambda: sys.stderr.write('\\npeak_rss_kb=%d\\n' % _peak_rss_kb()))\n"
)


def run_child(code: str, *args: str, env: dict | None = None) -> tuple[str, int]:
    """Run Python code in a fresh process; returns (stdout, the child's own peak RSS in MB)."""
    done = subprocess.run([sys.executable, "-c", _REPORT_PEAK_RSS + code, *args],
                          capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if not line.startswith("peak_rss_kb=")]
        raise RuntimeError(lines[-1] if lines else "child failed")
    peaks = [int(line.split("=", 1)[1]) for line in done.stderr.splitlines()
             if line.startswith("peak_rss_kb=")]
    return done.stdout.strip(), peaks[-1] // 1024


_STARTUP_CODE = """
import sys, time
from pathlib import Path
started = time.perf_counter()
from booth import config
from booth.vision.generator import Generator, resolve_precision
settings = config.defaults()
gen = Generator(precision=resolve_precision(settings.generator.precision)[0], cache_dir=Path(sys.argv[1]))
from booth.vision.generator import working_shape
gen.warm_up(working_shape(s, settings.face.aspect) for s in settings.generator.sizes)
print(round(time.perf_counter() - started, 2))
"""


def bench_startup() -> dict[str, float]:
    """Load + compile + warm-up of every working size: cold (empty cache), then cached."""
    with tempfile.TemporaryDirectory() as cache:
        cold, _ = run_child(_STARTUP_CODE, cache)
        cached, _ = run_child(_STARTUP_CODE, cache)
    return {"cold_s": float(cold), "cached_s": float(cached)}


def bench_peak_rss(photos: Path) -> dict[str, float | str]:
    """Peak RSS of `booth stylize` (face pipeline) on one 12-megapixel photo."""
    with tempfile.TemporaryDirectory() as tmp:
        source = photos_in(photos / "groups")[0]
        big = cv2.resize(load_image(source), (4000, 3000), interpolation=cv2.INTER_CUBIC)
        photo = Path(tmp) / "twelve_megapixels.jpg"
        cv2.imwrite(str(photo), cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
        code = "import sys; from booth.cli import main; sys.exit(main(sys.argv[1:]))"
        _, peak = run_child(code, "stylize", str(photo), "--out", tmp)
    return {"peak_rss_mb": float(peak), "photo": "4000×3000 JPEG"}


def bench_precisions(precisions: list[str], threads: int, repeats: int) -> dict[str, dict[str, float | str]]:
    """The generator as the booth runs it, per precision setting, at each working size."""
    settings = config.defaults()
    out: dict[str, dict[str, float | str]] = {}
    for precision in precisions:
        gen = Generator(precision=precision, threads=threads)
        out[precision] = {"runs_in": gen.inference_precision}
        for size in settings.generator.sizes:
            h, w = working_shape(size, settings.face.aspect)
            rgb = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
            out[precision][f"{h}x{w}"] = median_ms(lambda: gen.stylize(rgb), repeats)
    return out


def _print_table(result: dict) -> None:
    gen = result["generator"]
    print(f"\nGenerator latency, ms (median of {result['repeats']}; {result['machine']})")
    print(f"{'runtime':24s} {'256':>8s} {'384':>8s} {'512':>8s}")
    for name, row in gen.items():
        if isinstance(row, str):
            print(f"{name:24s} {row}")
            continue
        cells = [f"{row[s]:8.0f}" if s in row else f"{'':8s}" for s in ("256", "384", "512")]
        print(f"{name:24s} {' '.join(cells)}")
    ratios = result.get("ratios_512", {})
    if ratios:
        print("\nINT8 at 512 relative to: " + ", ".join(f"{k} {v:.2f}×" for k, v in ratios.items()))
    for key in ("throughput_ips", "startup", "fidelity", "peak_rss", "precisions"):
        if key in result:
            print(f"{key}: {json.dumps(result[key])}")


MIRROR_SIZES = (256, 320, 480)


def bench_mirror(frames: int = 30, photos: Path | None = None) -> dict:
    """The anime mirror's network ([preview] style) as the kiosk runs it: one frame at a
    time at each long side (4:3 frames), for 1 and 2 threads. ``cpu_share`` is the CPU
    time the process used per wall second (1.0 = one whole core); ``cpu_ms`` the CPU time
    per frame, which a busy machine does not inflate as much as the wall time."""
    settings = config.defaults()
    result: dict = {"style": settings.preview.style, "frames": frames, "rows": {}}
    for threads in (1, 2):
        network = mirror.mirror_network(settings, threads=threads)
        result["precision"] = network.precision
        for size in MIRROR_SIZES:
            h, w = mirror.frame_shape(size, 4 / 3)
            x = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
            for _ in range(3):
                network.stylize(x)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            times = times_ms(lambda: network.stylize(x), frames, warmup=0)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            ms = float(np.median(times))
            result["rows"][f"{w}x{h} threads={threads}"] = {
                "long_side": size, "threads": threads, "ms": round(ms, 1),
                "fps": round(1000 / ms, 1), "cpu_ms": round(cpu * 1e3 / frames, 1),
                "cpu_share": round(cpu / wall, 2)}
    photos = photos or photo_set()
    faces = photos_in(photos / "faces")
    if faces:
        network = mirror.mirror_network(settings, threads=1)
        sequence = mirror.static_sequence(load_image(faces[0]))
        result["flicker"] = {"photo": faces[0].name, "noise_grey_levels": 2.0,
                             "size": settings.preview.size,
                             "smoothing_off": mirror.flicker(network, sequence, settings.preview.size, 0.0),
                             f"smoothing_{settings.preview.smoothing:g}": mirror.flicker(
                                 network, sequence, settings.preview.size, settings.preview.smoothing)}
    return result


def bench_mirror_cycles(cycles: int, photos: Path) -> dict:
    """Press-to-result with the mirror on and off: the real booth (folder camera, real
    pipeline, store), ``cycles`` photos each way, the same photos both ways, on/off
    alternating (and which goes first too), so a busy moment hits both alike. Before
    each press the booth idles 2 s (the mirror runs), then a 1-second countdown."""
    faces = photos_in(photos / "faces")[:cycles]
    if not faces:
        raise FileNotFoundError(f"no photos in {photos / 'faces'}")
    with tempfile.TemporaryDirectory(prefix="booth-mirror-") as tmp:
        folder = Path(tmp) / "camera"
        folder.mkdir()
        for i in range(cycles):  # each photo twice in a row: one capture per mode
            for copy in "ab":
                shutil.copy(faces[i % len(faces)], folder / f"{i:03d}{copy}.jpg")
        settings = config.defaults().replace("booth", data_dir=str(Path(tmp) / "data"))
        settings = settings.replace("camera", backend="folder", folder=str(folder))
        settings = settings.replace("storage", min_free_mb=0)
        settings = settings.replace("cycle", countdown_s=1, show_result_s=0.3)
        camera = CameraSupervisor(backend_factory(settings.camera, settings.base_dir), settings.camera).start()
        pipeline, message = load_pipeline(settings)
        if pipeline is None:
            raise RuntimeError(message)
        booth = Booth(settings, camera=camera, pipeline=pipeline).start()
        mirror = booth.start_mirror()
        times: dict[str, list[float]] = {"on": [], "off": []}
        mirror_fps: list[float] = []
        try:
            deadline = time.monotonic() + 180
            while not mirror.live and time.monotonic() < deadline:
                time.sleep(0.2)
            for i in range(cycles):
                for mode in (("on", "off") if i % 2 == 0 else ("off", "on")):
                    mirror.set_enabled(mode == "on")
                    while booth.state != "idle":
                        time.sleep(0.05)
                    time.sleep(2.0)
                    if mode == "on":
                        mirror_fps.append(mirror.fps)
                    with booth.events.subscribe() as sub:
                        booth.trigger("bench")
                        while True:
                            event = sub.get(timeout=60)
                            if event is None or (event.kind == "state"
                                                 and event.data["state"] in ("result", "failsafe")):
                                break
                    last = booth.last_cycle or {}
                    if last.get("ok"):
                        times[mode].append(float(last["press_to_result_ms"]))
        finally:
            booth.stop()
            camera.close()
            booth.store.close()
    on, off = statistics.median(times["on"]), statistics.median(times["off"])
    # The same photo both ways: the per-photo difference cancels what the photo costs.
    paired = [a - b for a, b in zip(times["on"], times["off"])]
    return {"cycles": cycles, "press_to_result_ms": times,
            "paired_median_diff_ms": round(statistics.median(paired), 1),
            "mean_on_vs_off": round(statistics.mean(times["on"]) / statistics.mean(times["off"]), 3),
            "median_on_ms": round(on, 1), "median_off_ms": round(off, 1),
            "mean_on_ms": round(statistics.mean(times["on"]), 1),
            "mean_off_ms": round(statistics.mean(times["off"]), 1),
            "on_vs_off": round(on / off, 3), "mirror_fps_before_press": [round(f, 1) for f in mirror_fps]}


def print_mirror(result: dict) -> None:
    print(f"\nAnime mirror ({result['style']}, {result['precision']}), one frame at a time, "
          f"median of {result['frames']}; {_machine()}")
    print(f"{'frame':22s} {'ms':>7s} {'fps':>6s} {'cpu ms':>7s} {'cpu share':>10s}")
    for name, row in result["rows"].items():
        print(f"{name:22s} {row['ms']:7.1f} {row['fps']:6.1f} {row['cpu_ms']:7.1f} "
              f"{row['cpu_share']:10.2f}")
    if "cycles" in result:
        c = result["cycles"]
        print(f"press-to-result over {c['cycles']} cycles each: mirror on median {c['median_on_ms']:.0f} ms "
              f"(mean {c['mean_on_ms']:.0f}), off median {c['median_off_ms']:.0f} ms "
              f"(mean {c['mean_off_ms']:.0f}): on/off medians {c['on_vs_off']:.3f}, means "
              f"{c['mean_on_vs_off']:.3f}; same photo on minus off, median {c['paired_median_diff_ms']:+.0f} ms")
    if "flicker" in result:
        print("flicker on a still scene (mean frame-to-frame change, grey levels): "
              + json.dumps(result["flicker"]))


def run(options: BenchOptions) -> int:
    """`booth bench`: the figures ``options`` ask for, printed (and written as JSON)."""
    if options.styles:
        return run_styles(options.photos, options.threads, options.repeats, quick=options.quick,
                          json_path=options.json)
    result: dict
    if options.modes:
        result = moments.bench_modes(photo_set(options.photos), cycles=options.cycles or 3)
        moments.print_modes(result)
        if options.json:
            write_json(options.json, result)
        return 0
    if options.mirror:
        result = bench_mirror(photos=photo_set(options.photos) if options.photos else None)
        if options.cycles:
            print(f"press-to-result, {options.cycles} cycles with the mirror on and off…", flush=True)
            result["cycles"] = bench_mirror_cycles(options.cycles, photo_set(options.photos))
        print_mirror(result)
        if options.json:
            write_json(options.json, result)
        return 0

    photos = photo_set(options.photos)
    result = {"machine": _machine(), "repeats": options.repeats, "threads": options.threads or os.cpu_count()}
    print("timing OpenVINO rows…", flush=True)
    result["generator"] = bench_openvino(options.threads, options.repeats)
    if not options.quick:
        print("timing reference runtimes (ONNX Runtime, PyTorch, LiteRT)…", flush=True)
        result["generator"].update(bench_references(options.threads, options.repeats))
    int8 = result["generator"]["openvino-int8"]["512"]
    result["ratios_512"] = {name: round(int8 / row["512"], 3) for name, row in result["generator"].items()
                            if name != "openvino-int8" and isinstance(row, dict) and "512" in row}
    print("throughput…", flush=True)
    result["throughput_ips"] = bench_throughput(options.threads)
    if not options.quick and (photos / "faces").is_dir():
        print("fidelity INT8 vs FP32…", flush=True)
        result["fidelity"] = bench_fidelity(photos, options.threads)
    if not options.quick:
        print("start-up (cold, cached)…", flush=True)
        result["startup"] = bench_startup()
        if (photos / "groups").is_dir():
            print("peak RSS on a 12 MP photo…", flush=True)
            result["peak_rss"] = bench_peak_rss(photos)
            result["peak_rss_mb"] = result["peak_rss"]["peak_rss_mb"]
    print("precision settings…", flush=True)
    result["precisions"] = bench_precisions(list(options.precisions), options.threads, max(3, options.repeats // 2))
    _print_table(result)
    # INT8 as the booth runs it stays as faithful to FP32 as the build's precision choice asks.
    result["int8_psnr_db"] = result.get("fidelity", {}).get("psnr_db")
    result["targets"] = check_targets(result, {"int8_psnr_db": (">=", AUTO_MIN_PSNR_DB)})
    print(targets_line(result["targets"]))
    if options.json:
        write_json(options.json, result)
    return exit_status(result["targets"], options.check)
