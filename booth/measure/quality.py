"""Image-quality measures used by the build, the benchmark and the evaluations."""

from __future__ import annotations

import cv2
import numpy as np


def psnr(reference: np.ndarray, image: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 images (capped at 100 dB)."""
    mse = np.mean((reference.astype(np.float64) - image.astype(np.float64)) ** 2)
    return 100.0 if mse < 1e-10 else float(10 * np.log10(255.0 ** 2 / mse))


def ssim(reference: np.ndarray, image: np.ndarray) -> float:
    """Mean structural similarity of two uint8 RGB images, on luma.

    The usual definition (Wang et al. 2004): an 11×11 Gaussian window with σ = 1.5,
    K1 = 0.01, K2 = 0.03, dynamic range 255.
    """
    a = cv2.cvtColor(reference, cv2.COLOR_RGB2GRAY).astype(np.float64)
    b = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    score = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(score.mean())


def fidelity(candidate: list[np.ndarray], reference: list[np.ndarray]) -> dict[str, float]:
    """Mean and worst PSNR and SSIM of the ``candidate`` pictures against the
    ``reference`` ones, pair by pair."""
    psnrs = [psnr(ref, out) for ref, out in zip(reference, candidate)]
    ssims = [ssim(ref, out) for ref, out in zip(reference, candidate)]
    return {"psnr_db": round(float(np.mean(psnrs)), 2), "psnr_min_db": round(float(np.min(psnrs)), 2),
            "ssim": round(float(np.mean(ssims)), 4), "ssim_min": round(float(np.min(ssims)), 4)}
