"""The guests' languages: every extracted word translated in every shipped catalog, no
guest-facing word left unmarked, and each screen speaking the language it should.

The catalogs are checked against a fresh ``pybabel extract`` (babel.cfg), so a word
added to a template, a script or a guest-facing module without a translation fails
here. The unmarked-word scans parse the templates (Jinja's own lexer, then an HTML
parser) and the guest-facing modules (Python's AST); each is shown to catch a planted
unmarked word. The pages are rendered by the real app on the real photo store.
"""

from __future__ import annotations

import ast
import html.parser
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from jinja2 import Environment

from booth import PROJECT_ROOT, words
from booth.config import LANGUAGES
from booth.daemon.choices import MODE_LABELS
from booth.daemon.making import MESSAGES
from booth.devices.printing import REASON_WORDS
from booth.errors import UserError
from booth.web import create_app, i18n
from webbooth import scripted_booth

TEMPLATES = PROJECT_ROOT / "booth" / "web" / "templates"
#: The organiser's pages: they speak the organiser's words (English), not the guests'.
ORGANISER_TEMPLATES = {"admin.html", "admin_delete.html", "login.html", "_print_panel.html",
                       "_print_button.html", "_sync_panel.html"}
#: Modules whose sentences reach guests (pages, errors, the privacy text).
GUEST_MODULES = ["booth/web/privacy.py", "booth/web/gallery.py", "booth/web/upload.py",
                 "booth/web/restyle.py", "booth/web/responses.py", "booth/web/captive.py",
                 "booth/web/share.py", "booth/web/i18n.py", "booth/words.py", "booth/daemon/uploads.py"]
#: Calls that mark a word for translation.
MARKERS = {"_", "N_", "gettext", "ngettext", "lazy_gettext", "pgettext"}
PHONE = {"REMOTE_ADDR": "192.168.4.23"}
LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}


