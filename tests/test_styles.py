"""Styles: the catalogue as data, each style's build, the cache of compiled styles, the
JP face composition, and a press through the booth in each style — real networks on
real photos.

The styles are built by install.sh; a style that is not built yet is built here
(one working size, a few calibration crops) so the tests never skip it."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import openvino as ov
import pytest

from booth import config
from booth.measure.style_faces import drawn_features
from booth.model import style_build, weights
from booth.vision import geometry, styles
from booth.vision.generator import working_shape
from booth.vision.images import load_image
from booth.vision.pipeline import Pipeline, face_crops

from boothkit import make_booth, settings_for, wait_for_state

from conftest import MIRROR, NEW_STYLES


def small_settings(tmp_path: Path, folder: Path, **styles_changes) -> config.Settings:
    """Booth settings with one working size (fewer warm-ups) and the given [styles]."""
    settings = settings_for(tmp_path, folder).replace("generator", sizes=[384], size="auto")
    return settings.replace("styles", **styles_changes) if styles_changes else settings


# --- styles as data --------------------------------------------------------------------
def test_every_style_is_described_and_pinned():
    catalogue = styles.catalogue()
    assert list(catalogue) == [styles.CLASSIC, *NEW_STYLES]
    assert config.defaults().styles.enabled == [styles.CLASSIC, *NEW_STYLES]
    assert config.defaults().styles.default == styles.CLASSIC
    for name in NEW_STYLES:
        style = catalogue[name]
        # Commit-pinned upstream URL, a real checksum, a non-commercial licence, a guest label.
        assert re.search(r"/raw/[0-9a-f]{40}/", style.url), style.url
        assert re.fullmatch(r"[0-9a-f]{64}", style.sha256)
        assert "non-commercial" in style.license.lower() or "no commercial" in style.license.lower()
        assert style.label and style.file.startswith("styles/")
        assert style.layout == "NHWC" and style.value_range == (-1.0, 1.0)
    assert catalogue["jpface"].role == "face"
    assert catalogue["cute"].size_multiple == 16


@pytest.mark.skipif(not MIRROR.is_dir(), reason="no offline mirror of the model files here")
def test_fetch_checks_each_styles_checksum(tmp_path, monkeypatch):
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path / "weights")
    lines = []
    styles.fetch(["cute"], MIRROR, report=lines.append)
    assert lines == ["styles/animeganv3_tiny_cute.onnx: copied (sha256 ok)"]
    # A damaged copy in the mirror is refused and leaves nothing behind.
    bad = tmp_path / "bad"
    (bad / "styles").mkdir(parents=True)
    source = MIRROR / "styles" / "whitebox_cartoongan_int8.tflite"
    (bad / "styles" / source.name).write_bytes(source.read_bytes()[:-1] + b"x")
    with pytest.raises(weights.WeightsError, match="checksum mismatch for styles/whitebox"):
        styles.fetch(["whitebox"], bad)
    assert sorted(p.name for p in (tmp_path / "weights" / "styles").iterdir()) == [
        "animeganv3_tiny_cute.onnx"]
    with pytest.raises(weights.WeightsError, match="unknown style 'nope'"):
        styles.fetch(["nope"], MIRROR)


def test_styles_config_is_checked(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[styles]\nenabled = ["cute"]\ndefault = "hayao"\n')
    with pytest.raises(config.ConfigError, match=r"c.toml:3: \[styles\] default must be one of enabled"):
        config.load(path)
    path.write_text('[button]\npin = 17\nstyle_pin = 17\n')
    with pytest.raises(config.ConfigError, match=r"style_pin must be -1 \(none\) or a free BCM GPIO"):
        config.load(path)
    settings = config.defaults().replace("styles", enabled=["hayao", "cute", "picasso"])
    with pytest.raises(weights.WeightsError, match=r"\[styles\] unknown style 'picasso'"):
        styles.StyleSet.from_settings(settings)
    manifest = tmp_path / "manifest.toml"
    text = weights.MANIFEST_PATH.read_text()
    manifest.write_text(text.replace('companion = "cute"', 'companion = "jpface"'))
    with pytest.raises(weights.WeightsError, match=r"\[styles.jpface\] companion 'jpface' must be a scene style"):
        styles.catalogue(manifest)
    manifest.write_text(text.replace("face_side = 320", "face_side = 100"))
    with pytest.raises(weights.WeightsError, match=r"face_side must be at least 128"):
        styles.catalogue(manifest)


def test_an_enabled_style_that_is_not_built_is_skipped(tmp_path, monkeypatch, built_styles):
    """Enabled where its files are present: a style without its IR is left out, not fatal."""
    real = weights.WEIGHTS_DIR
    (tmp_path / "weights").mkdir()
    for suffix in (".xml", ".bin"):  # only the classic generator is here
        name = f"generator_int8{suffix}"
        os.symlink(real / name, tmp_path / "weights" / name)
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path / "weights")
    styleset = styles.StyleSet.from_settings(config.defaults())
    assert styleset.available == ["hayao"]
    with pytest.raises(ValueError, match="style 'cute' is not available"):
        styleset.check("cute")


# --- the build -------------------------------------------------------------------------
def test_float16_network_becomes_float32_with_the_same_output(built_styles):
    """The float IR of an fp16 ONNX style: float32 in and out, and the same picture as
    the published file run as it is, at a size that is not square."""
    style = styles.catalogue()["hayao3"]
    model, counts = style_build.float_network(style, style.model_file().path)
    assert counts["float16_ops_made_float32"] > 10
    assert model.inputs[0].get_element_type() == ov.Type.f32
    assert model.outputs[0].get_element_type() == ov.Type.f32
    core = ov.Core()
    ours = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    theirs = core.compile_model(core.read_model(str(style.model_file().path)), "CPU",
                                {"INFERENCE_PRECISION_HINT": "f32"})
    x = np.random.default_rng(0).uniform(-1, 1, (1, 256, 200, 3)).astype(np.float32)
    assert np.abs(ours(x)[0] - theirs(x.astype(np.float16))[0].astype(np.float32)).max() < 0.01


def test_the_fixed_size_style_takes_every_working_shape_through_its_one_size(built_styles, face_photo):
    """White-box runs at 512×512 only (its guided filter's normalisation is a constant of
    that shape): a 4:5 crop is scaled and reflect-padded in, and cut back out whole."""
    style = styles.catalogue()["whitebox"]
    assert style.fixed_size == 512
    model, counts = style_build.float_network(style, style.model_file().path)
    assert counts["fake_quantize_removed"] > 0
    assert list(model.inputs[0].get_partial_shape().to_shape()) == [1, 512, 512, 3]
    from booth.model.quantize import booth_crop

    rgb = booth_crop(load_image(face_photo), 384, 0.8)
    assert rgb.shape == (384, 304, 3)
    fitted = styles.fit_fixed(rgb, 512)
    assert fitted.shape == (512, 512, 3)
    back = styles.unfit_fixed(fitted, (384, 304))
    assert back.shape == (384, 304, 3)
    assert np.abs(back.astype(int) - rgb.astype(int)).mean() < 3  # the same picture comes back


@pytest.mark.parametrize("name", NEW_STYLES)
def test_each_style_is_built_with_its_card(built_styles, name, photos):
    """Card: the source's sha256, fidelity of INT8 vs the style's float network, latency
    of both at each working size, and INT8 only where it is faster and >= 30 dB. The IR
    the booth runs stylizes a real photo at a 4:5 working shape."""
    style = styles.catalogue()[name]
    card = styles.read_card(name)
    assert card["source_sha256"] == style.sha256 == weights.sha256_of(style.model_file().path)
    fidelity = card["int8"]["fidelity_vs_float"]["psnr_db"]
    assert card["peak_rss_mb"] > 100 and card["build_s"] > 0  # the build's own cost, for the Pi
    assert card["calibration"]["from"] in ("ranges file", "photos")
    for size, figures in card["latency_ms"].items():
        assert figures["int8"] > 0 and figures["fp32"] > 0
    largest = card["latency_ms"][str(max(int(s) for s in card["latency_ms"]))]
    if card["runs"] == "int8":
        assert fidelity >= style_build.MIN_PSNR_DB and largest["int8"] < largest["fp32"]
    else:
        assert fidelity < style_build.MIN_PSNR_DB or largest["int8"] >= largest["fp32"]
    generator = styles.load_style(style, config.defaults().replace("generator", sizes=[384]),
                                  warm_up=False)
    assert generator.precision == ("int8" if card["runs"] == "int8" else "f32")
    shape = working_shape(384, 0.8)
    from booth.model.quantize import booth_crop
    crop = booth_crop(load_image(photos / "faces" / "18f_edwin_torres.jpg"), 384, 0.8)
    out = generator.stylize(crop)
    assert out.shape == (*shape, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - crop.astype(int)).mean() > 5  # it changed the picture
    assert out.std() > 20  # and did not wash it out to a flat image


def test_building_a_style_from_scratch(tmp_path, monkeypatch, photos):
    """`booth styles build` in an empty weights folder: float and INT8 IR saved whole,
    a card that says what was chosen and why; `--if-needed` then does nothing."""
    detector = weights.model_path("face_detector")  # calibration frames the faces with it
    (tmp_path / "weights").mkdir()
    os.symlink(detector, tmp_path / "weights" / detector.name)
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path / "weights")
    styles.fetch(["cute"], MIRROR if MIRROR.is_dir() else None, report=lambda line: None)
    lines = []
    card = style_build.build_style("cute", calibration=str(photos), samples=6, sizes=[384],
                                   report=lines.append)
    assert card["runs"] in ("int8", "fp32") and card["why"]
    assert card["calibration"]["crops"] + card["calibration"]["held_out"] == 8
    assert json.loads(styles.card_path("cute").read_text()) == card
    for variant in ("fp32", "int8"):
        assert styles.ir_path("cute", variant).is_file()
        assert styles.ir_path("cute", variant).with_suffix(".bin").stat().st_size > 100_000
    assert not list((tmp_path / "weights" / "styles").glob(".*"))  # no temporary files left
    assert lines[-1].startswith("cute: runs ")
    style_build.build_style("cute", calibration=str(photos), if_needed=True, report=lines.append)
    assert lines[-1] == "cute: up to date"


def test_a_style_change_waits_for_the_photo(tmp_path, photos):
    """The choice is refused while a photo is being made (countdown to result)."""
    from boothkit import QuickPipeline

    booth = make_booth(settings_for(tmp_path, photos / "faces", countdown_s=2), QuickPipeline())
    booth.start()
    try:
        with booth.events.subscribe() as sub:
            booth.trigger("test")
            wait_for_state(sub, "countdown")
            assert booth.choose_style("hayao") is None
            wait_for_state(sub, "result", "failsafe", timeout=30)
            assert booth.choose_style("hayao") == "hayao"
            assert sub.get(timeout=1).kind == "style"
    finally:
        booth.stop()
        booth.camera.close()
        booth.store.close()


def test_choose_precision_keeps_int8_only_when_faster_and_faithful():
    assert style_build.choose_precision(100.0, 300.0, 35.0)[0] == "int8"
    assert style_build.choose_precision(100.0, 300.0, 29.9)[0] == "fp32"
    assert style_build.choose_precision(300.0, 290.0, 40.0)[0] == "fp32"


# --- the cache of compiled styles ------------------------------------------------------
def test_compiled_styles_are_cached_with_a_limit_and_the_default_stays(tmp_path, photos, built_styles):
    settings = small_settings(tmp_path, photos / "faces", default="cute", max_loaded=2)
    loads = []

    def loader(style):
        loads.append(style.name)
        return styles.load_style(style, settings)

    styleset = styles.StyleSet.from_settings(settings, loader=loader)
    assert styleset.available == settings.styles.enabled
    cute = styleset.generator("cute")
    assert styleset.generator("cute") is cute and loads == ["cute"]
    styleset.generator("whitebox")
    styleset.generator("hayao3")  # over the limit: whitebox (least recent, not default) goes
    assert styleset.loaded() == ["cute", "hayao3"]
    styleset.generator("whitebox")
    assert styleset.loaded() == ["cute", "whitebox"] and loads == ["cute", "whitebox", "hayao3", "whitebox"]
    assert styleset.generator("cute") is cute  # the default never left
    assert styleset.load_s["whitebox"] > 0


def test_a_face_style_keeps_its_companion_compiled_beside_it(tmp_path, photos, built_styles):
    """A face style's photo needs the face style and its companion: with max_loaded = 2
    and another default, using it keeps both (one over the limit), never recompiling one
    of them per photo; the next style used lets them go."""
    settings = small_settings(tmp_path, photos / "faces", default="hayao", max_loaded=2)
    loads = []
    styleset = styles.StyleSet.from_settings(settings, loader=lambda style: loads.append(style.name) or style.name)
    companion = styleset.style("jpface").companion
    styleset.generator("hayao")
    for _ in range(3):
        styleset.generator(companion)
        styleset.generator("jpface")
    assert styleset.loaded() == ["hayao", companion, "jpface"] and loads == ["hayao", companion, "jpface"]
    styleset.generator("shinkai")
    assert styleset.loaded() == ["hayao", "shinkai"]


# --- faces in the face style, and a press in each style -------------------------------
@pytest.fixture(scope="module")
def style_pipeline(tmp_path_factory, photos, built_styles):
    settings = small_settings(tmp_path_factory.mktemp("styles"), photos / "faces", max_loaded=3)
    return Pipeline.from_settings(settings)


def test_a_face_style_draws_every_face_on_its_own_crop_and_the_companion_elsewhere(style_pipeline, photos):
    """JP face on a group of four: each face is cut on its own square crop at the
    network's sweet spot (face 45% of the width, eyes level, from the full photo), and
    the companion style the manifest names renders the rest of the picture."""
    jpface = styles.catalogue()["jpface"]
    companion = style_pipeline.styles.generator(jpface.companion)
    rgb = load_image(photos / "groups" / "18f_sba_legos.jpg")
    group = style_pipeline.process(rgb, style="jpface")
    assert len(group.faces) == 4 and len(group.face_crops) == 4
    for face, crop in zip(group.faces, group.face_crops):
        assert crop.shape == (jpface.face_side_group, jpface.face_side_group)
        in_crop = crop.map_face(face)
        assert abs(in_crop.roll_deg) < 1.0  # eyes level
        assert face.width * crop.scale / crop.shape[1] == pytest.approx(jpface.face_fill_group, rel=0.01)
        assert np.allclose(in_crop.center, np.array(crop.shape) / 2, atol=1.0)  # centred
        # Enlarged from the photo's own pixels, not from the (smaller) working crop.
        assert crop.scale > group.crop_framing.scale
    # The crop itself is the companion's picture (before the faces are blended in) ...
    assert np.array_equal(group.generated, companion.stylize(group.crop))
    # ... and away from the faces the result is still the companion's, while each face
    # changed (compared at the crop's size, past the full-resolution step's own detail).
    scene = group.generated
    result = cv2.resize(group.stylized, scene.shape[1::-1], interpolation=cv2.INTER_AREA)
    to_crop = group.crop_framing
    near_faces = np.zeros(scene.shape[:2], bool)
    changed_faces = []
    for face in group.faces:
        x0, y0, x1, y1 = to_crop.map_face(face).box
        w, h = x1 - x0, y1 - y0
        near_faces[max(0, int(y0 - h)):int(y1 + h), max(0, int(x0 - w)):int(x1 + w)] = True
        core = np.s_[int(y0 + h / 4):int(y1 - h / 4), int(x0 + w / 4):int(x1 - w / 4)]
        changed_faces.append(np.abs(result[core].astype(int) - scene[core].astype(int)).mean())
    changed = np.abs(result.astype(int) - scene.astype(int)).max(axis=2) > 24
    assert changed[~near_faces].mean() < 0.02
    assert min(changed_faces) > 8, changed_faces


def test_a_groups_faces_are_drawn_side_by_side_as_one_by_one(style_pipeline, photos):
    """A group's face crops run at once on the face style's parallel streams: the same
    pictures as running them one at a time (a few levels of INT8 rounding apart at most)."""
    jpface = style_pipeline.styles.generator("jpface")
    rgb = load_image(photos / "groups" / "18f_sba_legos.jpg")
    crops = [pixels for _, pixels in face_crops(rgb, style_pipeline.detector.detect(rgb), jpface.style)]
    assert len(crops) == 4
    together = jpface.stylize_all(crops)
    for crop, drawn in zip(crops, together):
        alone = jpface.stylize(crop)
        assert drawn.shape == crop.shape
        assert np.abs(drawn.astype(int) - alone.astype(int)).mean() < 1.0
    assert not np.array_equal(together[0], together[1])  # each face its own picture


def test_a_soft_faces_closed_smile_is_drawn_from_the_lifted_contrast(style_pipeline, photos):
    """On a soft, evenly lit portrait JP face draws the closed smile as a thin pale line
    from the crop as it is; the crop's lifted contrast gives it a clearly darker mouth."""
    jpface = style_pipeline.styles.generator("jpface")
    rgb = load_image(photos / "faces" / "18f_julie_strothman.jpg")
    (face,) = style_pipeline.detector.detect(rgb)
    ((close, lifted),) = face_crops(rgb, [face], jpface.style)
    flat = geometry.warp(rgb, close)
    in_crop = close.map_face(face)
    mouth = [drawn_features(jpface.stylize(crop), in_crop)["mouth"] for crop in (flat, lifted)]
    assert mouth[1] >= mouth[0] + 0.08, mouth


