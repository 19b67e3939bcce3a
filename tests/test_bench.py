"""`booth bench` runs end to end and writes its figures; the timing and peak-memory
helpers measure what they say.

This checks the command and its JSON, not the speed: speed is what the command reports.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time


def test_bench_quick_writes_the_json(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "booth", "bench", "--quick", "--repeats", "1",
                           "--precisions", "int8,f32", "--json", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    gen = result["generator"]
    for row in ("openvino-int8", "openvino-fp32", "openvino-tflite-asis"):
        # One timed run per row: which size came out faster says nothing on a busy machine.
        assert gen[row]["384"] > 0 and gen[row]["512"] > 0
    assert gen["openvino-int8"]["256"] > 0
    assert set(result["ratios_512"]) == {"openvino-fp32", "openvino-tflite-asis"}
    assert result["throughput_ips"]["1_in_flight"] > 0 and result["throughput_ips"]["2_in_flight"] > 0
    assert result["precisions"]["f32"]["runs_in"] == "f32"
    assert result["machine"]
    assert "Generator latency" in done.stdout and "openvino-int8" in done.stdout


def test_bench_rejects_unknown_precision():
    done = subprocess.run([sys.executable, "-m", "booth", "bench", "--precisions", "int4"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == "booth bench: --precisions: unknown precision 'int4' (use int8, f16, f32)"


def test_child_peak_rss_is_that_childs_own():
    """A big child, then a small one while this process itself holds 400 MB: the small
    one's figure must inherit neither (RUSAGE_CHILDREN would give the big child's, and
    a forked child's ru_maxrss the parent's)."""
    import numpy as np

    from booth.measure.bench import run_child

    out, big = run_child("import numpy as np; a = np.ones(400_000_000 // 8); print(int(a.sum()))")
    assert out == "50000000" and big >= 390
    held = np.ones(400_000_000 // 8)
    _, small = run_child("print('hello')")
    assert small < 150 and held.sum() > 0


def test_times_ms_times_each_repeat_after_the_warmup():
    from booth.measure.timing import median_ms, times_ms

    calls = []
    times = times_ms(lambda: calls.append(1), repeats=4, warmup=3)
    assert len(calls) == 7 and len(times) == 4
    assert all(isinstance(t, float) and t >= 0.0 for t in times)
    assert 20 <= median_ms(lambda: time.sleep(0.02), repeats=3, warmup=0) < 200
