"""The anime photo booth: camera → faces → AnimeGANv2 (OpenVINO INT8) → screen and gallery."""

from pathlib import Path

__version__ = "0.1.0"

#: The project checkout (the package is installed editable from it).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
