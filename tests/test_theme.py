"""The organiser's look (``[theme]``): checked at start in one line naming the key, and
used by the kiosk, the phone pages and the prints.

The logos are drawn here (a PNG with Pillow, an SVG as text); fonts are the ones
fontconfig lists on this machine. The kiosk and the photo page are looked at in Debian's
chromium, and axe-core checks them themed too; screenshots go to artifacts/.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from PIL import Image, ImageDraw

from axekit import context_for, report, violations
from booth import PROJECT_ROOT, config
from booth.devices import printing
from booth.vision.images import load_image, thumbnail
from booth.web import create_app, serve
from test_access import PHONE
from webbooth import ScriptedBooth, free_port

ARTIFACTS = PROJECT_ROOT / "artifacts"
#: An SVG logo that carries a script (it must never run) and a green disc.
SVG_LOGO = ('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="60" viewBox="0 0 120 60">'
            '<script>document.title = "pwned"</script>'
            '<circle cx="30" cy="30" r="28" fill="#00c000"/></svg>')


def draw_logo(path, size=(360, 120), colour=(40, 200, 255)) -> None:
    """A small organiser's logo: a disc and a bar on transparency."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((4, 4, size[1] - 4, size[1] - 4), fill=(*colour, 255))
    draw.rounded_rectangle((size[1] + 10, size[1] // 3, size[0] - 4, 2 * size[1] // 3), 12, fill=(255, 255, 255, 255))
    image.save(path)


def load_config(tmp_path, text: str) -> config.Settings:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return config.load(path)


def a_font_family() -> str:
    families = config.installed_font_families()
    if not families:
        pytest.fail("fontconfig lists no font here: apt-get install fontconfig fonts-dejavu-core", pytrace=False)
    return "dejavu serif" if "dejavu serif" in families else sorted(families)[0]


def test_a_bad_theme_is_one_line_naming_the_key(tmp_path):
    draw_logo(tmp_path / "logo.png")
    Image.new("RGB", (2100, 40), "white").save(tmp_path / "wide.png")
    noise = np.random.default_rng(1).integers(0, 255, (700, 700, 3), np.uint8)
    Image.fromarray(noise).save(tmp_path / "heavy.png")  # 1.4 MB of noise, 700 px a side
    Image.new("RGB", (40, 40), "white").save(tmp_path / "gif.png", format="GIF")
    (tmp_path / "page.svg").write_text("<html><body>not a drawing</body></html>")
    for text, expected in [
        ('[theme]\naccent_color = "#333333"\n',
         ":2: [theme] accent_color #333333 on background_color #17131f has a contrast of 1.4:1, "
         "below the 4.5:1 text needs (WCAG AA)"),
        ('[theme]\nbackground_color = "#ffffff"\n', ": [theme] accent_color #ff5c8a on background_color #ffffff"),
        ('[theme]\naccent_color = "pink"\n', ':2: [theme] accent_color must be a colour like "#ff5c8a"'),
        ('[theme]\nlogo = "logo.gif"\n', ":2: [theme] logo must be a .png or .svg file (or empty)"),
        ('\n[theme]\nlogo = "missing.png"\n', f":3: [theme] logo: {tmp_path / 'missing.png'} not found"),
        ('[theme]\nlogo = "gif.png"\n', f":2: [theme] logo: {tmp_path / 'gif.png'} is not a PNG image"),
        ('[theme]\nlogo = "page.svg"\n', f":2: [theme] logo: {tmp_path / 'page.svg'} is not a SVG image"),
        ('[theme]\nlogo = "heavy.png"\n', "more than the 1 MB a logo may be"),
        ('[theme]\nlogo = "wide.png"\n', "is 2100x40 pixels, more than the 2048 a side a logo may be"),
        ('[theme]\nfont = "No Such Font Family"\n',
         ":2: [theme] font: the font family 'No Such Font Family' is not installed here"),
        ('[theme]\nfont = "fonts/gone.ttf"\n', f":2: [theme] font: {tmp_path / 'fonts/gone.ttf'} not found"),
        ('[web]\naccent_color = "#ffffff"\n[theme]\naccent_color = "#ffffff"\n',
         ":2: [web] accent_color moved to [theme]; remove it from [web]"),
    ]:
        with pytest.raises(config.ConfigError) as err:
            load_config(tmp_path, text)
        message = str(err.value)
        assert expected in message and "\n" not in message, (text, message)
        assert message.startswith(str(tmp_path / "c.toml")), message


def test_a_good_theme_loads_and_an_older_configs_colours_are_read_as_it(tmp_path):
    draw_logo(tmp_path / "logo.png")
    (tmp_path / "logo.svg").write_text(SVG_LOGO)
    family = a_font_family()
    settings = load_config(tmp_path, f'[theme]\naccent_color = "#ffd166"\nbackground_color = "#0b1f33"\n'
                                     f'logo = "logo.png"\nfont = "{family}"\n')
    assert settings.logo_path == tmp_path / "logo.png" and settings.font_file is None
    assert load_config(tmp_path, '[theme]\nlogo = "logo.svg"\n').logo_path == tmp_path / "logo.svg"
    old = load_config(tmp_path, '[web]\naccent_color = "#00c853"\nbackground_color = "#000000"\nport = 9000\n')
    assert (old.theme.accent_color, old.theme.background_color, old.web.port) == ("#00c853", "#000000", 9000)


@pytest.fixture
def themed_booth(tmp_path, photos):
    draw_logo(tmp_path / "logo.png")
    settings = config.Settings(base_dir=tmp_path).replace("booth", data_dir=str(tmp_path / "data"))
    settings = settings.replace("storage", min_free_mb=0)
    settings = settings.replace("theme", accent_color="#ffd166", background_color="#0b1f33", logo="logo.png",
                                font=a_font_family())
    booth = ScriptedBooth(settings, thumbnail(load_image(photos / "faces" / "18f_edwin_torres.jpg"), 640))
    yield booth
    booth.close()


def test_every_page_shows_the_logo_and_it_is_served_sandboxed(themed_booth, tmp_path):
    booth = themed_booth
    photo_id = booth.add_photo()
    client = create_app(booth).test_client()
    for path, tag in (("/", 'class="logo"'), (f"/p/{photo_id}", 'class="logo"'), ("/upload", None),
                      ("/kiosk", 'class="k-logo"')):
        html = client.get(path, headers={"Host": "127.0.0.1"}).get_data(as_text=True)
        if tag:
            assert f'<img {tag} src="/theme/logo" alt=""' in html, path
    css = client.get("/theme.css", headers={"Host": "127.0.0.1"}).get_data(as_text=True)
    assert f'--theme-font:"{booth.settings.theme.font}"' in css and "--accent:#ffd166" in css

    (tmp_path / "logo.svg").write_text(SVG_LOGO)
    booth.settings = booth.settings.replace("theme", logo="logo.svg")
    logo = client.get("/theme/logo", headers={"Host": "127.0.0.1"})
    assert logo.status_code == 200 and logo.mimetype == "image/svg+xml"
    assert "sandbox" in logo.headers["Content-Security-Policy"]
    assert "default-src 'none'" in logo.headers["Content-Security-Policy"]

    font = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
    if not os.path.exists(font):
        font = next(str(p) for p in sorted(printing.Path("/usr/share/fonts").rglob("*.ttf")))
    booth.settings = booth.settings.replace("theme", font=font)
    css = client.get("/theme.css", headers={"Host": "127.0.0.1"}).get_data(as_text=True)
    assert "@font-face" in css and "url(/theme/font)" in css
    served = client.get("/theme/font", headers={"Host": "127.0.0.1"})
    assert served.status_code == 200 and served.data == open(font, "rb").read()


def test_prints_carry_the_logo_and_a_title_that_reads_on_paper(themed_booth, tmp_path):
    settings = themed_booth.settings.replace("print", enabled=True)
    logo = printing.theme_logo(settings)
    width, height = printing.page_size_px(settings.print)
    assert logo.height == round(height * printing.LOGO_SHARE)
    page = printing.render_page(np.full((800, 640, 3), 90, np.uint8), None, title="Ada & Bo", date="1 May",
                                url="http://10.42.0.1:8080/p/x", settings=settings.print,
                                accent=settings.theme.accent_color, logo=logo,
                                face=printing.theme_font_file(settings))
    right = page[: height // 3, int(width * 0.6):]
    assert ((right[..., 0] < 90) & (right[..., 1] > 150) & (right[..., 2] > 200)).sum() > 500  # the logo's disc

    (tmp_path / "logo.svg").write_text(SVG_LOGO)
    svg = printing.theme_logo(settings.replace("theme", logo="logo.svg"))
    pixels = np.asarray(svg)
    assert svg.height == logo.height and ((pixels[..., 1] > 150) & (pixels[..., 0] < 60)).sum() > 500

    for accent in ("#ff5c8a", "#ffd166", "#00c853", "#1a237e"):
        ink = printing.text_colour_on_paper(accent)
        assert config.contrast(ink, "#ffffff") >= config.TEXT_CONTRAST, accent
    assert printing.theme_font_file(settings).endswith((".ttf", ".otf"))


@pytest.mark.browser
def test_a_themed_kiosk_and_photo_page_show_the_logo_and_pass_axe(themed_booth, browser):
    booth = themed_booth
    port = free_port()
    booth.settings = booth.settings.replace("web", host="127.0.0.1", port=port,
                                            base_url=f"http://127.0.0.1:{port}")
    photo_id = booth.add_photo()
    server = serve(create_app(booth), "127.0.0.1", port, 8)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        url = f"http://127.0.0.1:{port}"
        context = context_for(browser, "en", viewport={"width": 1920, "height": 1080})
        page = context.new_page()
        page.goto(f"{url}/kiosk")
        page.wait_for_function("() => document.body.dataset.connected === 'yes'")
        page.wait_for_function("() => document.querySelector('.k-logo').naturalWidth > 0")
        family = page.evaluate("() => getComputedStyle(document.querySelector('.k-title')).fontFamily")
        assert family.lower().startswith(f'"{booth.settings.theme.font}"'), family
        page.wait_for_timeout(600)
        results = {"themed kiosk idle": violations(page)}
        page.screenshot(path=str(ARTIFACTS / "kiosk-theme-idle-1920x1080.png"))
        booth.events.publish("state", state="result", photo_id=photo_id, until=time.time() + 60)
        page.wait_for_function("() => document.querySelector('.result-logo').naturalWidth > 0 && "
                               "document.getElementById('result-anime').naturalWidth > 0")
        page.wait_for_timeout(800)
        results["themed kiosk result"] = violations(page)
        page.screenshot(path=str(ARTIFACTS / "kiosk-theme-result-1920x1080.png"))
        context.close()

        context = context_for(browser, "en", **PHONE)
        page = context.new_page()
        page.goto(f"{url}/p/{photo_id}")
        page.wait_for_function("() => document.querySelector('.brand .logo').naturalWidth > 0")
        results["themed photo page"] = violations(page)
        page.screenshot(path=str(ARTIFACTS / "phone-theme-photo.png"))
        context.close()
    finally:
        server.close()
    text = "\n".join(report(name, found) for name, found in results.items())
    print("\n" + text)
    assert not any(results.values()), text
