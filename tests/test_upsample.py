"""The full-resolution result: the size rule, and what the guided upsampling does."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from booth import config
from booth.errors import ConfigError
from booth.measure.upscale import edge_overshoot, gradient_ratio, psnr, summarize
from booth.vision.upsample import SLOPE_MAX, SNAP_FROM, guide_slopes, result_shape, snap_shift, upsample

#: The default 4:5 crop at the generator's largest size.
CROP_512 = (512, 408)


# --- the size rule -----------------------------------------------------------------------

def test_a_12_megapixel_frame_gives_1350_px_on_the_long_side():
    # A portrait crop 2400 px tall in a 12 MP frame, rendered at 512 for the generator.
    h, w = result_shape(CROP_512, 512 / 2400, 1350)
    assert (h, w) == (1350, 1076)
    assert abs(w / h - 408 / 512) < 1 / h            # the crop's aspect, to a pixel


def test_never_above_the_crops_own_resolution():
    # The crop covers 900 px of the photo: the result stops there, not at 1350.
    h, w = result_shape(CROP_512, 512 / 900, 1350)
    assert (h, w) == (900, 717)
    for own in (513.0, 640.5, 999.9, 1349.0, 1351.0, 5000.0):
        h, w = result_shape(CROP_512, 512 / own, 1350)
        assert max(h, w) <= min(own, 1350)
        assert abs(w / h - 408 / 512) <= 1 / h


def test_a_crop_smaller_than_the_generators_input_keeps_the_generators_size():
    # A 300 px face photo: the generator already works above the photo's resolution.
    assert result_shape(CROP_512, 512 / 300, 1350) == CROP_512
    assert result_shape((384, 304), 1.0, 1350) == (384, 304)


def test_zero_keeps_the_generators_size():
    assert result_shape(CROP_512, 512 / 2400, 0) == CROP_512
    assert result_shape((304, 384), 384 / 3000, 0) == (304, 384)


def test_a_landscape_crop_keeps_its_aspect():
    h, w = result_shape((304, 384), 384 / 3000, 1350)
    assert (h, w) == (1069, 1350)


def test_the_setting_is_zero_or_a_real_size():
    assert config.defaults().storage.result_long_side == 1350
    config.defaults().replace("storage", result_long_side=0)
    with pytest.raises(ValueError, match="result_long_side must be 0"):
        config.defaults().replace("storage", result_long_side=400)
    with pytest.raises(ConfigError, match="result_long_side"):
        config.from_dict({"storage": {"result_long_side": 99999}})


# --- the upsampling on known pictures ------------------------------------------------------

def scene(size: int) -> np.ndarray:
    """A sharp test picture: discs and stripes with hard edges, any resolution."""
    image = np.full((size, size * 4 // 5, 3), (60, 90, 140), np.uint8)
    s = size / 500
    cv2.circle(image, (int(200 * s), int(180 * s)), int(90 * s), (230, 200, 170), -1, cv2.LINE_AA)
    cv2.circle(image, (int(170 * s), int(160 * s)), int(12 * s), (20, 20, 30), -1, cv2.LINE_AA)
    for x in range(40, 380, 30):
        cv2.line(image, (int(x * s), int(330 * s)), (int((x + 60) * s), int(480 * s)),
                 (250, 240, 220), max(1, int(4 * s)), cv2.LINE_AA)
    return image


def anime_of(photo: np.ndarray) -> np.ndarray:
    """A stand-in 'generator': a fixed colour remapping of the photo (contrast up, tint)."""
    mapped = photo.astype(np.float32) * [1.2, 1.0, 0.8] + [-20, 10, 30]
    return np.clip(mapped, 0, 255).astype(np.uint8)


def test_the_guide_brings_back_the_edges_a_plain_upscale_blurs():
    # The generator stand-in is a colour remapping, so its full-resolution output is
    # known: the upsampled result must come far closer to it than a bicubic upscale.
    guide = scene(1350)
    crop = cv2.resize(guide, (408, 512), interpolation=cv2.INTER_AREA)
    generated = anime_of(crop)
    result = upsample(generated, crop, guide)
    assert result.shape == guide.shape and result.dtype == np.uint8
    bicubic = cv2.resize(generated, guide.shape[1::-1], interpolation=cv2.INTER_CUBIC)
    ideal = anime_of(guide)     # what the 'generator' would have drawn at full resolution
    assert np.abs(result.astype(int) - ideal).mean() < 0.6 * np.abs(bicubic.astype(int) - ideal).mean()
    # Faithful to the generator: shrunk back, it is the generator's output.
    assert psnr(cv2.resize(result, (408, 512), interpolation=cv2.INTER_AREA), generated) > 35
    # No halo: around the edges it stays within what the bicubic upscale has nearby.
    mean_over, _ = edge_overshoot(result, bicubic, radius=7)
    assert mean_over < 1.0


def test_a_grey_guide_gives_the_same_picture():
    # Only the guide's luminance is used: a grey render (a third of the work) will do.
    guide = scene(1000)
    crop = cv2.resize(guide, (408, 512), interpolation=cv2.INTER_AREA)
    generated = anime_of(crop)
    grey = cv2.cvtColor(guide, cv2.COLOR_RGB2GRAY)
    assert np.array_equal(upsample(generated, crop, grey), upsample(generated, crop, guide))
    assert np.array_equal(grey, cv2.cvtColor(guide, cv2.COLOR_RGB2GRAY))   # left as it was


def test_flat_anime_colour_does_not_take_the_photos_texture():
    rng = np.random.default_rng(3)
    guide = np.clip(128 + rng.normal(0, 25, (1000, 800, 1)), 0, 255).astype(np.uint8).repeat(3, 2)
    crop = cv2.resize(guide, (320, 400), interpolation=cv2.INTER_AREA)
    generated = np.full_like(crop, (200, 150, 120))   # the generator painted skin flat
    result = upsample(generated, crop, guide)
    assert np.abs(result.astype(int) - (200, 150, 120)).max() <= 1


def test_the_generators_size_is_returned_as_it_is():
    crop = scene(512)[:, :408]
    generated = anime_of(crop)
    assert upsample(generated, crop, crop) is generated
    with pytest.raises(ValueError, match="differ in size"):
        upsample(generated, crop[:-8], scene(1000))


def test_the_slope_is_how_strongly_each_channel_follows_the_photo():
    rng = np.random.default_rng(5)
    photo = cv2.GaussianBlur(rng.uniform(0, 255, (120, 100)).astype(np.float32), (0, 0), 0.8)
    photo = cv2.normalize(photo, None, 40, 150, cv2.NORM_MINMAX)
    anime = np.dstack([0.5 * photo + 20, 255 - photo, 2 * photo - 60])   # half, reversed, double
    anime = np.clip(anime, 0, 255).round().astype(np.uint8)
    slopes = guide_slopes(photo, anime)[10:-10, 10:-10]
    half, double = np.median(slopes[..., 0]), np.median(slopes[..., 2])
    # The regulariser shrinks every slope by the same share (a few % on this texture).
    assert 0.9 * 0.5 <= half <= 0.5 and 0.9 * 2.0 <= double <= 2.0
    assert double / half == pytest.approx(4.0, rel=0.03)
    assert slopes[..., 1].max() == 0.0                  # a reversed colour is not detail to copy
    flat = guide_slopes(photo, np.full_like(anime, 128))
    assert np.abs(flat).max() < 1e-3                    # flat colour takes none of the photo
    steep = np.clip(5 * photo - 300, 0, 255).astype(np.uint8)[..., None].repeat(3, 2)
    assert guide_slopes(photo, steep).max() == pytest.approx(SLOPE_MAX)   # a noisy fit is capped


def test_snapping_moves_a_blurred_edge_towards_its_sides_and_never_past_them():
    edge = np.zeros((40, 60), np.uint8)
    edge[:, 30:] = 200
    soft = cv2.GaussianBlur(edge, (0, 0), 1.5)
    shift = snap_shift(soft, 1)
    snapped = soft + shift
    window = np.ones((3, 3), np.uint8)
    assert (snapped >= cv2.erode(soft, window) - 1e-3).all()
    assert (snapped <= cv2.dilate(soft, window) + 1e-3).all()
    ramp = slice(None), slice(27, 33)
    dark_side, bright_side = soft[ramp] < 100, soft[ramp] > 100
    assert (shift[ramp][dark_side] <= 0).all() and (shift[ramp][bright_side] >= 0).all()
    assert np.abs(shift[ramp]).max() > 10               # the ramp does get crisper
    # Faint texture (contrast under SNAP_FROM) is left alone.
    faint = (np.indices((40, 60)).sum(0) % 2 * (SNAP_FROM - 1) + 100).astype(np.uint8)
    assert not snap_shift(faint, 1).any()


def test_work_planes_kept_between_calls_change_no_result():
    # The upsampling reuses its full-resolution work planes (per thread, per size):
    # results handed out earlier stay as they were, and any order of sizes, photos
    # and threads gives the same pictures.
    big, small = scene(1350), scene(900)
    jobs = [(anime_of(c), c, g) for g in (big, small)
            for c in [cv2.resize(g, (g.shape[1] * 512 // g.shape[0], 512), interpolation=cv2.INTER_AREA)]]
    first = [upsample(*job) for job in jobs]
    kept = [image.copy() for image in first]
    again = [upsample(*job) for job in reversed(jobs)][::-1]
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        threaded = list(pool.map(lambda job: upsample(*job), jobs * 2))
    for image, copy in zip(first, kept):
        assert np.array_equal(image, copy)
    for image, other in zip(first * 3, again + threaded):
        assert np.array_equal(image, other)


#: Upsamples the same picture a few times in a fresh Python and prints the page faults
#: of the last call and the result's size in pages (a fresh process: a long-running one
#: may hand back memory it kept from anything earlier and hide the faults).
_FAULTS_PROBE = """
import resource, sys
import cv2, numpy as np
sys.path.insert(0, sys.argv[1])
from test_upsample import anime_of, scene
from booth.vision.upsample import upsample
guide = scene(1350)
crop = cv2.resize(guide, (432, 540), interpolation=cv2.INTER_AREA)
generated = anime_of(crop)
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    result = upsample(generated, crop, guide)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, result.nbytes // 4096)
"""


def test_a_repeated_upsampling_asks_the_kernel_for_little_fresh_memory():
    # Fresh memory costs a page fault per 4 KiB, as much time as the arithmetic: a
    # picture of the same size as the last reuses the kept work planes, and only the
    # returned image (which the caller keeps) is new.
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run([sys.executable, "-c", _FAULTS_PROBE, str(Path(__file__).parent)],
                          capture_output=True, text=True, timeout=120, check=True)
    faults, result_pages = map(int, done.stdout.split())
    assert faults <= result_pages               # at most the returned image's own pages


# --- the eval's measures -------------------------------------------------------------------

def test_psnr_of_known_differences():
    a = np.zeros((10, 10, 3), np.uint8)
    assert psnr(a, a) == float("inf")
    assert psnr(a, a + 1) == pytest.approx(48.13, abs=0.01)     # MSE 1


def test_a_ringing_halo_shows_as_overshoot_and_a_clean_edge_does_not():
    edge = np.zeros((200, 200, 3), np.uint8)
    edge[:, 100:] = 200
    soft = cv2.GaussianBlur(edge, (0, 0), 3)
    sharp = cv2.GaussianBlur(edge, (0, 0), 1)
    ringing = cv2.addWeighted(soft, 2.0, cv2.GaussianBlur(soft, (0, 0), 4), -1.0, 0)  # unsharp mask
    assert edge_overshoot(sharp, soft, radius=7)[1] < 0.5      # crisper, but no halo
    assert edge_overshoot(ringing, soft, radius=7)[1] > 10
    # The mean gradient rewards fine detail a blur averages away (stripes), not a
    # crisper lone edge (the same total rise, over fewer pixels).
    stripes = np.zeros((200, 200, 3), np.uint8)
    stripes[:, ::4] = stripes[:, 1::4] = 200
    assert gradient_ratio(stripes, cv2.GaussianBlur(stripes, (0, 0), 2)) > 5
    assert gradient_ratio(sharp, soft) == pytest.approx(1.0, abs=0.05)


def _upscale_record(name, result, photo, nme=(0.04, 0.04, 0.04)):
    generated, bicubic, full = nme
    return {"file": name, "factor": 2.0, "psnr_db": 38.0, "gradient_ratio": result,
            "guide_gradient_ratio": photo, "overshoot_mean": 0.3, "overshoot_p99": 9.0,
            "faces": 1, "found_generated": 1, "found_result": 1, "nme_generated": generated,
            "nme_result": full, "nme_bicubic": bicubic}


def test_the_summary_shows_how_much_detail_the_photos_themselves_hold():
    soft = [_upscale_record(f"faces/soft{i}.jpg", 1.1, 1.05) for i in range(3)]
    summary = summarize(soft + [_upscale_record("faces/sharp.jpg", 1.4, 1.5)], None)
    assert summary["guide_gradient_ratio_mean"] == pytest.approx((3 * 1.05 + 1.5) / 4, abs=1e-3)
    assert summary["detailed_photos"] == 1 and summary["gradient_ratio_mean_detailed"] == 1.4
    # Photos too soft to hold the target's detail cannot show it: reported, not judged.
    assert summary["sharpness_basis"] is None and "sharpness_gradient_ratio" not in summary["targets"]
    summary = summarize(soft, None)
    assert summary["detailed_photos"] == 0 and summary["gradient_ratio_mean_detailed"] is None


def test_sharpness_is_judged_on_the_camera_native_photos():
    soft = [_upscale_record(f"faces/soft{i}.jpg", 1.1, 1.05) for i in range(3)]
    hires = [_upscale_record("hires/a.jpg", 1.45, 1.6), _upscale_record("hires/b.jpg", 1.25, 1.4)]
    summary = summarize(soft + hires, None)
    assert summary["sharpness_basis"] == "hires/" and summary["sharpness_photos"] == 2
    assert summary["sharpness_gradient_ratio"] == pytest.approx(1.35)
    assert summary["sharpness_gradient_ratio_min"] == 1.25
    assert summary["targets"]["sharpness_gradient_ratio"] is True
    summary = summarize(soft + [_upscale_record("hires/c.jpg", 1.2, 1.6)], None)
    assert summary["targets"]["sharpness_gradient_ratio"] is False
    # Without hires/, photos that hold the detail on average are judged all together.
    summary = summarize([_upscale_record(f"camera/{i}.jpg", 1.2, 1.5) for i in range(2)], None)
    assert summary["sharpness_basis"] == "all photos" and summary["targets"]["sharpness_gradient_ratio"] is False


def test_a_face_difference_within_the_detectors_own_spread_is_not_a_failure():
    # The bicubic upscale adds nothing, yet moves the detector's NME by +0.01 on one photo
    # and -0.01 on the other (standard deviation 0.0141): a result 0.005 above the
    # generator's output is within that spread.
    within = [_upscale_record("hires/a.jpg", 1.4, 1.5, nme=(0.040, 0.050, 0.045)),
              _upscale_record("hires/b.jpg", 1.4, 1.5, nme=(0.040, 0.030, 0.045))]
    summary = summarize(within, None)
    assert summary["nme_difference"] == pytest.approx(0.005)
    assert summary["detector_spread"] == pytest.approx(0.0141, abs=1e-4)
    assert summary["nme_faces"] == 2 and summary["targets"]["faces_nme_not_worse"] is True
    beyond = [_upscale_record("hires/a.jpg", 1.4, 1.5, nme=(0.040, 0.041, 0.060)),
              _upscale_record("hires/b.jpg", 1.4, 1.5, nme=(0.040, 0.040, 0.060))]
    assert summarize(beyond, None)["targets"]["faces_nme_not_worse"] is False
