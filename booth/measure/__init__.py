"""Measurement: figures, never pass/fail timings. :mod:`.bench` (``booth bench``),
:mod:`.reference` (other runtimes to compare with), :mod:`.quality` (picture fidelity),
:mod:`.faces`, :mod:`.policy`, :mod:`.upscale`, :mod:`.styles` and :mod:`.int8_report`
(the ``booth eval`` reports)."""
