"""Memory the booth frees goes back to the system, so a long event's RSS stays flat.

glibc's malloc raises its mmap threshold each time a large block is freed (up to
32 MB). After the first photo, the frames, thumbnails and print pages of every later
photo (about 1 MB each) are then carved out of the heaps of the many threads that make
them, and those heaps fragment: over the compressed ten-hour night of
tests/test_soak.py the booth's RSS rose about 3.5 MB an "hour" (10 photos) and stayed
up even after ``malloc_trim``, while the Python heap stayed flat (tracemalloc). With
the threshold fixed at 128 KiB every larger block has a mapping of its own, returned
when it is freed: the same night ran from 139 to 155 MB, flat after its first third.
A 1 MB mapping costs a few microseconds; the generator's second is not touched.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

#: mallopt's parameter number for the mmap threshold (glibc's malloc.h).
M_MMAP_THRESHOLD = -3
#: Blocks from this size up get their own mapping (glibc's initial default).
MMAP_THRESHOLD_BYTES = 128 * 1024


def keep_large_blocks_returnable() -> bool:
    """Fix malloc's mmap threshold (see the module docstring); False where the C
    library is not glibc (nothing to fix there)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    if not done:
        log.debug("mallopt(M_MMAP_THRESHOLD) refused; the heap may fragment over a long event")
    return done
