"""The anime boomerang: a burst of about 1.6 s from the camera's video stream, stylized
frame by frame with the fast Cute network (the live mirror's, INT8) and the mirror's
blend over time, played forward and then backward, encoded as MP4 and WebP.

>>> clip = ClipMaker(network, smoothing=0.5)
>>> anime = clip.stylize(frames)              # the burst's frames, any size
>>> loop = forward_backward(anime)            # 2n - 2 frames: there and back, no stutter
>>> mp4, webp = mp4_of(anime), webp_of(anime)  # both loops, encoded

The network runs at :data:`CLIP_LONG_SIDE` (a phone screen's width of a clip); each
frame costs what a mirror frame of that size costs (``booth bench --modes`` prints it).
"""

from __future__ import annotations

import cv2
import numpy as np

from booth.vision import video
from booth.vision.mirror import MirrorNetwork, blend, centre_crop, frame_shape

#: Frames in a burst, and how long it lasts: the camera is asked for this rate.
BURST_FRAMES = 24
BURST_S = 1.6
#: Long side of the clip's frames, in pixels (multiples of 16: the network's need).
CLIP_LONG_SIDE = 512
#: Playback rate: a little faster than life, as boomerangs are.
PLAY_FPS = 30
#: The animated WebP fallback: this long side, every WEBP_STEP-th frame of the burst.
WEBP_LONG_SIDE = 384
WEBP_STEP = 2


def burst_fps() -> float:
    """The frame rate the camera is asked for during a burst."""
    return BURST_FRAMES / BURST_S


class ClipMaker:
    """Stylizes a burst with a :class:`~booth.vision.mirror.MirrorNetwork`, frames blended
    over time (``smoothing``: the previous frame's weight) so the clip does not shimmer."""

    def __init__(self, network: MirrorNetwork, smoothing: float = 0.5) -> None:
        self.network = network
        self.smoothing = smoothing

    def shape(self, aspect: float) -> tuple[int, int]:
        """(height, width) of the clip for frames of ``aspect`` (width / height)."""
        return frame_shape(CLIP_LONG_SIDE, aspect)

    def warm_up(self, aspect: float = 4 / 3) -> None:
        """Compile the network for the clip's shape now, not on the guest's burst."""
        self.network.stylize(np.zeros((*self.shape(aspect), 3), np.uint8))

    def stylize(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """Each frame at the clip's size, stylized, blended with the one before."""
        if not frames:
            raise ValueError("the burst has no frames")
        clip = Clip(self)
        for rgb in frames:
            clip.add(rgb)
        return clip.frames


class Clip:
    """One clip stylized frame by frame as the burst comes in (the booth stylizes each
    frame while the camera takes the next, so little is left when the burst ends)."""

    def __init__(self, maker: ClipMaker) -> None:
        self.maker = maker
        self.frames: list[np.ndarray] = []
        self._shape: tuple[int, int] | None = None

    def add(self, rgb: np.ndarray) -> np.ndarray:
        """Stylize the next frame of the burst; returns it."""
        if self._shape is None:
            self._shape = self.maker.shape(rgb.shape[1] / rgb.shape[0])
        h, w = self._shape
        small = cv2.resize(centre_crop(rgb, w / h), (w, h), interpolation=cv2.INTER_AREA)
        previous = self.frames[-1] if self.frames else None
        anime = blend(previous, self.maker.network.stylize(small), self.maker.smoothing)
        self.frames.append(anime)
        return anime


def forward_backward(frames: list[np.ndarray]) -> list[np.ndarray]:
    """The frames forward, then backward without repeating either end (it loops smoothly)."""
    return list(frames) + list(frames[-2:0:-1])


def still_of(frames: list[np.ndarray]) -> np.ndarray:
    """The frame that stands for the clip in the gallery and on prints: the middle one."""
    return frames[len(frames) // 2]


def mp4_of(frames: list[np.ndarray]) -> bytes:
    """The stylized burst there and back as H.264 MP4 at :data:`PLAY_FPS`."""
    return video.encode_mp4(forward_backward(frames), PLAY_FPS)


def webp_of(frames: list[np.ndarray]) -> bytes:
    """The stylized burst there and back as the animated WebP fallback: every
    :data:`WEBP_STEP`-th frame, each shown that much longer. The burst is thinned before
    it turns back (thinning the finished loop would keep its turning frame twice: a
    hold at the turn)."""
    return video.encode_webp(forward_backward(frames[::WEBP_STEP]), PLAY_FPS // WEBP_STEP, WEBP_LONG_SIDE)
