"""The booth's own Wi-Fi: a NetworkManager hotspot with a captive portal.

``[network] hotspot = true`` makes the booth the network the guests join, so the QR
codes work at a venue without Wi-Fi and without the internet. ``booth network apply``
(install.sh runs it on a Pi) writes three files and asks NetworkManager to use them::

    /etc/NetworkManager/system-connections/booth-hotspot.nmconnection
        the connection: an access point (WPA2) on [network] interface, shared mode
        (NetworkManager gives phones addresses and runs dnsmasq as their DNS),
        autoconnect, so it comes back after a reboot;
    /etc/NetworkManager/dnsmasq-shared.d/booth-captive.conf
        that dnsmasq answers every name with the booth's address: a phone's
        connectivity check (captive.apple.com, ...) reaches the booth;
    /etc/NetworkManager/dispatcher.d/50-booth-captive
        while the hotspot is up, an nftables rule sends phones' port 80 to the
        booth's web port (the checks use port 80; the booth runs unprivileged).

With ``hotspot = false`` the same command takes the connection down and removes the
three files. ``--dry-run`` prints every file and command and changes nothing.

Port 80: the redirect rather than letting the service bind port 80
(``AmbientCapabilities=CAP_NET_BIND_SERVICE``). The booth decodes photos from
strangers' phones; with the redirect it keeps an empty capability set, only
hotspot clients are redirected (the kiosk and a venue network keep using the web
port), and the rule lives and dies with the connection.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from booth.config import WIFI_CHANNELS_24GHZ, NetworkSettings, Settings
from booth.errors import NetworkError, UserError
from booth.files import fsync_dir, write_atomic

#: NetworkManager's name for the booth's connection (nmcli connection up booth-hotspot).
CONNECTION_ID = "booth-hotspot"
#: A stable UUID: re-running apply rewrites the same connection, never a second one.
CONNECTION_UUID = str(uuid.uuid5(uuid.NAMESPACE_URL, "anime-booth:" + CONNECTION_ID))
#: The nftables table holding the port-80 redirect.
NFT_TABLE = "booth_captive"
#: Where NetworkManager looks for each file (relative to the file system root).
KEYFILE = Path("etc/NetworkManager/system-connections") / f"{CONNECTION_ID}.nmconnection"
DNSMASQ_DROPIN = Path("etc/NetworkManager/dnsmasq-shared.d/booth-captive.conf")
DISPATCHER = Path("etc/NetworkManager/dispatcher.d/50-booth-captive")
#: Where install.sh puts the config on a Pi.
INSTALLED_CONFIG = Path("/etc/booth/config.toml")

_HEADER = "# Written by `booth network apply` from the booth's config ([network]): edits are replaced.\n"


@dataclass(frozen=True)
class ManagedFile:
    """One file apply keeps equal to ``content`` (or absent when ``content`` is None)."""

    path: Path  # relative to the file system root
    content: str | None
    mode: int
    #: What a dry run prints instead of a secret line (the Wi-Fi password).
    shown: str | None = None


# --- the files -------------------------------------------------------------------------

def keyfile_string(value: str) -> str:
    """``value`` escaped for a GKeyFile (NetworkManager's keyfile) string value."""
    out = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    if out.startswith(" "):
        out = "\\s" + out[1:]
    if out.endswith(" "):
        out = out[:-1] + "\\s"
    return out


def ssid_value(ssid: str) -> str:
    """The keyfile's ssid: text when NetworkManager reads it back unchanged, else bytes.

    NetworkManager reads ``ssid=1;2;`` as a list of byte values, so a name with a
    semicolon (or made of digits only) is written as its UTF-8 bytes.
    """
    if ";" in ssid or ssid.isdigit() or "\\" in ssid or ssid != ssid.strip():
        return "".join(f"{b};" for b in ssid.encode("utf-8"))
    return ssid


def band(channel: int) -> str:
    """NetworkManager's band for a channel: "bg" (2.4 GHz) or "a" (5 GHz)."""
    return "bg" if channel in WIFI_CHANNELS_24GHZ else "a"


def keyfile(net: NetworkSettings, psk: str | None = None) -> str:
    """The NetworkManager connection file of the hotspot (``psk`` replaces the password)."""
    return _HEADER + f"""[connection]
id={CONNECTION_ID}
uuid={CONNECTION_UUID}
type=wifi
interface-name={net.interface}
autoconnect=true
autoconnect-priority=100

[wifi]
mode=ap
ssid={ssid_value(net.ssid)}
band={band(net.channel)}
channel={net.channel}
hidden={str(net.hidden).lower()}

[wifi-security]
key-mgmt=wpa-psk
proto=rsn
pairwise=ccmp
group=ccmp
pmf=1
psk={psk if psk is not None else keyfile_string(net.password)}

[ipv4]
method=shared
address1={net.address}/24

[ipv6]
method=disabled
"""


def dnsmasq_dropin(net: NetworkSettings) -> str:
    """dnsmasq options for the hotspot: every name is the booth."""
    return _HEADER + f"""# NetworkManager's shared mode runs dnsmasq as the phones' DNS server: it answers
# every name with the booth's address, so the phones' connectivity checks reach the
# booth and each phone opens its "sign in to network" sheet.
address=/#/{net.address}
"""


def nft_ruleset(net: NetworkSettings, web_port: int) -> str:
    """nftables rules sending hotspot clients' port 80 to the booth's web port."""
    return f"""table ip {NFT_TABLE}
delete table ip {NFT_TABLE}
table ip {NFT_TABLE} {{
	chain prerouting {{
		type nat hook prerouting priority dstnat; policy accept;
		iifname "{net.interface}" tcp dport 80 redirect to :{web_port}
	}}
}}
"""


def dispatcher_script(net: NetworkSettings, web_port: int) -> str:
    """The NetworkManager dispatcher script that adds and removes the port-80 redirect."""
    return f"""#!/bin/sh
{_HEADER}# While the booth's hotspot is up, phones' requests to port 80 (the connectivity
# checks of their operating systems) reach the booth's web port {web_port}: the booth
# itself never needs the right to open port 80.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
[ "$CONNECTION_ID" = "{CONNECTION_ID}" ] || exit 0
case "$2" in
  up)
    nft -f - <<'EOF'
{nft_ruleset(net, web_port)}EOF
    ;;
  pre-down|down)
    nft delete table ip {NFT_TABLE} 2>/dev/null || true
    ;;
esac
exit 0
"""


def managed_files(settings: Settings) -> list[ManagedFile]:
    """What the files should be: present with hotspot = true, absent otherwise."""
    net, port = settings.network, settings.web.port
    if not net.hotspot:
        return [ManagedFile(path, None, 0) for path in (KEYFILE, DNSMASQ_DROPIN, DISPATCHER)]
    shown = keyfile(net, psk=f"<[network] password, {len(net.password)} characters>")
    return [
        # NetworkManager ignores a connection file anyone but root can read.
        ManagedFile(KEYFILE, keyfile(net), 0o600, shown),
        ManagedFile(DNSMASQ_DROPIN, dnsmasq_dropin(net), 0o644),
        # The dispatcher runs only root-owned scripts no one else may write.
        ManagedFile(DISPATCHER, dispatcher_script(net, port), 0o755),
    ]


# --- comparing with the machine ----------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """One change apply makes: a file written or removed, or a command run."""

    action: str  # "write" | "remove" | "run"
    target: str  # a path or a command line
    detail: str = ""  # a written file's content as printed (secrets replaced)


def file_steps(settings: Settings, root: Path) -> list[Step]:
    """The files that differ from what the config asks for."""
    steps = []
    for managed in managed_files(settings):
        path = root / managed.path
        if managed.content is None:
            if path.exists():
                steps.append(Step("remove", str(path)))
            continue
        try:
            same = path.read_text(encoding="utf-8") == managed.content and \
                (path.stat().st_mode & 0o777) == managed.mode
        except (OSError, UnicodeDecodeError):
            same = False
        if not same:
            steps.append(Step("write", str(path), managed.shown or managed.content))
    return steps


def run_quiet(argv: list[str], timeout: float = 20) -> subprocess.CompletedProcess | None:
    """Run a read-only query; None when the program is not installed."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def wifi_country() -> str | None:
    """The Wi-Fi country the radio obeys now (raspi-config's, else the kernel's), or None."""
    if shutil.which("raspi-config") is not None:
        result = run_quiet(["raspi-config", "nonint", "get_wifi_country"])
        return result.stdout.strip().upper() or None if result and result.returncode == 0 else None
    result = run_quiet(["iw", "reg", "get"])
    if result is None or result.returncode != 0:
        return None
    match = re.search(r"^country ([A-Z0-9]{2}):", result.stdout, re.MULTILINE)
    return match.group(1) if match else None


def connection_active(interface: str) -> bool | None:
    """The booth's connection is up on ``interface``; None without nmcli."""
    result = run_quiet(["nmcli", "-t", "-f", "NAME,DEVICE", "connection", "show", "--active"])
    if result is None:
        return None
    return f"{CONNECTION_ID}:{interface}" in result.stdout.splitlines()


def connection_known() -> bool:
    result = run_quiet(["nmcli", "-t", "-f", "NAME", "connection", "show"])
    return result is not None and CONNECTION_ID in result.stdout.splitlines()


def redirect_present() -> bool:
    result = run_quiet(["nft", "list", "table", "ip", NFT_TABLE])
    return result is not None and result.returncode == 0


def plan(settings: Settings, root: Path = Path("/")) -> list[Step]:
    """Every change that makes this machine match ``[network]``, in order."""
    net = settings.network
    files = file_steps(settings, root)
    steps: list[Step] = []
    if net.hotspot:
        if wifi_country() != net.country:
            # raspi-config keeps the country across reboots (and Raspberry Pi OS keeps the
            # Wi-Fi blocked until one is set); elsewhere the kernel is told directly.
            steps.append(Step("run", f"raspi-config nonint do_wifi_country {net.country}"
                              if shutil.which("raspi-config") else f"iw reg set {net.country}"))
        steps += files
        if files or not connection_active(net.interface):
            steps.append(Step("run", "nmcli connection reload"))
            steps.append(Step("run", f"nmcli connection up {CONNECTION_ID}"))
    elif files:
        if connection_known():
            steps.append(Step("run", f"nmcli connection down {CONNECTION_ID}"))
        if redirect_present():
            steps.append(Step("run", f"nft delete table ip {NFT_TABLE}"))
        steps += files
        steps.append(Step("run", "nmcli connection reload"))
    return steps


# --- making the changes ------------------------------------------------------------------

def carry_out(settings: Settings, steps: list[Step], root: Path = Path("/")) -> None:
    """Make the changes of ``steps``; raises :class:`NetworkError` at the first failure."""
    contents = {str(root / m.path): m for m in managed_files(settings)}
    for step in steps:
        if step.action == "write":
            managed = contents[step.target]
            target = Path(step.target)
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target, managed.content or "", managed.mode)
            fsync_dir(target.parent)  # set up, then unplugged: the hotspot's files must be there
        elif step.action == "remove":
            Path(step.target).unlink(missing_ok=True)
        else:
            argv = step.target.split()
            if shutil.which(argv[0]) is None:
                raise NetworkError(f"{argv[0]} is not installed: the hotspot needs NetworkManager "
                                   f"(Raspberry Pi OS Bookworm or later), nftables and iw")
            result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
            ignorable = step.target.startswith(("nmcli connection down", "nft delete"))
            if result.returncode != 0 and not ignorable:
                why = (result.stderr or result.stdout).strip().splitlines()
                raise NetworkError(f"`{step.target}` failed: {why[-1] if why else f'exit {result.returncode}'}")


