"""Load the compiled kernels from numba's disk cache in a second thread, early in a solve.

numba loads a cached kernel on its first call. In a fresh process those first calls cost about
0.4-0.7 s in all on L (the first one most: it starts numba's runtime), and they fell inside the
large engine's first timed steps: the regulator's rule, whose time sizes the final plan's
reserve, came out two to three times its real length, the ascent stopped seconds early, and on
a slow hour the final plan was skipped for lack of the time it had been promised (L in 10 s:
gaps of 33-35 % instead of 17-19 %).

`make install` (warmup.py) records every kernel's signatures in a file beside numba's cache,
stamped with kernels.py's size and modification time, which is what numba's cache checks too.
`start()` loads those signatures in a daemon thread (numba links cached code through ctypes,
which lets the interpreter go, so the loading overlaps the problem's preparation on the other
core); `wait()` joins it before the engine times anything. With no record, or a record of
another kernels.py (the cache would be stale and the kernels compiled, not loaded), nothing is
preloaded and the kernels load on first call as before.
"""

from __future__ import annotations

import os
import pickle
import threading
from pathlib import Path
from typing import Any

from numba.core.registry import CPUDispatcher

from medevac.planning import kernels

RECORD = Path(kernels.__file__).parent / "__pycache__" / "kernels.signatures.pickle"

_lock = threading.Lock()
_thread: threading.Thread | None = None


def _stamp() -> tuple[int, int]:
    """kernels.py's (size, modification time in ns): a record of another source is stale."""
    status = os.stat(kernels.__file__)
    return status.st_size, status.st_mtime_ns


def dispatchers() -> dict[str, CPUDispatcher]:
    """The public kernels (private helpers are compiled into the kernels that call them)."""
    return {
        name: value
        for name, value in vars(kernels).items()
        if isinstance(value, CPUDispatcher) and not name.startswith("_")
    }


def record(path: Path = RECORD) -> int:
    """Write the signatures every kernel has been compiled for in this process; returns how
    many were written."""
    signatures = {name: list(kernel.signatures) for name, kernel in dispatchers().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(pickle.dumps({"stamp": _stamp(), "signatures": signatures}))
    temporary.replace(path)
    return sum(len(s) for s in signatures.values())


def recorded(path: Path = RECORD) -> dict[str, list[Any]]:
    """The recorded signatures per kernel; empty when there is no record or it is stale."""
    try:
        content = pickle.loads(path.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return {}
    if not isinstance(content, dict) or content.get("stamp") != _stamp():
        return {}
    signatures = content.get("signatures")
    return signatures if isinstance(signatures, dict) else {}


def load(path: Path = RECORD) -> int:
    """Load every recorded signature not loaded yet; returns how many were loaded."""
    kernels_by_name = dispatchers()
    loaded = 0
    for name, signatures in recorded(path).items():
        kernel = kernels_by_name.get(name)
        if kernel is None:
            continue
        for signature in signatures:
            if tuple(signature) not in kernel.overloads:
                kernel.compile(tuple(signature))
                loaded += 1
    return loaded


def start() -> None:
    """Start loading the recorded kernels in a daemon thread (once per process)."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=load, name="medevac-kernel-preload", daemon=True)
            _thread.start()


def wait() -> None:
    """Wait for the preload started by `start()`, if any, to finish."""
    thread = _thread
    if thread is not None:
        thread.join()
