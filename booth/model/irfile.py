"""OpenVINO IR files on disk, written so that a crash or power cut at any moment leaves
the previous model or the new one, never half of each.

An IR is two files, ``.xml`` (the graph) and ``.bin`` (the weights), and readers open the
``.xml`` first: so both are written under temporary names and synced, then the ``.bin``
is renamed into place before the ``.xml``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import openvino as ov


def save_ir(model: ov.Model, path: Path) -> Path:
    """Save ``model`` as ``path`` (.xml, with its .bin) atomically, weights in float32."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.xml")
    ov.save_model(model, tmp, compress_to_fp16=False)
    _publish(tmp, path)
    return path


def copy_ir(src: Path, dst: Path) -> Path:
    """Copy the IR ``src`` (.xml, with its .bin) to ``dst`` atomically."""
    tmp = dst.with_name(f".{dst.stem}.copy.xml")
    for suffix in (".bin", ".xml"):
        shutil.copyfile(src.with_suffix(suffix), tmp.with_suffix(suffix))
    _publish(tmp, dst)
    return dst


def _publish(tmp: Path, path: Path) -> None:
    for suffix in (".bin", ".xml"):
        with open(tmp.with_suffix(suffix), "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp.with_suffix(suffix), path.with_suffix(suffix))