def test_a_face_style_portrait_is_drawn_where_the_whole_crop_ghosted(style_pipeline, photos):
    """The face on its own crop has eyes and a mouth (booth eval styles' measure); the
    same network on the whole portrait crop, as the booth did before, drew a ghost."""
    rgb = load_image(photos / "hires" / "anamnesis33_AUJhl146mBY_3727x5591.jpg")
    result = style_pipeline.process(rgb, style="jpface")
    (face,) = result.faces
    assert drawn_features(result.stylized, result.framing.map_face(face))["drawn"]
    whole_crop = style_pipeline.styles.generator("jpface").stylize(result.crop)
    assert not drawn_features(whole_crop, result.crop_framing.map_face(face))["drawn"]


def test_the_kiosk_sample_of_a_face_style_shows_a_drawn_face(style_pipeline, photos):
    """The picture the kiosk shows for JP face is made as its photos are (the companion,
    the face on its own crop), not the whole-crop ghost."""
    from booth.vision import framing

    settings = style_pipeline.settings
    rgb = load_image(photos / "hires" / "anamnesis33_AUJhl146mBY_3727x5591.jpg")
    faces = style_pipeline.detector.detect(rgb)
    crop, shot = framing.frame(rgb, faces, working_shape(512, settings.face.aspect), settings.face)
    sample = style_build.face_style_sample(styles.catalogue()["jpface"], rgb, crop, settings,
                                           style_pipeline.detector)
    assert sample.shape == crop.shape
    assert drawn_features(sample, shot.map_face(faces[0]))["drawn"]


