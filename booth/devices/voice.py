"""The spoken countdown (``[cycle] spoken_countdown``): the booth says each number aloud.

The numbers are rendered once, at install, by Debian's espeak-ng — one WAV file per
number and language in ``weights/voices/<language>/<number>.wav`` — and the kiosk plays
them through the screen's speakers as the countdown runs (the kiosk's chromium may
play sound without a tap). espeak-ng says the digits in the language's own words, so
nothing here needs translating; a language espeak-ng does not speak is a clear error.

``booth voice render --languages en de`` renders them (``./install.sh`` does, for the
booth's languages); files already there are kept.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from booth.errors import UserError
from booth.model.weights import WEIGHTS_DIR

#: Where the rendered numbers live (built at install, like the model files).
VOICES_DIR = WEIGHTS_DIR / "voices"
#: The largest number said: the longest countdown ``[cycle] countdown_s`` allows.
MOST = 30
#: The booth's language codes that espeak-ng knows under another name.
ESPEAK_NAMES = {"zh_Hans": "cmn", "zh_Hant": "yue", "pt_BR": "pt-br"}


def voice_file(language: str, number: int, folder: Path | None = None) -> Path:
    """The WAV file of ``number`` said in ``language``."""
    return (folder or VOICES_DIR) / language / f"{number}.wav"


def has_voice(language: str, folder: Path | None = None) -> bool:
    """Every number of a countdown is rendered for ``language``."""
    return all(voice_file(language, n, folder).is_file() for n in range(1, MOST + 1))


def kiosk_voice(settings) -> str | None:
    """The language the kiosk says its countdown in: None when ``[cycle] spoken_countdown``
    is off or its numbers were never rendered (the countdown then stays silent)."""
    language = settings.booth.language  # the kiosk's language
    if not settings.cycle.spoken_countdown or not has_voice(language):
        return None
    return language


def render(languages: list[str], folder: Path | None = None) -> int:
    """Render 1..MOST in each language with espeak-ng (files already there are kept);
    the number of files written. UserError without espeak-ng or for a language it lacks."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise UserError("espeak-ng is not installed: sudo apt install espeak-ng")
    written = 0
    for language in languages:
        for number in range(1, MOST + 1):
            target = voice_file(language, number, folder)
            if target.is_file():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".wav.partial")  # whole or absent, even after a power cut
            done = subprocess.run([espeak, "-v", ESPEAK_NAMES.get(language, language), "-w", str(partial),
                                   str(number)], capture_output=True, text=True, timeout=60)
            if done.returncode != 0 or not partial.is_file():
                partial.unlink(missing_ok=True)
                raise UserError(f"espeak-ng cannot say {language!r}: {done.stderr.strip() or done.returncode}")
            os.replace(partial, target)
            written += 1
    return written
