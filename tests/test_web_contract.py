"""The booth's contract with the web app (booth.web.contract.BoothForWeb) holds on both
sides: the daemon's real Booth and the tests' ScriptedBooth provide every member, with
the same signatures, and the web app uses nothing of the booth beyond it."""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

import pytest

from booth import PROJECT_ROOT
from booth.web.contract import BoothForWeb
from boothkit import QuickPipeline, make_booth, settings_for
from webbooth import scripted_booth


def contract_attributes() -> dict[str, object]:
    from booth.vision.mirror import Mirror  # named only for type checkers in the contract

    return typing.get_type_hints(BoothForWeb, localns={"Mirror": Mirror})


def contract_methods() -> list[str]:
    return sorted(name for name, value in vars(BoothForWeb).items()
                  if inspect.isfunction(value) and not name.startswith("_"))


def broken_promises(booth: object) -> list[str]:
    """What ``booth`` lacks or does differently from the contract, one line each."""
    problems = []
    for name, kind in contract_attributes().items():
        if not hasattr(booth, name):
            problems.append(f"no attribute {name}")
        elif not isinstance(getattr(booth, name), kind):
            problems.append(f"{name} is a {type(getattr(booth, name)).__name__}, not {kind}")
    for name in contract_methods():
        method = getattr(booth, name, None)
        if not callable(method):
            problems.append(f"no method {name}")
            continue
        promised = inspect.signature(getattr(BoothForWeb, name))
        promised = promised.replace(parameters=list(promised.parameters.values())[1:])  # self
        given = inspect.signature(method)
        problems += [f"{name}: {p}" for p in signature_differences(promised, given)]
        promised_hints = typing.get_type_hints(getattr(BoothForWeb, name))
        given_hints = typing.get_type_hints(method)
        for hint, kind in promised_hints.items():
            if given_hints.get(hint, kind) != kind:
                problems.append(f"{name}: {hint} is {given_hints[hint]}, not {kind}")
    return problems


def signature_differences(promised: inspect.Signature, given: inspect.Signature) -> list[str]:
    """Calls the contract allows that ``given`` would not take the same way."""
    differences = []
    given_params = list(given.parameters.values())
    for index, param in enumerate(promised.parameters.values()):
        if index >= len(given_params) or given_params[index].name != param.name:
            differences.append(f"parameter {index + 1} is not {param.name!r}")
            continue
        other = given_params[index]
        if other.kind != param.kind:
            differences.append(f"{param.name} is {other.kind.description}, not {param.kind.description}")
        if param.default is not param.empty and other.default is other.empty:
            differences.append(f"{param.name} has no default (the contract's is {param.default!r})")
        elif param.default is not param.empty and other.default != param.default:
            differences.append(f"{param.name} defaults to {other.default!r}, not {param.default!r}")
    for extra in given_params[len(promised.parameters):]:
        if extra.default is extra.empty and extra.kind not in (extra.VAR_POSITIONAL, extra.VAR_KEYWORD):
            differences.append(f"needs {extra.name!r}, which the web app never passes")
    return differences


@pytest.fixture
def real_booth(tmp_path, photos):
    booth = make_booth(settings_for(tmp_path, photos / "faces"), QuickPipeline())  # not started
    yield booth
    booth.store.close()


def test_the_real_booth_keeps_the_contract(real_booth):
    assert broken_promises(real_booth) == []


def test_the_scripted_booth_keeps_the_contract(tmp_path, face_photo):
    booth = scripted_booth(tmp_path, face_photo)
    try:
        assert broken_promises(booth) == []
    finally:
        booth.close()


def test_a_booth_that_breaks_the_contract_is_caught(tmp_path, face_photo):
    booth = scripted_booth(tmp_path, face_photo)
    try:
        booth.choose_style = lambda name=None, step=1: name  # default changed
        booth.trigger = lambda source, photo=None: True  # default dropped
        del booth.mirror
        booth.prints = "printer"
        assert sorted(broken_promises(booth)) == [
            "choose_style: step defaults to 1, not 0",
            "no attribute mirror",
            "prints is a str, not booth.devices.printing.PrintService | None",
            "trigger: source has no default (the contract's is 'http')",
        ]
    finally:
        booth.close()


# --- the web app uses the booth only through the contract -------------------------------
def booth_members_used(path: Path) -> set[str]:
    """Attributes read from the booth in one module: ``get_booth().x``, ``booth.x`` after
    ``booth = get_booth()``, and ``self.booth.x`` (the upload gate holds the booth)."""
    used = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        target = node.value
        if isinstance(target, ast.Call) and getattr(target.func, "id", None) == "get_booth":
            used.add(node.attr)
        elif isinstance(target, ast.Name) and target.id == "booth":
            used.add(node.attr)
        elif (isinstance(target, ast.Attribute) and target.attr == "booth"
              and isinstance(target.value, ast.Name) and target.value.id == "self"):
            used.add(node.attr)
    return used


def test_the_web_app_uses_exactly_the_contract():
    web = PROJECT_ROOT / "booth" / "web"
    modules = [p for p in web.glob("*.py") if p.name != "contract.py"]
    modules.append(PROJECT_ROOT / "booth" / "daemon" / "uploads.py")  # the views hand it the booth
    used = set().union(*(booth_members_used(p) for p in modules))
    assert used == set(contract_attributes()) | set(contract_methods())
