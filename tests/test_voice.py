"""The spoken countdown: espeak-ng (Debian's, as ./install.sh --test installs it) renders
each number in each language, and the kiosk asks for them as it counts down — only when
``[cycle] spoken_countdown`` is on."""

from __future__ import annotations

import shutil
import wave

import pytest

from booth.config import Settings
from booth.devices import voice
from booth.errors import UserError
from booth.vision.images import load_image, thumbnail
from booth.web import create_app, serve
from webbooth import ScriptedBooth, free_port


@pytest.fixture
def voices(tmp_path, monkeypatch):
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is missing: ./install.sh --test installs it", pytrace=False)
    monkeypatch.setattr(voice, "VOICES_DIR", tmp_path / "voices")
    return tmp_path / "voices"


def seconds(path) -> float:
    with wave.open(str(path)) as sound:
        return sound.getnframes() / sound.getframerate()


def test_every_number_is_rendered_in_each_language_once(voices):
    assert voice.render(["en", "de"]) == 2 * voice.MOST
    assert voice.has_voice("en") and voice.has_voice("de") and not voice.has_voice("fr")
    for language in ("en", "de"):
        assert all(0.1 < seconds(voice.voice_file(language, n)) < 3 for n in range(1, voice.MOST + 1))
    assert voice.voice_file("en", 3).read_bytes() != voice.voice_file("de", 3).read_bytes()  # "three", "drei"
    assert voice.render(["en", "de"]) == 0  # kept
    assert not list(voices.rglob("*.partial"))
    with pytest.raises(UserError, match="espeak-ng cannot say 'xx'"):
        voice.render(["xx"])


@pytest.mark.browser
@pytest.mark.parametrize("spoken", [True, False])
def test_the_kiosk_says_the_countdown_only_when_asked(voices, tmp_path, photos, browser, spoken):
    voice.render(["en"])
    port = free_port()
    settings = Settings().replace("booth", data_dir=str(tmp_path / "data")).replace("storage", min_free_mb=0)
    settings = settings.replace("cycle", spoken_countdown=spoken)
    booth = ScriptedBooth(settings, thumbnail(load_image(photos / "faces" / "18f_edwin_torres.jpg"), 640))
    server = serve(create_app(booth), "127.0.0.1", port, 8)
    try:
        page = browser.new_page()
        asked: list[str] = []
        page.on("requestfinished", lambda r: asked.append(r.url) if "/kiosk/voice/" in r.url else None)
        page.goto(f"http://127.0.0.1:{port}/kiosk")
        page.wait_for_function("() => document.body.dataset.connected === 'yes'")
        for left in (3, 2, 1):
            booth.events.publish("state", state="countdown", seconds_left=left)
            page.wait_for_function(f"() => document.getElementById('count').textContent === '{left}'")
        booth.events.publish("state", state="idle")
        page.wait_for_timeout(1500)
        page.close()
    finally:
        server.close()
        booth.close()
    wanted = [f"http://127.0.0.1:{port}/kiosk/voice/en/{n}.wav" for n in (3, 2, 1)]
    assert sorted(set(asked)) == (sorted(wanted) if spoken else [])
