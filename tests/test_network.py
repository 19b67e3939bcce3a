"""The booth's own Wi-Fi: [network] validation, the files `booth network apply` writes,
and the parts of a hotspot this machine can run for real.

There is no Wi-Fi radio and no NetworkManager here, so ``nmcli`` never runs: the
connection file is checked key by key instead. What runs for real: dnsmasq with the
generated drop-in (in a network namespace of its own), the dispatcher script with
nftables (a second namespace plays the phone, joined by a veth pair named like the
Pi's radio), ``booth network apply --dry-run`` and ``install.sh --pi --dry-run``.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from booth import PROJECT_ROOT, config
from booth.cli import doctor
from booth.devices import network
from booth.errors import ConfigError
from netns import require, run_in_namespace

HOTSPOT_TOML = """[network]
hotspot = true
ssid = "AnimeBooth"
password = "photos-4-all"
country = "DE"
"""


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def hotspot_settings(**network_keys):
    settings = config.from_dict({"network": {"hotspot": True, "ssid": "AnimeBooth",
                                             "password": "photos-4-all", "country": "DE"}})
    return settings.replace("network", **network_keys) if network_keys else settings


def read_keyfile(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, comment_prefixes=("#",))
    parser.optionxform = str  # keyfile keys are case-sensitive
    parser.read_string(text)
    return parser


@pytest.fixture(scope="module")
def namespace():
    require()


# --- [network] ----------------------------------------------------------------------------

def test_defaults_are_the_kiosk_keys_plus_a_hotspot_that_is_off():
    net = config.defaults().network
    assert (net.ssid, net.password, net.hidden, net.hotspot) == ("", "", False, False)
    assert (net.channel, net.country, net.address, net.interface) == (6, "", "10.42.0.1", "wlan0")


@pytest.mark.parametrize("line, message", [
    ('password = "short"', '[network] password must be 8..63 plain ASCII characters when hotspot = true (WPA2)'),
    ('password = "' + "x" * 64 + '"', "[network] password must be 8..63"),
    ('country = "de"', '[network] country must be a two-letter code in capitals, like "DE" or "US"'),
    ('ssid = ""', "[network] ssid must be set when hotspot = true"),
    ("channel = 14", "[network] channel must be 1..13 (2.4 GHz) or 36, 40, 44, 48 (5 GHz)"),
    ("channel = 52", "[network] channel must be 1..13"),
    ('address = "8.8.8.8"', '[network] address must be a private IPv4 address like "10.42.0.1"'),
])
def test_bad_hotspot_settings_are_one_line_naming_the_key(tmp_path, line, message):
    key = line.split(" =")[0]
    lines = [kept for kept in HOTSPOT_TOML.splitlines() if not kept.startswith(key + " ")] + [line]
    path = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as info:
        config.load(path)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{path}:{len(lines)}: {message}"), text  # the line of the bad key
    assert "photos-4-all" not in text  # a config error never prints the password


def test_without_country_the_error_points_at_the_section(tmp_path):
    path = write(tmp_path, HOTSPOT_TOML.replace('country = "DE"\n', ""))
    with pytest.raises(ConfigError, match=r":1: \[network\] country is required when hotspot = true: "
                                          r'the two-letter code .*\(e\.g\. "DE"\)'):
        config.load(path)


def test_a_venue_network_needs_no_hotspot_keys(tmp_path):
    settings = config.load(write(tmp_path, '[network]\nssid = "Venue Guests"\npassword = ""\n'))
    assert settings.network.ssid == "Venue Guests" and not settings.network.hotspot


def test_qr_codes_follow_the_hotspot_address():
    from booth import qr

    settings = hotspot_settings(address="10.42.7.1")
    assert qr.base_url(settings) == "http://10.42.7.1:8080"
    assert not qr.base_url_is_detected(settings)
    assert qr.photo_url(settings, "x" * 22) == "http://10.42.7.1:8080/p/" + "x" * 22
    explicit = settings.replace("web", base_url="http://booth.lan")
    assert qr.base_url(explicit) == "http://booth.lan"
    assert qr.base_url_is_detected(config.defaults())


# --- the NetworkManager connection file ---------------------------------------------------

def test_keyfile_is_a_wpa2_access_point_in_shared_mode_that_autoconnects():
    text = network.keyfile(hotspot_settings().network)
    kf = read_keyfile(text)
    assert dict(kf["connection"]) == {
        "id": "booth-hotspot", "uuid": network.CONNECTION_UUID, "type": "wifi",
        "interface-name": "wlan0", "autoconnect": "true", "autoconnect-priority": "100"}
    assert dict(kf["wifi"]) == {"mode": "ap", "ssid": "AnimeBooth", "band": "bg", "channel": "6",
                                "hidden": "false"}
    assert dict(kf["wifi-security"]) == {"key-mgmt": "wpa-psk", "proto": "rsn", "pairwise": "ccmp",
                                         "group": "ccmp", "pmf": "1", "psk": "photos-4-all"}
    assert dict(kf["ipv4"]) == {"method": "shared", "address1": "10.42.0.1/24"}
    assert dict(kf["ipv6"]) == {"method": "disabled"}


def test_keyfile_follows_channel_band_hidden_interface_and_address():
    kf = read_keyfile(network.keyfile(hotspot_settings(channel=36, hidden=True, interface="wlan1",
                                                       address="192.168.50.1").network))
    assert (kf["wifi"]["band"], kf["wifi"]["channel"], kf["wifi"]["hidden"]) == ("a", "36", "true")
    assert kf["connection"]["interface-name"] == "wlan1"
    assert kf["ipv4"]["address1"] == "192.168.50.1/24"


def unescape_keyfile(value: str) -> str:
    """GKeyFile's string escapes, read back as NetworkManager reads them."""
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            out.append({"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}[value[i + 1]])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


@pytest.mark.parametrize("password", [" starts with a space", "ends with a space ", r"back\slash;semi#hash"])
def test_passwords_survive_the_keyfile_escapes(password):
    kf = read_keyfile(network.keyfile(hotspot_settings(password=password).network))
    assert unescape_keyfile(kf["wifi-security"]["psk"]) == password


@pytest.mark.parametrize("ssid", ["Booth;Party", "2026", "Café Booth", " spaced "])
def test_awkward_names_are_written_so_networkmanager_reads_them_back(ssid):
    value = read_keyfile(network.keyfile(hotspot_settings(ssid=ssid).network))["wifi"]["ssid"]
    if value.endswith(";"):  # a list of byte values
        assert bytes(int(b) for b in value.rstrip(";").split(";")).decode("utf-8") == ssid
    else:
        assert value == ssid and ";" not in ssid and not ssid.isdigit()


def test_networkmanager_reads_the_keyfile_back():
    """nmcli's offline mode (NetworkManager 1.48 and later) parses a keyfile without the
    daemon or a radio: it must read every key back as written."""
    if shutil.which("nmcli") is None:
        pytest.skip("nmcli is not installed (NetworkManager needs a Wi-Fi radio to run a hotspot, and "
                    "there is none here): the connection file is checked key by key above instead")
    probe = subprocess.run(["nmcli", "--offline", "--version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("this nmcli has no --offline mode (NetworkManager < 1.48) and no Wi-Fi radio to "
                    "load the connection on: the connection file is checked key by key above instead")
    written = network.keyfile(hotspot_settings().network)
    result = subprocess.run(["nmcli", "--offline", "connection", "modify", "connection.autoconnect", "yes"],
                            input=written, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    ours, theirs = read_keyfile(written), read_keyfile(result.stdout)
    # NetworkManager leaves out keys at their defaults (autoconnect=true, hidden=false...).
    for section, key in [("connection", "id"), ("connection", "uuid"), ("connection", "interface-name"),
                         ("wifi", "mode"), ("wifi", "ssid"), ("wifi", "band"), ("wifi", "channel"),
                         ("wifi-security", "key-mgmt"), ("wifi-security", "psk"), ("ipv4", "method"),
                         ("ipv4", "address1")]:
        assert theirs[section][key] == ours[section][key], (section, key)


def test_dnsmasq_dropin_answers_every_name_with_the_booth():
    text = network.dnsmasq_dropin(hotspot_settings().network)
    options = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert options == ["address=/#/10.42.0.1"]


# --- booth network apply ------------------------------------------------------------------

def test_apply_writes_the_files_with_safe_modes_and_then_has_nothing_left_to_do(tmp_path):
    settings = hotspot_settings()
    steps = network.file_steps(settings, tmp_path)
    assert [Path(s.target).relative_to(tmp_path) for s in steps] == \
        [network.KEYFILE, network.DNSMASQ_DROPIN, network.DISPATCHER]
    network.carry_out(settings, steps, tmp_path)
    modes = {path: (tmp_path / path).stat().st_mode & 0o777
             for path in (network.KEYFILE, network.DNSMASQ_DROPIN, network.DISPATCHER)}
    assert modes == {network.KEYFILE: 0o600, network.DNSMASQ_DROPIN: 0o644, network.DISPATCHER: 0o755}
    assert (tmp_path / network.KEYFILE).read_text() == network.keyfile(settings.network)
    assert network.file_steps(settings, tmp_path) == []
    assert not list((tmp_path / network.KEYFILE).parent.glob(".*"))  # no temporary file left

    moved = settings.replace("network", channel=11)
    (changed,) = network.file_steps(moved, tmp_path)
    assert changed.target == str(tmp_path / network.KEYFILE)

    off = settings.replace("network", hotspot=False)
    removals = network.file_steps(off, tmp_path)
    assert {s.action for s in removals} == {"remove"} and len(removals) == 3
    network.carry_out(off, removals, tmp_path)
    assert not (tmp_path / network.KEYFILE).exists() and network.file_steps(off, tmp_path) == []


def test_plan_connects_after_writing_and_disconnects_before_removing(tmp_path):
    settings = hotspot_settings()
    steps = network.plan(settings, tmp_path)
    runs = [s.target for s in steps if s.action == "run"]
    assert runs[-2:] == ["nmcli connection reload", "nmcli connection up booth-hotspot"]
    assert any(r.endswith("do_wifi_country DE") or r == "iw reg set DE" for r in runs)
    writes = [i for i, s in enumerate(steps) if s.action == "write"]
    assert max(writes) < steps.index(network.Step("run", "nmcli connection reload"))
    network.carry_out(settings, [s for s in steps if s.action == "write"], tmp_path)
    off = network.plan(settings.replace("network", hotspot=False), tmp_path)
    assert [s.action for s in off][-1] == "run" and off[-1].target == "nmcli connection reload"
    assert [s.action for s in off].count("remove") == 3


def test_every_file_written_is_synced_with_its_folder(tmp_path, monkeypatch):
    """Set up, then unplugged at once: the hotspot's files must be on the card by name."""
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.path.realpath(f"/proc/self/fd/{fd}")),
                                                 real_fsync(fd))[1])
    settings = hotspot_settings()
    writes = [s for s in network.plan(settings, tmp_path) if s.action == "write"]
    network.carry_out(settings, writes, tmp_path)
    assert writes and all(str(Path(s.target).parent.resolve()) in synced for s in writes)


def booth_cli(*args: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "booth", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd)


def test_dry_run_prints_every_change_hides_the_password_and_changes_nothing(tmp_path):
    path = write(tmp_path, HOTSPOT_TOML)
    before = Path("/etc/NetworkManager").exists()
    result = booth_cli("network", "apply", "--dry-run", "--config", str(path))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.splitlines()[0] == ('network: hotspot "AnimeBooth" on wlan0, channel 6 (2.4 GHz), country DE; '
                                   "the booth is 10.42.0.1, phones open the gallery by themselves")
    for target in (network.KEYFILE, network.DNSMASQ_DROPIN, network.DISPATCHER):
        assert f"    would write: /{target}\n" in out
    for line in ("        | mode=ap", "        | method=shared", "        | address=/#/10.42.0.1",
                 '        | 		iifname "wlan0" tcp dport 80 redirect to :8080',
                 "        | psk=<[network] password, 12 characters>",
                 "    would run: nmcli connection up booth-hotspot"):
        assert line + "\n" in out, line
    assert "photos-4-all" not in out
    assert out.rstrip().endswith("network: dry run, nothing was changed")
    assert Path("/etc/NetworkManager").exists() == before


def test_hotspot_off_with_nothing_installed_changes_nothing(tmp_path):
    result = booth_cli("network", "apply", "--config", str(write(tmp_path, "[network]\nhotspot = false\n")))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["network: [network] hotspot = false: no booth hotspot",
                                          "network: nothing to change"]


def test_a_bad_config_is_one_line(tmp_path):
    result = booth_cli("network", "apply", "--dry-run",
                       "--config", str(write(tmp_path, HOTSPOT_TOML.replace("photos-4-all", "short"))))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().endswith("[network] password must be 8..63 plain ASCII characters "
                                          "when hotspot = true (WPA2)")


# --- real dnsmasq and nftables in network namespaces ----------------------------------------

#: Runs in the namespace: dnsmasq as NetworkManager starts it, with the generated drop-in;
#: a veth interface named like the radio holds the booth's address; doctor's checks run.
DNS_IN_NAMESPACE = r"""
import json, subprocess, sys, time
from booth import config
from booth.cli import doctor
from booth.devices import network

address, conf_dir, names = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
settings = config.from_dict({"network": {"hotspot": True, "ssid": "AnimeBooth", "password": "photos-4-all",
                                         "country": "DE", "address": address, "interface": "wlan0"}})
subprocess.run(["ip", "link", "add", "wlan0", "type", "veth", "peer", "name", "phone0"], check=True)
for device in ("wlan0", "phone0"):
    subprocess.run(["ip", "link", "set", device, "up"], check=True)
subprocess.run(["ip", "addr", "add", address + "/24", "dev", "wlan0"], check=True)
dnsmasq = subprocess.Popen(["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
                            "--bind-interfaces", f"--listen-address={address}", "--port=53",
                            "--conf-file=/dev/null", f"--conf-dir={conf_dir}", "--user=root", "--pid-file="])
out = {"answers": {}}
try:
    for _ in range(50):
        try:
            network.resolve("ready.check", address, timeout=0.5)
            break
        except ValueError:  # an answer all the same: dnsmasq is listening
            break
        except OSError:
            time.sleep(0.1)
    for name in names:
        try:
            out["answers"][name] = network.resolve(name, address)
        except (OSError, ValueError) as exc:
            out["answers"][name] = str(exc)
    out["doctor"] = [doctor.check_hotspot_address(settings, "FAIL").__dict__,
                     doctor.check_hotspot_dns(settings).__dict__]
finally:
    dnsmasq.terminate()
    dnsmasq.wait(10)
out["doctor_without_dns"] = doctor.check_hotspot_dns(settings).__dict__
print(json.dumps(out))
"""


def test_dnsmasq_with_the_dropin_answers_any_name_with_the_booth(namespace, tmp_path):
    if shutil.which("dnsmasq") is None:
        pytest.fail("dnsmasq is missing: the test set-up installs dnsmasq-base (./install.sh --test)")
    address = "10.42.0.1"
    conf_dir = tmp_path / "dnsmasq-shared.d"
    conf_dir.mkdir()
    (conf_dir / network.DNSMASQ_DROPIN.name).write_text(network.dnsmasq_dropin(hotspot_settings().network))
    names = ["captive.apple.com", "connectivitycheck.gstatic.com", "www.msftconnecttest.com",
             "detectportal.firefox.com", "www.example.org", "photos", "x.y.z.booth.test",
             f"random-{os.urandom(4).hex()}.com"]
    result = run_in_namespace(DNS_IN_NAMESPACE, address, str(conf_dir), json.dumps(names))
    assert result["answers"] == {name: [address] for name in names}
    address_check, dns_check = result["doctor"]
    assert (address_check["status"], address_check["message"]) == ("PASS", "wlan0 has 10.42.0.1")
    assert (dns_check["status"], dns_check["message"]) == \
        ("PASS", "DNS on 10.42.0.1 answers every name with the booth")
    assert result["doctor_without_dns"]["status"] == "FAIL"
    assert result["doctor_without_dns"]["message"].startswith("no DNS answer from 10.42.0.1")


def test_without_the_dropin_dnsmasq_does_not_answer_with_the_booth(namespace, tmp_path):
    """The test above can fail: the same dnsmasq without the drop-in knows no names."""
    conf_dir = tmp_path / "empty.d"
    conf_dir.mkdir()
    result = run_in_namespace(DNS_IN_NAMESPACE, "10.42.0.1", str(conf_dir), json.dumps(["captive.apple.com"]))
    assert result["answers"]["captive.apple.com"] != ["10.42.0.1"]
    assert result["doctor"][1]["status"] == "FAIL"


#: Runs in the booth's namespace; a second namespace is the phone, joined to the booth by
#: a veth pair whose booth end is called wlan0 like the Pi's radio. The files come from
#: `booth network apply` (written under a scratch root); NetworkManager's parts are played
#: by hand: the address on wlan0, dnsmasq with the drop-in, the dispatcher's up and down.
HOTSPOT_WITHOUT_RADIO = r"""
import json, os, subprocess, sys, time
from pathlib import Path
sys.path.insert(0, "tests")
from booth.devices import network
from booth.web import create_app, serve
from webbooth import scripted_booth

tmp, photo = Path(sys.argv[1]), Path(sys.argv[2])
root = tmp / "root"
booth = scripted_booth(tmp, photo)
booth.settings = booth.settings.replace("network", hotspot=True, ssid="AnimeBooth", password="photos-4-all",
                                        country="DE")
booth.settings = booth.settings.replace("web", host="0.0.0.0", port=8080)
photo_id = booth.add_photo()
network.carry_out(booth.settings, network.file_steps(booth.settings, root), root)

def sh(*argv):
    subprocess.run(argv, check=True, capture_output=True, text=True)

phone = subprocess.Popen(["unshare", "-n", "sleep", "300"])
own_ns = os.readlink("/proc/self/ns/net")
while not os.path.exists(f"/proc/{phone.pid}/ns/net") or os.readlink(f"/proc/{phone.pid}/ns/net") == own_ns:
    time.sleep(0.02)
sh("ip", "link", "add", "wlan0", "type", "veth", "peer", "name", "phone0", "netns", str(phone.pid))
sh("ip", "addr", "add", "10.42.0.1/24", "dev", "wlan0")
sh("ip", "link", "set", "wlan0", "up")
sh("nsenter", "-t", str(phone.pid), "-n", "sh", "-c",
   "ip link set lo up && ip addr add 10.42.0.57/24 dev phone0 && ip link set phone0 up")
dnsmasq = subprocess.Popen(["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--bind-interfaces",
                            "--listen-address=10.42.0.1", "--port=53", "--conf-file=/dev/null",
                            f"--conf-dir={root / network.DNSMASQ_DROPIN.parent}", "--user=root", "--pid-file="])
server = serve(create_app(booth), "0.0.0.0", 8080, 4)

PHONE = '''
import http.client, json, sys, time
from booth.devices import network
for _ in range(50):
    try:
        found = network.resolve("captive.apple.com", "10.42.0.1", timeout=0.5)
        break
    except OSError:
        time.sleep(0.1)
out = {"dns": found}
try:
    conn = http.client.HTTPConnection(found[0], 80, timeout=5)
    conn.request("GET", "/hotspot-detect.html", headers={"Host": "captive.apple.com"})
    reply = conn.getresponse()
    out["probe"] = [reply.status, reply.getheader("Location")]
    target = reply.getheader("Location").removeprefix("http://")
    host, _, path = target.partition("/")
    conn = http.client.HTTPConnection(*host.split(":"), timeout=5)
    conn.request("GET", "/" + path, headers={"Host": host})
    reply = conn.getresponse()
    out["landing"] = [reply.status, reply.read().decode()]
except OSError as exc:
    out["probe"] = type(exc).__name__
print(json.dumps(out))
'''

def from_phone():
    result = subprocess.run(["nsenter", "-t", str(phone.pid), "-n", sys.executable, "-c", PHONE],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)

def dispatcher(connection, action):
    env = dict(os.environ, CONNECTION_ID=connection)
    subprocess.run(["sh", str(root / network.DISPATCHER), "wlan0", action], env=env, check=True)
    return subprocess.run(["nft", "list", "table", "ip", network.NFT_TABLE], capture_output=True).returncode == 0

out = {"photo_id": photo_id}
try:
    out["before"] = from_phone()
    out["other_connection_table"] = dispatcher("Venue Wi-Fi", "up")
    out["up_table"] = dispatcher("booth-hotspot", "up")
    out["up_again_table"] = dispatcher("booth-hotspot", "up")
    out["up"] = from_phone()
    out["down_table"] = dispatcher("booth-hotspot", "down")
    out["down"] = from_phone()
finally:
    phone.kill()
    dnsmasq.terminate()
    dnsmasq.wait(10)
    server.close()
    booth.close()
print(json.dumps(out))
"""


def test_a_phone_on_the_hotspot_reaches_the_landing_page_through_port_80(namespace, tmp_path, face_photo):
    for tool in ("dnsmasq", "nft", "nsenter"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: the test set-up installs dnsmasq-base and nftables "
                        "(./install.sh --test)")
    result = run_in_namespace(HOTSPOT_WITHOUT_RADIO, str(tmp_path), str(face_photo))
    # Before the dispatcher's rule: DNS already points at the booth, port 80 is closed.
    assert result["before"] == {"dns": ["10.42.0.1"], "probe": "ConnectionRefusedError"}
    assert result["other_connection_table"] is False  # another connection's "up" adds nothing
    assert result["up_table"] is True and result["up_again_table"] is True  # idempotent
    up = result["up"]
    assert up["dns"] == ["10.42.0.1"]
    assert up["probe"] == [302, "http://10.42.0.1:8080/welcome"]
    status, page = up["landing"]
    assert status == 200 and f'href="/p/{result["photo_id"]}"' in page
    assert result["down_table"] is False
    assert result["down"]["probe"] == "ConnectionRefusedError"


# --- the docs show what apply writes ------------------------------------------------------

def _blocks(text: str, fence: str) -> list[str]:
    """The contents of every ``` fence block, indentation removed."""
    import re
    import textwrap

    return [textwrap.dedent(body) for body in
            re.findall(rf"^[ ]*```{fence}\n(.*?)^[ ]*```", text, re.MULTILINE | re.DOTALL)]


def test_the_docs_show_the_files_apply_writes_for_their_own_example():
    # The example is the first-event checklist's; the Wi-Fi page shows what it writes.
    text = "\n".join((PROJECT_ROOT / "docs" / page).read_text(encoding="utf-8")
                     for page in ("first-event.md", "wifi.md"))
    (example,) = [block for block in _blocks(text, "toml") if block.startswith("[network]\nhotspot = true")]
    settings = config.from_dict(__import__("tomllib").loads(example))
    keyfile_block, dropin_block = _blocks(text, "ini")
    assert keyfile_block == network.keyfile(settings.network)
    assert dropin_block == network.dnsmasq_dropin(settings.network)
    for managed in network.managed_files(settings):
        assert f"`/{managed.path}`" in text


# --- booth doctor -------------------------------------------------------------------------

def test_doctor_says_how_to_set_up_a_hotspot_that_is_not_there(tmp_path):
    settings = hotspot_settings(interface="nowifi9")
    connection = doctor.check_hotspot_connection(settings, "FAIL", tmp_path)
    assert connection.status == "FAIL" and connection.fix == "sudo booth network apply"
    assert connection.message == ("the hotspot is not set up as [network] says (booth-hotspot.nmconnection, "
                                  "booth-captive.conf, 50-booth-captive)")
    network.carry_out(settings, network.file_steps(settings, tmp_path), tmp_path)
    connection = doctor.check_hotspot_connection(settings, "WARN", tmp_path)
    if shutil.which("nmcli") is None:
        assert connection.status == "WARN" and connection.message.startswith("nmcli not found")
    address = doctor.check_hotspot_address(settings, "WARN")
    assert (address.status, address.message) == ("WARN", "there is no network interface nowifi9")


def test_doctor_warns_about_a_hotspot_left_behind_and_is_silent_without_one(tmp_path):
    on = hotspot_settings()
    off = on.replace("network", hotspot=False)
    assert doctor.check_network(off, True, tmp_path) == []
    network.carry_out(on, network.file_steps(on, tmp_path), tmp_path)
    (leftover,) = doctor.check_network(off, True, tmp_path)
    assert (leftover.name, leftover.status, leftover.fix) == \
        ("hotspot", "WARN", "sudo booth network apply (removes it)")
