"""Config: defaults documented in config.toml, strict validation with one-line errors."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tomllib

import pytest

from booth import config


def test_config_toml_documents_exactly_the_defaults():
    data = tomllib.loads(config.DEFAULT_CONFIG_PATH.read_text())
    defaults = config.defaults()
    assert set(data) == set(config.SECTIONS)
    for section, table in data.items():
        expected = dataclasses.asdict(getattr(defaults, section))
        assert table == expected, f"config.toml [{section}] differs from booth/config.py defaults"
    assert config.load() == defaults


def test_every_key_in_config_toml_has_a_comment():
    lines = config.DEFAULT_CONFIG_PATH.read_text().splitlines()
    for i, line in enumerate(lines):
        if "=" in line and not line.lstrip().startswith("#"):
            assert lines[i - 1].lstrip().startswith("#") or "=" in lines[i - 1], f"undocumented: {line}"


@pytest.mark.parametrize("text, expected", [
    ('[button]\npin = "seventeen"\n', 'cfg.toml:2: [button] pin: expected an integer, got \'seventeen\''),
    ('[button]\npin = 99\n', "cfg.toml:2: [button] pin must be a BCM GPIO number 0..27"),
    ('[camera]\nbakend = "folder"\n', "cfg.toml:2: [camera] unknown key 'bakend'"),
    ('[kamera]\n', "cfg.toml:1: unknown section [kamera]"),
    ('[web]\nport = 8080\nport = 9090\n', "cfg.toml: not valid TOML"),
    ('[generator]\nsizes = [384, 500]\n', "cfg.toml:2: [generator] sizes: 500 is not a multiple of 8"),
    ('[web]\ngallery_index = "secret"\n', 'cfg.toml:2: [web] gallery_index must be "public" or "private"'),
    ('[cycle]\ncountdown_s = true\n', "cfg.toml:2: [cycle] countdown_s: expected an integer, got True"),
    ('[network]\nssid = "Booth"\npassword = "short"\n',
     "cfg.toml:3: [network] password must be 8..63 characters (WPA) or empty"),
    ('[network]\npassword = "long enough"\n', "cfg.toml:2: [network] password and hidden need an ssid"),
    ('[booth]\nlanguage = "klingon"\n',
     "cfg.toml:2: [booth] language must be one of en, de, fr, es, it, pt, ja, zh_Hans, ar"),
])
def test_bad_config_is_one_line_naming_the_key(tmp_path, monkeypatch, text, expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cfg.toml").write_text(text)
    with pytest.raises(config.ConfigError) as err:
        config.load("cfg.toml")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(expected), message


def test_a_retired_key_from_an_older_install_warns_and_loads(tmp_path, caplog):
    """An upgrade keeps the organiser's config.toml: a key an earlier release wrote must
    not stop the booth (it did: [styles] face_scene on an emulated Pi's re-install)."""
    path = tmp_path / "c.toml"
    path.write_text('[styles]\ndefault = "cute"\nface_scene = "cute"\n')
    with caplog.at_level("WARNING", logger="booth.config"):
        settings = config.load(path)
    assert settings.styles.default == "cute"
    assert "c.toml:3: [styles] face_scene is no longer used" in caplog.text
    path.write_text('[styles]\nface_scenes = "cute"\n')  # a misspelt key is still refused
    with pytest.raises(config.ConfigError, match="unknown key 'face_scenes'"):
        config.load(path)


def test_partial_config_keeps_other_defaults(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[button]\npin = 27\n[booth]\ndata_dir = "state"\n')
    settings = config.load(path)
    assert settings.button.pin == 27
    assert settings.button.bounce_time == config.defaults().button.bounce_time
    assert settings.data_dir == tmp_path / "state"


def test_config_check_command(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text("[web]\nport = 9000\n")
    bad = tmp_path / "bad.toml"
    bad.write_text("[web]\nport = 0\n")
    ok = subprocess.run([sys.executable, "-m", "booth", "config", "check", str(good)],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "ok" in ok.stdout
    fail = subprocess.run([sys.executable, "-m", "booth", "config", "check", str(bad)],
                          capture_output=True, text=True)
    assert fail.returncode == 2
    assert fail.stderr.strip().count("\n") == 0 and "[web] port" in fail.stderr
    assert "Traceback" not in fail.stderr


@pytest.mark.parametrize("change, expected", [
    (('layout = "NHWC"', 'layout = "NCHW"'), '[styles.jpface] layout must be "NHWC"'),
    (("value_range = [-1.0, 1.0]", "value_range = [0.0, 1.0, 2.0]"),
     "[styles.jpface] value_range: expected a list of 2 (number, number), got [0.0, 1.0, 2.0]"),
    (("size_multiple = 16", "size_multiple = 12"), "[styles.cute] size_multiple must be a multiple of 8"),
    (("size_multiple = 16", 'size_multiple = 16\ncolour = "red"'), "[styles.cute] unknown key 'colour'"),
    (('role = "face"', ""), "[styles.jpface] missing role"),
])
def test_a_bad_style_entry_is_one_line_naming_the_key_like_a_config_key(tmp_path, change, expected):
    """The styles' manifest entries are checked by the config's own loader."""
    from booth.errors import WeightsError
    from booth.model import weights
    from booth.vision import styles

    text = weights.MANIFEST_PATH.read_text(encoding="utf-8")
    assert change[0] in text
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(WeightsError) as caught:
        styles.catalogue(manifest)
    message = str(caught.value)
    assert message.startswith(f"{manifest}:") and expected in message and "\n" not in message
    assert styles.catalogue()["cute"].size_multiple == 16  # the shipped manifest passes


def test_the_power_cut_runs_config_is_valid(tmp_path, monkeypatch):
    """scripts/powercut.py starts the real booth with its own settings; a key the booth no
    longer knows would stop every start-up there, far from this file."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "scripts" / "powercut.py"
    spec = importlib.util.spec_from_file_location("powercut", script)
    powercut = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "powercut", powercut)  # its dataclasses look themselves up
    spec.loader.exec_module(powercut)
    path = tmp_path / "booth.toml"
    path.write_text(powercut.BOOTH_CONFIG.format(print_enabled="true", printer="booth-test"))
    settings = config.load(path)
    assert settings.styles.default == "hayao"
