"""The booth as a service: :mod:`.booth` (the booth the web app and the button see),
:mod:`.states` and :mod:`.machine` (the cycle's state table and its state machine),
:mod:`.making` (pictures made on the worker within their deadline), :mod:`.pictures` and
:mod:`.queue` (the pictures phones asked for), :mod:`.choices` (the guest's style and
mode), :mod:`.metrics` (what the booth counts), :mod:`.events` (what the screens hear),
:mod:`.uploads` (phones' photos checked and decoded), :mod:`.store` (photos on disk,
complete or absent), :mod:`.worker` (calls with a deadline) and :mod:`.sdnotify`
(systemd's readiness and watchdog)."""
