"""The hardware around the booth, each behind a small interface with a stand-in for
machines without it: :mod:`.camera`, :mod:`.button`, :mod:`.printing` (CUPS) and
:mod:`.network` (the booth's own Wi-Fi)."""
