"""HiGHS instances without HiGHS's start-up banner.

highspy 1.16 prints "Running HiGHS ..." and a licence line to the process's standard output
(file descriptor 1, below Python's `sys.stdout`) when the first instance of a process is made,
whatever its options. In `medevac plan solve` that put two lines of solver chatter above the
plan; in a pipe, in the middle of the output. The first instance is therefore made with file
descriptor 1 pointed at the null device for that moment; later ones print nothing anyway.
Shared by the planning engines and the deployment planner.
"""

from __future__ import annotations

import os
import sys
import threading

import highspy

_lock = threading.Lock()
_first_made = False


def new_highs() -> highspy.Highs:
    """A new HiGHS instance; the first of the process is made without its banner."""
    global _first_made
    with _lock:
        if _first_made:
            return highspy.Highs()  # type: ignore[no-untyped-call]  # untyped in 1.16
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 1)
                try:
                    instance = highspy.Highs()  # type: ignore[no-untyped-call]
                finally:
                    os.dup2(saved, 1)
        finally:
            os.close(saved)
        _first_made = True
        return instance
