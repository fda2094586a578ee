"""Ctrl-C answered with one line on stderr and exit code 130, never a traceback.

Only the standard library here: the entry point uses it before the commands are loaded."""

from __future__ import annotations

import json
import sys
from types import TracebackType

#: the exit code of a command ended by Ctrl-C (128 + SIGINT), as shells give it
EXIT_INTERRUPTED = 130


def interrupted_by(error: BaseException) -> bool:
    """Whether ``error`` is Ctrl-C's KeyboardInterrupt, or the SystemError a compiled function
    (numba's) raises in its place, the KeyboardInterrupt as its cause or context."""
    if isinstance(error, KeyboardInterrupt):
        return True
    seen: set[int] = set()
    cause: BaseException | None = error
    while isinstance(cause, SystemError) and id(cause) not in seen:
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
        if isinstance(cause, KeyboardInterrupt):
            return True
    return False


def say_interrupted(what: str = "") -> None:
    """Print "interrupted", and ``what`` it left done or undone, as one line on stderr: a
    character of ``what`` that is not printable (a newline or an escape in a file's name) is
    written as its JSON escape, as the commands' other lines write it."""
    if not what.isprintable():
        what = "".join(c if c.isprintable() else json.dumps(c)[1:-1] for c in what)
    sys.stderr.write(f"interrupted: {what}\n" if what else "interrupted\n")
    sys.stderr.flush()


class Interruption:
    """Ends the command on Ctrl-C within the block, saying what it leaves (`left`, updated as
    the work goes on) in one line on stderr, with exit code 130."""

    def __init__(self, left: str) -> None:
        self.left = left

    def __enter__(self) -> Interruption:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is not None and interrupted_by(error):
            say_interrupted(self.left)
            raise SystemExit(EXIT_INTERRUPTED) from error
