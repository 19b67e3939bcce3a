"""The booth's types hold: mypy over booth/ (its configuration is [tool.mypy] in
pyproject.toml) finds no error. Among what it checks is the web contract: ``create_app``
takes a :class:`booth.web.contract.BoothForWeb`, and both the daemon's Booth
(``booth run``) and the gallery node (``booth gallery``) are handed to it."""

from __future__ import annotations

import subprocess
import sys

from booth import PROJECT_ROOT


def test_mypy_finds_no_type_error_in_the_package():
    # A fresh clone checks everything once (minutes on two busy cores); .mypy_cache
    # makes the next runs seconds.
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout
