"""Every route's query parameters, fuzzed: odd numbers and odd bytes get a 4xx with a
sentence, never a 500 (a 500 writes a traceback to the journal, unthrottled).

Hypothesis draws the values (any text, raw bytes that are not UTF-8, five-thousand
digit numbers, superscript and Arabic-Indic digits) for the parameters the views read
and for names they do not, on every GET route, as a phone and as the organiser.
"""

from __future__ import annotations

import tempfile
from urllib.parse import quote_from_bytes

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from booth.web import create_app
from booth.web.contract import get_booth
from webbooth import ScriptedBooth, scripted_booth

PHONE = {"REMOTE_ADDR": "192.168.4.23"}
ORGANISER = {"REMOTE_ADDR": "127.0.0.1"}
NAMES = ["page", "limit", "offset", "download", "next", "csrf", "password"]
#: Text a number parser meets in the wild: Unicode digits and exponents as well.
NUMBERISH = st.one_of(
    st.integers(min_value=-10**12, max_value=10**12).map(str),
    # str.isdigit() is true for all of these, int() takes only some
    st.text(alphabet="0123456789²³¹٣०१１", min_size=1, max_size=12),
    st.text(alphabet="0123456789e+-. _\u00a0", max_size=40),
    st.integers(min_value=1, max_value=6000).map(lambda n: "9" * n),
)
VALUES = st.one_of(NUMBERISH, NUMBERISH,
                   st.text(max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass")),
                   st.binary(max_size=60))


def encode(value: str | bytes) -> str:
    data = value.encode("utf-8") if isinstance(value, str) else value
    return quote_from_bytes(data, safe="")


@pytest.fixture(scope="module")
def app_and_urls(tmp_path_factory, photos):
    booth = scripted_booth(tmp_path_factory.mktemp("fuzz"), photos / "faces" / "18f_edwin_torres.jpg",
                           admin_password="s3cret-admin")
    booth.settings = booth.settings.replace("upload", enabled=True)
    photo_id = booth.add_photo()
    app = create_app(booth)
    urls = get_routes()
    assert booth.store.get(photo_id) is not None
    yield app, urls
    booth.close()


def test_every_get_route_is_fuzzed(app_and_urls):
    _, urls = app_and_urls
    # The list is built from the app's own rules: a new route is fuzzed without a change here.
    for expected in ("/", "/api/photos", "/admin/", "/kiosk", "/healthz", "/upload", "/metrics"):
        assert any(url.rstrip("/") == expected.rstrip("/") for url in urls), expected


def get_routes() -> list[str]:
    """Every GET route of the app, with sample values for its path arguments."""
    from booth.config import Settings

    with tempfile.TemporaryDirectory() as folder:  # the routes are listed before any fixture
        settings = Settings().replace("booth", data_dir=folder).replace("upload", enabled=True)
        booth = ScriptedBooth(settings, np.zeros((8, 8, 3), np.uint8))
        try:
            app = create_app(booth)
        finally:
            booth.close()
    values = {"photo_id": "A" * 22, "name": "anime.jpg", "kind": "svg", "ticket": "A" * 22, "style": "cute",
              "filename": "booth.css", "index": 1, "language": "en", "number": 3,
              "code": "de"}
    adapter = app.url_map.bind("localhost")

    def value(rule, arg):  # a name the route's own list allows (any(...)), else the sample
        items = getattr(rule._converters[arg], "items", None)
        return values[arg] if not items or values[arg] in items else sorted(items)[0]

    return sorted({adapter.build(rule.endpoint, {arg: value(rule, arg) for arg in rule.arguments})
                   for rule in app.url_map.iter_rules() if "GET" in rule.methods})


@pytest.mark.parametrize("route", get_routes())
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_query_string_gives_a_5xx(app_and_urls, route, data):
    app, urls = app_and_urls
    with app.app_context():
        photo_id = get_booth().store.list(limit=1)[0].id
    url = route.replace("A" * 22, photo_id, 1) if "/p/" in route else route
    names = data.draw(st.lists(st.one_of(st.sampled_from(NAMES), st.sampled_from(NAMES),
                                         st.text(min_size=1, max_size=8)),
                               min_size=1, max_size=3), label="names")
    query = "&".join(f"{encode(name)}={encode(data.draw(VALUES, label=name))}" for name in names)
    who = data.draw(st.sampled_from([PHONE, ORGANISER]), label="who")
    if url == "/events" and who is ORGANISER:
        who = PHONE  # the organiser's stream never ends; the query is read the same way
    response = app.test_client().get(f"{url}?{query}", environ_base=who)
    try:
        assert response.status_code < 500, (url, query, response.status_code, response.get_data()[:200])
        if response.status_code == 400:
            assert b"Traceback" not in response.get_data()
    finally:
        response.close()


@pytest.mark.parametrize("query", ["page=%C2%B2", "page=" + "9" * 5000, "page=-1", "page=+1", "page=1e3",
                                   "page=%D9%A3", "page=%20%201", "page=0"])
@pytest.mark.parametrize("path", ["/", "/admin/"])
def test_odd_page_numbers_are_a_400_with_a_sentence(app_and_urls, path, query):
    app, _ = app_and_urls
    response = app.test_client().get(f"{path}?{query}", environ_base=ORGANISER)
    assert response.status_code == 400
    assert "page must be a whole number from 1 to 100000" in response.get_data(as_text=True)


@pytest.mark.parametrize("query", ["limit=%C2%B2", "offset=" + "1" * 5000, "limit=%EF%BC%95"])
def test_odd_api_numbers_are_a_400_in_json(app_and_urls, query):
    app, _ = app_and_urls
    response = app.test_client().get(f"/api/photos?{query}", environ_base=PHONE)
    assert response.status_code == 400 and response.is_json
    assert response.json["error"].split(" must be a whole number from ")[0] in ("limit", "offset")
