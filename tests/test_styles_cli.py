"""The styles' commands end to end: `booth stylize --styles`, `booth bench --styles`,
`booth eval faces --style`, `booth styles list` — real models on real photos."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2

from conftest import NEW_STYLES


def _booth(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "booth", *args], capture_output=True, text=True,
                          timeout=timeout)


def small_config(tmp_path, **styles) -> str:
    """One working size (fewer warm-ups) and the given [styles] keys."""
    lines = ["[generator]", "sizes = [384]", "[styles]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in styles.items()]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_styles_list_says_what_each_style_runs(built_styles):
    done = _booth("styles", "list")
    assert done.returncode == 0, done.stderr
    for name in ["hayao", *NEW_STYLES]:
        line = next(line for line in done.stdout.splitlines() if line.startswith(name + " "))
        assert "built" in line, line


def test_stylize_writes_one_image_per_style_and_a_contact_sheet(tmp_path, face_photo, built_styles):
    config = small_config(tmp_path, enabled=["hayao", "cute", "whitebox"], max_loaded=1)
    done = _booth("stylize", "--styles", "all", str(face_photo), "--out", str(tmp_path / "out"),
                  "--config", config, "--json", str(tmp_path / "records.json"))
    assert done.returncode == 0, done.stderr
    for style in ("hayao", "cute", "whitebox"):
        assert (tmp_path / "out" / f"{face_photo.stem}_{style}.jpg").is_file()
    # One record per photo and style: faces, framing, size, ms.
    records = json.loads((tmp_path / "records.json").read_text())["results"]
    assert [r["style"] for r in records] == ["hayao", "cute", "whitebox"]
    for record in records:
        assert record["faces"] == 1 and record["framing"] == "portrait"
        assert record["width"] > 0 and record["height"] > 0 and record["ms"]["total"] > 0
    sheet = cv2.imread(str(tmp_path / "out" / "contact_sheet.jpg"))
    assert sheet.shape[1] == 4 * 320  # the photo and three styles in one row
    assert "contact sheet ->" in done.stdout
    bad = _booth("stylize", "--styles", "picasso", str(face_photo), "--out", str(tmp_path / "x"),
                 "--config", config)
    assert bad.returncode == 2 and "--styles: style 'picasso' is not available" in bad.stderr


def test_bench_styles_quick_writes_a_row_per_style(tmp_path, built_styles):
    out = tmp_path / "bench.json"
    done = _booth("bench", "--styles", "--quick", "--repeats", "1", "--json", str(out))
    assert done.returncode == 0, done.stderr
    rows = json.loads(out.read_text())["styles"]
    assert set(rows) == {"hayao", *NEW_STYLES}
    for name, row in rows.items():
        assert row["int8_384_ms"] > 0 and row["fp32_512_ms"] > 0
        assert row["images"] > 0 and row["psnr_db"] > 20, (name, row)
    # Press-to-result of the whole pipeline in each style, against the default style's.
    press = json.loads(out.read_text())["press"]
    assert set(press["styles"]) == {"hayao", *NEW_STYLES} and press["portraits"] > 0
    assert press["styles"]["hayao"]["portrait_ratio"] == 1.0
    assert all(row["portrait_ms"] > 0 for row in press["styles"].values())
    assert "shinkai" in done.stdout


def test_eval_faces_in_a_style(tmp_path, photos, built_styles):
    folder = tmp_path / "faces"
    folder.mkdir()
    for name in ("18f_edwin_torres.jpg", "18f_selena_juneau_vogel.jpg"):
        (folder / name).write_bytes((photos / "faces" / name).read_bytes())
    config = small_config(tmp_path, enabled=["hayao", "cute"])
    out = tmp_path / "eval.json"
    done = _booth("eval", "faces", str(folder), "--style", "cute", "--config", config, "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert "style: cute (Cute 3-D)" in done.stdout
    assert json.loads(out.read_text())["summary"]["faces_in"] == 2
    bad = _booth("eval", "faces", str(folder), "--style", "shinkai", "--config", config)
    assert bad.returncode == 2 and "--style: style 'shinkai' is not available" in bad.stderr