# --- the catalogs ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> dict:
    """A fresh extraction of the code's marked words: {msgid: message}."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", "extract",
                    "-F", "babel.cfg", "-o", str(pot), "booth", "weights/manifest.toml"],
                   cwd=PROJECT_ROOT, check=True)
    with pot.open("rb") as f:
        return {m.id: m for m in read_po(f) if m.id}


def catalog(language: str):
    with (words.TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=language)


def test_the_shipped_catalogs_are_the_configs_languages():
    shipped = {p.name for p in words.TRANSLATIONS_DIR.iterdir() if p.is_dir()}
    assert shipped == set(LANGUAGES)


def test_the_committed_template_holds_every_extracted_word(extracted):
    with (words.TRANSLATIONS_DIR / "messages.pot").open("rb") as f:
        committed = {m.id for m in read_po(f) if m.id}
    assert set(extracted) == committed, "run pybabel extract (see babel.cfg) and update the catalogs"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_extracted_word_is_translated_and_none_is_fuzzy(extracted, language):
    messages = {m.id: m for m in catalog(language) if m.id}
    missing = [msgid for msgid in extracted if msgid not in messages]
    assert not missing, f"{language} lacks {missing[:5]}"
    untranslated = [m.id for m in messages.values()
                    if not (all(m.string) if isinstance(m.string, tuple) else m.string)]
    assert not untranslated, f"{language} has no translation for {untranslated[:5]}"
    fuzzy = [m.id for m in messages.values() if m.fuzzy]
    assert not fuzzy, f"{language} has fuzzy translations {fuzzy[:5]}"
    # Placeholders kept (%(name)s), plural forms complete: Babel's own checks.
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog(language).check()]
    assert not problems, problems[:5]


def test_the_words_the_daemon_shows_are_in_the_catalog(extracted):
    shown = set(MESSAGES.values()) | set(MODE_LABELS.values()) | set(REASON_WORDS.values())
    assert shown <= set(extracted), shown - set(extracted)


# --- unmarked words: the templates -------------------------------------------------------
class TextAndLabels(html.parser.HTMLParser):
    """The text a person reads: text nodes and the attributes read aloud or shown."""

    READ = {"alt", "aria-label", "title", "placeholder"}

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skipping += 1
        self.found += [value for name, value in attrs if name in self.READ and value]

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self.found.append(data)


def unmarked_words(source: str) -> list[str]:
    """Words of a template a person reads that are outside ``{{ ... }}``, ``{% trans %}``."""
    env = Environment(extensions=["jinja2.ext.i18n"])
    pieces: list[str] = []
    in_trans = in_block = False
    block: list[str] = []
    for _line, kind, value in env.lex(source):
        if kind == "block_begin":
            in_block, block = True, []
        elif kind == "block_end":
            in_block = False
            if block[:1] == ["trans"]:
                in_trans = True
            elif block[:1] == ["endtrans"]:
                in_trans = False
                pieces.append("\x00")
        elif in_block and kind == "name":
            block.append(value)
        elif kind == "variable_begin":
            pieces.append("\x00")
        elif kind == "data" and not in_trans:
            pieces.append(value)
    parser = TextAndLabels()
    parser.feed("".join(pieces))
    return [w for text in parser.found for w in re.findall(r"[^\W\d_]{2,}", text)]


def guest_templates() -> list[Path]:
    return sorted(p for p in TEMPLATES.glob("*.html") if p.name not in ORGANISER_TEMPLATES)


@pytest.mark.parametrize("template", guest_templates(), ids=lambda p: p.name)
def test_no_guest_template_has_an_unmarked_word(template):
    assert unmarked_words(template.read_text(encoding="utf-8")) == []


def test_the_template_scan_catches_an_unmarked_word():
    assert unmarked_words('<p>{{ _("Smile!") }}</p>') == []
    assert unmarked_words('<p>{% trans %}or press <kbd>Space</kbd>{% endtrans %}</p>') == []
    assert unmarked_words('<p>{{ _("Smile!") }} Look here</p>') == ["Look", "here"]
    assert unmarked_words('<img src="{{ src }}" alt="Your photo">') == ["Your", "photo"]
    assert unmarked_words('{% if x %}<b>Oops</b>{% endif %}') == ["Oops"]


# --- unmarked words: the guest-facing Python -------------------------------------------
def looks_like_a_sentence(text: str) -> bool:
    """Words for a person: at least two words, the first capitalised (log lines and
    keys are lowercase, paths and ids have no spaces)."""
    return bool(re.match(r"[A-Z][a-z']*[ ,:]+\S", text)) and len(re.findall(r"[A-Za-z]{2,}", text)) >= 2


def unmarked_sentences(source: str) -> list[str]:
    """Sentence-like strings of a module that no marking call wraps (docstrings and
    log calls aside)."""
    tree = ast.parse(source)
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip.add(id(first.value))
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            owner = node.func.value.id if (isinstance(node.func, ast.Attribute)
                                           and isinstance(node.func.value, ast.Name)) else ""
            if name in MARKERS or owner == "log":
                skip.update(id(n) for arg in node.args for n in ast.walk(arg))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            if looks_like_a_sentence(node.value):
                found.append(node.value)
    return found


@pytest.mark.parametrize("module", GUEST_MODULES)
def test_no_guest_facing_sentence_is_unmarked(module):
    assert unmarked_sentences((PROJECT_ROOT / module).read_text(encoding="utf-8")) == []


def test_the_python_scan_catches_an_unmarked_sentence():
    marked = 'from booth.words import N_\nabort(404, N_("There is no photo here."))\n'
    assert unmarked_sentences(marked) == []
    assert unmarked_sentences('log.info("Sent the photo %s", x)\n') == []
    assert unmarked_sentences('abort(404, "There is no photo here.")\n') == ["There is no photo here."]
    assert unmarked_sentences('x = f"Deleted after {n} hours"\n') == ["Deleted after "]


# --- compiled at install, or on the fly -------------------------------------------------
def test_catalogs_never_compiled_are_compiled_on_the_fly(tmp_path):
    copy = tmp_path / "translations"
    shutil.copytree(words.TRANSLATIONS_DIR, copy, ignore=shutil.ignore_patterns("*.mo"))
    assert len(words.stale_catalogs(copy)) == len(LANGUAGES)
    words.ensure_compiled(copy)
    assert words.stale_catalogs(copy) == []
    from babel.support import Translations
    assert Translations.load(str(copy), ["ja"]).gettext("Smile!") == "笑って！"


def test_catalogs_that_cannot_be_compiled_say_what_to_run(tmp_path):
    copy = tmp_path / "translations"
    shutil.copytree(words.TRANSLATIONS_DIR / "de", copy / "de", ignore=shutil.ignore_patterns("*.mo"))
    # A .mo that cannot be written (root writes into read-only folders: a folder in its
    # place, older than the catalog, stands in for a read-only checkout).
    blocked = copy / "de" / "LC_MESSAGES" / "messages.mo"
    blocked.mkdir()
    os.utime(blocked, (0, 0))
    with pytest.raises(UserError, match="run .venv/bin/pybabel compile -d booth/translations"):
        words.ensure_compiled(copy)


# --- the pages speak the right language -------------------------------------------------
@pytest.fixture
def make_app(tmp_path, face_photo):
    made = []

    def make(language: str = "en"):
        booth = scripted_booth(tmp_path / f"b{len(made)}", face_photo)
        booth.settings = booth.settings.replace("booth", language=language)
        made.append(booth)
        return booth, create_app(booth)

    yield make
    for booth in made:
        booth.close()


def page(app, url, who=PHONE, **kw) -> str:
    response = app.test_client().get(url, environ_base=who, **kw)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_the_kiosk_speaks_the_booths_language(make_app):
    _booth, app = make_app("ja")
    kiosk = page(app, "/kiosk", who=LOOPBACK, headers={"Accept-Language": "de"})
    assert '<html lang="ja" dir="ltr">' in kiosk
    assert "ボタンを押して！" in kiosk and "Press the button!" not in kiosk
    # The scripts' words and the daemon's come translated in the page, for words.js.
    script_words = json.loads(re.search(r'id="booth-words">(.*?)</script>', kiosk).group(1))
    assert script_words["One at a time — your photo is on its way!"] == "順番にどうぞ。写真はもうすぐです！"
    assert script_words[MESSAGES["error"]] == "うまくいきませんでした。もう一度どうぞ！"
    assert script_words["Anime face"] == "アニメ顔"


def test_arabic_pages_are_right_to_left(make_app):
    _booth, app = make_app("ar")
    assert '<html lang="ar" dir="rtl">' in page(app, "/kiosk", who=LOOPBACK)
    gallery = page(app, "/", headers={"Accept-Language": "ar"})
    assert '<html lang="ar" dir="rtl">' in gallery and "لا توجد صور بعد" in gallery


def test_a_phone_gets_its_own_language_and_dates(make_app):
    booth, app = make_app("en")
    photo_id = booth.add_photo()
    german = page(app, f"/p/{photo_id}", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert '<html lang="de" dir="ltr">' in german and "Dein Anime-Porträt" in german
    created = booth.store.get(photo_id).created
    assert words.local_time(created, "de") in german  # "7. Dez., 18:47"
    assert page(app, "/", headers={"Accept-Language": "zh-CN"}).count("张照片") == 1
    assert "Your anime portrait" in page(app, f"/p/{photo_id}", headers={"Accept-Language": "ko"})


def test_the_switchers_choice_wins_over_the_phones_language(make_app):
    booth, app = make_app("en")
    photo_id = booth.add_photo()
    client = app.test_client()
    chosen = client.get(f"/language/fr?next=/p/{photo_id}", environ_base=PHONE)
    assert chosen.status_code == 303 and chosen.headers["Location"].endswith(f"/p/{photo_id}")
    again = client.get(f"/p/{photo_id}", environ_base=PHONE, headers={"Accept-Language": "de"})
    assert "Votre portrait anime" in again.get_data(as_text=True)
    # The switcher only ever goes back to this booth's own pages.
    assert client.get("/language/fr?next=//evil.example/x",
                      environ_base=PHONE).headers["Location"] in ("/", "http://localhost/")
    assert i18n.COOKIE not in client.get("/language/xx", environ_base=PHONE).headers.get("Set-Cookie", "")


def test_error_pages_and_the_privacy_text_are_translated(make_app):
    _booth, app = make_app("en")
    missing = app.test_client().get("/p/" + "A" * 22, environ_base=PHONE,
                                    headers={"Accept-Language": "es"})
    text = missing.get_data(as_text=True)
    assert missing.status_code == 404 and "Esta foto ya no está" in text
    privacy = page(app, "/privacy", headers={"Accept-Language": "it"})
    assert "Cosa conserva la cabina" in privacy and "What the booth keeps" not in privacy


def test_the_share_page_speaks_the_booths_language(make_app):
    from booth.web.share import share_page

    booth, _app = make_app("ar")
    photo = booth.store.get(booth.add_photo())
    shared = share_page(booth.settings, photo)
    assert '<html lang="ar" dir="rtl">' in shared
    assert "صورتك بأسلوب الأنمي" in shared and words.local_time(photo.created, "ar") in shared


def test_an_upload_refusal_reaches_the_phone_in_its_language(make_app):
    booth, _app = make_app("en")
    booth.settings = booth.settings.replace("upload", enabled=True)
    app = create_app(booth)
    refused = app.test_client().post(
        "/upload", data={"photo": (io.BytesIO(b""), "selfie.jpg")}, environ_base=PHONE,
        headers={"Accept": "application/json", "Accept-Language": "ja"})
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "selfie.jpg：ファイルが空です。"
