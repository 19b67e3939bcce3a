"""The booth as a service: :mod:`.machine` (the cycle's state machine), :mod:`.queue`
(the pictures phones asked for), :mod:`.metrics` (what the booth counts), :mod:`.events`
(what the screens hear), :mod:`.uploads` (phones' photos checked and decoded),
:mod:`.store` (photos on disk, complete or absent), :mod:`.worker` (calls with a
deadline) and :mod:`.sdnotify` (systemd's readiness and watchdog)."""
