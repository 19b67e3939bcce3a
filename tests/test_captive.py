"""The captive portal: each operating system's connectivity check, sent with its own Host
header from a phone's address, gets a redirect to the booth's landing page.

The namespace tests run the real web server (waitress) bound to 10.99.0.1 inside a
network namespace of their own (``unshare -n``), so the booth sees a phone, not the
organiser on loopback, and nothing leaves the namespace. The end-to-end test also runs
dnsmasq there with the drop-in ``booth network apply`` installs: the phone looks the
probe's name up, connects where DNS sent it, and follows the redirect.
"""

from __future__ import annotations

import json
import shutil

import pytest

from booth.devices import network
from booth.web import create_app
from booth.web.captive import LANDING_PATH, PROBE_HOSTS
from netns import BOOTH_ADDRESS, require, run_in_namespace
from webbooth import scripted_booth

PHONE = {"REMOTE_ADDR": "10.42.0.57"}

#: (operating system, host, path, what the OS takes for "online": status and body).
#: Any other answer makes the phone show its "sign in to network" sheet.
PROBES = [
    ("apple", "captive.apple.com", "/hotspot-detect.html", 200, "Success"),
    ("apple-legacy", "www.apple.com", "/library/test/success.html", 200, "Success"),
    ("android", "connectivitycheck.gstatic.com", "/generate_204", 204, ""),
    ("android-fallback", "www.google.com", "/gen_204", 204, ""),
    ("windows", "www.msftconnecttest.com", "/connecttest.txt", 200, "Microsoft Connect Test"),
    ("windows-ncsi", "www.msftncsi.com", "/ncsi.txt", 200, "Microsoft NCSI"),
    ("windows-browser", "www.msftconnecttest.com", "/redirect", 200, ""),
    ("firefox", "detectportal.firefox.com", "/canonical.html", 200, "success"),
    ("firefox-txt", "detectportal.firefox.com", "/success.txt", 200, "success"),
]

HOTSPOT = dict(hotspot=True, ssid="AnimeBooth", password="photos-4-all", country="DE")


def hotspot_booth(tmp_path, face_photo, address="10.42.0.1", **web):
    booth = scripted_booth(tmp_path, face_photo, **web)
    booth.settings = booth.settings.replace("network", address=address, **HOTSPOT)
    return booth


@pytest.fixture
def client(tmp_path, face_photo):
    booth = hotspot_booth(tmp_path, face_photo)
    booth.add_photo()
    yield create_app(booth).test_client()
    booth.close()


# --- the answers, from the app ---------------------------------------------------------

@pytest.mark.parametrize("system, host, path, ok_status, ok_body", PROBES, ids=[p[0] for p in PROBES])
def test_each_connectivity_check_is_sent_to_the_landing_page(client, system, host, path, ok_status, ok_body):
    response = client.get(path, headers={"Host": host}, environ_base=PHONE)
    assert response.status_code == 302
    assert response.headers["Location"] == f"http://10.42.0.1:8080{LANDING_PATH}"
    assert ok_body == "" or ok_body not in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"  # the next check asks again


def test_probe_hosts_cover_every_system_tested():
    assert {host for _, host, *_ in PROBES} <= PROBE_HOSTS


def test_the_redirect_ignores_the_port_case_method_and_path_a_phone_sends(client):
    for host, method, path in [("CAPTIVE.apple.com:80", "GET", "/"), ("captive.apple.com", "HEAD", "/x/y.html"),
                               ("connectivitycheck.gstatic.com", "POST", "/admin"),
                               ("www.msftconnecttest.com", "GET", "/api/photos")]:
        response = client.open(path, method=method, headers={"Host": host}, environ_base=PHONE)
        assert (response.status_code, response.headers.get("Location")) == \
            (302, f"http://10.42.0.1:8080{LANDING_PATH}"), (host, method, path)
        assert b"admin" not in response.data.lower() or method == "HEAD"


def test_other_names_get_no_redirect_and_no_page(client):
    for host in ("evil.example", "captive.apple.com.evil.example", "apple.com"):
        response = client.get("/hotspot-detect.html", headers={"Host": host}, environ_base=PHONE)
        # Refused by the Host check like any foreign name (no page, no redirect).
        assert response.status_code == 421, host
        assert "Location" not in response.headers


def test_without_the_hotspot_the_probe_hosts_are_nothing_special(tmp_path, face_photo):
    booth = scripted_booth(tmp_path, face_photo)
    try:
        client = create_app(booth).test_client()
        response = client.get("/hotspot-detect.html", headers={"Host": "captive.apple.com"}, environ_base=PHONE)
        assert response.status_code == 421 and "Location" not in response.headers
    finally:
        booth.close()


def test_landing_page_shows_the_newest_photos_and_the_way_to_yours(client):
    page = client.get(LANDING_PATH, environ_base=PHONE).get_data(as_text=True)
    assert "Welcome to" in page and "AnimeBooth" in page
    assert page.count('href="/p/') == 1 and 'id="find-your-photo" href="/"' in page


def test_private_gallery_keeps_its_photos_off_the_landing_page(tmp_path, face_photo):
    booth = hotspot_booth(tmp_path, face_photo, gallery_index="private")
    booth.add_photo()
    try:
        client = create_app(booth).test_client()
        page = client.get(LANDING_PATH, environ_base=PHONE).get_data(as_text=True)
        assert 'href="/p/' not in page and "find-your-photo" not in page
        assert "scan the QR code" in page
    finally:
        booth.close()


