"""Memory management shared by the layers that build many objects at once."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def garbage_collection_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building or writing many objects.

    Reading, importing or moving 100,000 patients creates several objects each and keeps them
    alive until they are written; the collector's repeated full passes over them cost 40 % of
    a bulk read, half of a 20,000-row import and half of the moves of a 100,000-admission
    approval. None of these objects hold reference cycles, and collection resumes afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