def test_a_face_style_as_the_default_draws_faces_on_their_own_crop(style_pipeline, photos):
    """With JP face as the default style a press without a chosen style still cuts the
    face on its own crop (never the whole-crop ghost)."""
    settings = style_pipeline.settings.replace("styles", default="jpface")
    compiled = style_pipeline.styles
    styleset = styles.StyleSet.from_settings(settings, loader=lambda style: compiled.generator(style.name))
    pipeline = Pipeline(settings, styleset.generator("jpface"), style_pipeline.detector, styleset)
    result = pipeline.process(load_image(photos / "faces" / "18f_edwin_torres.jpg"))
    assert len(result.faces) == 1 and len(result.face_crops) == 1
    assert result.face_crops[0].shape == (styleset.style("jpface").face_side,) * 2


def test_a_press_makes_the_photo_in_the_chosen_style(tmp_path, style_pipeline, photos):
    """Through the booth: the guest picks each style in turn, presses, and the stored
    photo of the same scene is made in that style, each different from the others."""
    camera_folder = tmp_path / "camera"
    camera_folder.mkdir()
    shutil.copy(photos / "faces" / "18f_edwin_torres.jpg", camera_folder)
    booth = make_booth(small_settings(tmp_path, camera_folder), style_pipeline)
    booth.start()
    pictures = {}
    try:
        with booth.events.subscribe() as sub:
            for name in ["hayao", *NEW_STYLES]:
                wait_for_state(sub, "idle", timeout=30) if booth.state != "idle" else None
                assert booth.choose_style(name) == name
                assert booth.trigger("test")
                event = wait_for_state(sub, "result", "failsafe", timeout=120)
                assert event.data["state"] == "result", booth.last_cycle
                photo = booth.store.get(event.data["photo_id"])
                assert photo.meta["style"] == name
                pictures[name] = load_image(booth.store.file_path(photo.id, "anime"))
        with pytest.raises(ValueError, match="not available"):
            booth.choose_style("picasso")
        assert booth.choose_style(step=1) == "hayao"  # after the last, the first again
    finally:
        booth.stop()
        booth.camera.close()
        booth.store.close()
    # One scene, one photo per style: every style gives a different picture.
    names = list(pictures)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert pictures[a].shape == pictures[b].shape
            assert np.abs(pictures[a].astype(int) - pictures[b].astype(int)).mean() > 3, (a, b)