def test_an_explicit_base_url_is_where_the_checks_are_sent(tmp_path, face_photo):
    booth = hotspot_booth(tmp_path, face_photo, base_url="http://booth.lan:8080")
    try:
        response = create_app(booth).test_client().get(
            "/generate_204", headers={"Host": "connectivitycheck.gstatic.com"}, environ_base=PHONE)
        assert response.headers["Location"] == f"http://booth.lan:8080{LANDING_PATH}"
    finally:
        booth.close()


# --- the answers, over real sockets in a network namespace -----------------------------

#: Runs in the namespace: a scripted booth on 10.99.0.1 and a "phone" asking it.
PHONE_IN_NAMESPACE = r"""
import http.client, json, subprocess, sys, time
from pathlib import Path
sys.path.insert(0, "tests")
from booth.devices import network
from booth.web import create_app, serve
from webbooth import scripted_booth

tmp, photo, address, probes = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
dns_dir = sys.argv[5] if len(sys.argv) > 5 else ""
booth = scripted_booth(tmp, photo)
booth.settings = booth.settings.replace("network", hotspot=True, ssid="AnimeBooth",
                                        password="photos-4-all", country="DE", address=address)
booth.settings = booth.settings.replace("web", host=address, port=8080)
photo_id = booth.add_photo()
server = serve(create_app(booth), address, 8080, 4)
dnsmasq = None
if dns_dir:
    # NetworkManager's shared mode starts dnsmasq like this (DHCP left out).
    dnsmasq = subprocess.Popen(["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
                                "--bind-interfaces", f"--listen-address={address}", "--port=53",
                                "--conf-file=/dev/null", f"--conf-dir={dns_dir}", "--user=root",
                                "--pid-file="])

def ask(connect_to, host, path):
    conn = http.client.HTTPConnection(connect_to, 8080, timeout=10)
    conn.request("GET", path, headers={"Host": host})
    reply = conn.getresponse()
    body = reply.read().decode("utf-8", "replace")
    conn.close()
    return {"status": reply.status, "location": reply.getheader("Location"), "body": body}

out = {"photo_id": photo_id, "probes": []}
try:
    for host, path in probes:
        connect_to = address
        if dnsmasq is not None:
            for _ in range(50):   # dnsmasq needs a moment to listen
                try:
                    found = network.resolve(host, address, timeout=0.5)
                    break
                except OSError:
                    time.sleep(0.1)
            connect_to = found[0]
        answer = ask(connect_to, host, path)
        answer["connected_to"] = connect_to
        if answer["location"]:
            landing = answer["location"].removeprefix("http://")
            target_host, _, target_path = landing.partition("/")
            followed = ask(target_host.split(":")[0], target_host, "/" + target_path)
            answer["landing_status"] = followed["status"]
            answer["landing_body"] = followed["body"]
        out["probes"].append(answer)
finally:
    if dnsmasq is not None:
        dnsmasq.terminate()
        dnsmasq.wait(10)
    server.close()
    booth.close()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def namespace():
    require()


def test_each_check_from_a_phone_address_redirects_to_the_landing_page(namespace, tmp_path, face_photo):
    probes = [[host, path] for _, host, path, *_ in PROBES]
    result = run_in_namespace(PHONE_IN_NAMESPACE, str(tmp_path), str(face_photo), BOOTH_ADDRESS,
                              json.dumps(probes))
    for (system, host, path, ok_status, ok_body), answer in zip(PROBES, result["probes"]):
        assert answer["status"] == 302, (system, answer)
        assert answer["location"] == f"http://{BOOTH_ADDRESS}:8080{LANDING_PATH}", system
        assert (answer["status"], answer["body"]) != (ok_status, ok_body), system
        # The sheet opens the landing page: the newest photo, served to a phone.
        assert answer["landing_status"] == 200, system
        assert f'href="/p/{result["photo_id"]}"' in answer["landing_body"], system


def test_a_phone_finds_the_booth_under_any_name_through_the_hotspot_dns(namespace, tmp_path, face_photo):
    if shutil.which("dnsmasq") is None:
        pytest.fail("dnsmasq is missing: the test set-up installs dnsmasq-base (./install.sh --test)")
    dns_dir = tmp_path / "dnsmasq-shared.d"
    dns_dir.mkdir()
    settings = hotspot_booth(tmp_path / "s", face_photo, address=BOOTH_ADDRESS).settings
    (dns_dir / network.DNSMASQ_DROPIN.name).write_text(network.dnsmasq_dropin(settings.network))
    probes = [["captive.apple.com", "/hotspot-detect.html"],
              ["connectivitycheck.gstatic.com", "/generate_204"],
              ["www.msftconnecttest.com", "/connecttest.txt"],
              ["detectportal.firefox.com", "/canonical.html"]]
    result = run_in_namespace(PHONE_IN_NAMESPACE, str(tmp_path / "b"), str(face_photo), BOOTH_ADDRESS,
                              json.dumps(probes), str(dns_dir))
    for answer in result["probes"]:
        assert answer["connected_to"] == BOOTH_ADDRESS
        assert answer["status"] == 302 and answer["landing_status"] == 200