def describe(settings: Settings) -> str:
    net = settings.network
    if not net.hotspot:
        return "network: [network] hotspot = false: no booth hotspot"
    ghz = "2.4" if band(net.channel) == "bg" else "5"
    return (f'network: hotspot "{net.ssid}" on {net.interface}, channel {net.channel} ({ghz} GHz), '
            f"country {net.country}; the booth is {net.address}, phones open the gallery by themselves")


def format_steps(steps: list[Step], dry_run: bool) -> list[str]:
    lines = []
    verb = "would " if dry_run else ""
    for step in steps:
        if step.action == "run":
            lines.append(f"    {verb}run: {step.target}")
        elif step.action == "remove":
            lines.append(f"    {verb}remove: {step.target}")
        else:
            lines.append(f"    {verb}write: {step.target}")
            lines += [f"        | {line}" for line in step.detail.splitlines()]
    return lines


# --- the phones' view: a DNS question, as a phone on the hotspot asks it --------------

def resolve(name: str, server: str, *, port: int = 53, timeout: float = 2.0) -> list[str]:
    """The IPv4 addresses ``server`` answers for ``name`` (one A query over UDP).

    Raises OSError when the server does not answer, ValueError for a reply that is not
    an answer to this question.
    """
    ident = secrets.randbelow(0x10000)
    question = b"".join(bytes([len(label)]) + label.encode("ascii") for label in name.split(".")) + b"\0"
    query = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + question + struct.pack("!HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(query, (server, port))
        reply, _ = sock.recvfrom(4096)
    got_id, flags, qdcount, ancount = struct.unpack("!HHHH", reply[:8])
    if got_id != ident or not flags & 0x8000:
        raise ValueError("not a reply to this query")
    if flags & 0x000F:
        reason = {2: "server failure", 3: "no such name", 5: "refused"}.get(flags & 0x000F, "error")
        raise ValueError(f"{name}: {reason} (DNS code {flags & 0x000F})")
    offset = 12
    for _ in range(qdcount):
        offset = _skip_name(reply, offset) + 4
    addresses = []
    for _ in range(ancount):
        offset = _skip_name(reply, offset)
        rtype, _rclass, _ttl, length = struct.unpack("!HHIH", reply[offset:offset + 10])
        offset += 10
        if rtype == 1 and length == 4:
            addresses.append(socket.inet_ntoa(reply[offset:offset + 4]))
        offset += length
    return addresses


def _skip_name(message: bytes, offset: int) -> int:
    while True:
        length = message[offset]
        if length == 0:
            return offset + 1
        if length & 0xC0 == 0xC0:  # a pointer ends the name
            return offset + 2
        offset += 1 + length


def interface_addresses(interface: str) -> list[str] | None:
    """The IPv4 addresses of ``interface`` (None when it does not exist or ip is missing)."""
    result = run_quiet(["ip", "-4", "-o", "addr", "show", "dev", interface])
    if result is None or result.returncode != 0:
        return None
    return [line.split()[3].split("/")[0] for line in result.stdout.splitlines() if " inet " in line]


# --- `booth network apply` ---------------------------------------------------------------

def apply(settings: Settings, dry_run: bool = False) -> int:
    """`booth network apply`: make the hotspot ``settings`` describe (or remove it);
    with ``dry_run``, print every change and make none."""
    steps = plan(settings)
    print(describe(settings))
    if not steps:
        print("network: nothing to change")
        return 0
    if not dry_run and os.geteuid() != 0:
        raise UserError("changing the network needs root: sudo booth network apply")
    print("\n".join(format_steps(steps, dry_run)))
    if Step("run", f"nmcli connection up {CONNECTION_ID}") in steps:
        print(f"network: {settings.network.interface} becomes the hotspot and leaves any other Wi-Fi "
              "network (an SSH session over Wi-Fi ends: use Ethernet or the Pi's keyboard)")
    if dry_run:
        print("network: dry run, nothing was changed")
        return 0
    try:
        carry_out(settings, steps)
    except (NetworkError, OSError) as exc:
        raise UserError(str(exc)) from None
    if settings.network.hotspot:
        print(f"network: the hotspot is up; phones join \"{settings.network.ssid}\"")
    else:
        print("network: the booth hotspot is removed")
    return 0
