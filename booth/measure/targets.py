"""What a measurement must reach: targets checked against its summary, said in one line.

A target is ``name: (comparison, limit)``, the name a figure of the summary, the
comparison ">=", "<=" or "==".
"""

from __future__ import annotations

import operator
from typing import Any, Callable, Mapping

_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {">=": operator.ge, "<=": operator.le, "==": operator.eq}


def check_targets(summary: dict, targets: Mapping[str, tuple[str, object]]) -> dict[str, bool]:
    """Target name -> met, for each target whose figure ``summary`` holds (a figure it
    lacks, or None, was not measured and is not checked)."""
    return {name: bool(_COMPARISONS[op](summary[name], limit))
            for name, (op, limit) in targets.items() if summary.get(name) is not None}


def targets_line(checked: dict[str, bool], notes: dict[str, str] | None = None) -> str:
    """"targets: all met (N checked)", or which were not met (each with its note from
    ``notes``, if it has one: why it could not be met here)."""
    notes = notes or {}
    failed = [name + (f" ({notes[name]})" if name in notes else "")
              for name, met in checked.items() if not met]
    return ("targets: " + ("all met" if not failed else "NOT met: " + ", ".join(failed))
            + f" ({len(checked)} checked)")


def exit_status(checked: dict[str, bool], check: bool, costs: frozenset[str] = frozenset()) -> int:
    """1 when ``check`` is asked for and a target was not met, else 0 (the figures are
    the report; only CI makes a missed target a failure). ``costs`` names the targets on
    time or memory: they are reported, never a failure, because the load of a shared
    machine moves them (``booth bench`` on a quiet machine is where costs are judged)."""
    return 1 if check and not all(met for name, met in checked.items() if name not in costs) else 0
