"""Entry point of the `medevac` command.

The commands (`medevac.cli.application`) are loaded only once `main` runs, within its handler:
loading them takes over half a second, and Ctrl-C meanwhile is answered as it is while a
command runs, with one line and exit code 130 rather than a traceback."""

from __future__ import annotations

import sys

# nothing else is loaded before `main`'s handler is in place (not even `typing`)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def main() -> None:
    try:
        from medevac.cli.application import app

        app(prog_name="medevac")
    except (KeyboardInterrupt, SystemError) as error:
        from medevac.cli.interrupts import EXIT_INTERRUPTED, interrupted_by, say_interrupted

        if not interrupted_by(error):
            raise
        say_interrupted()
        sys.exit(EXIT_INTERRUPTED)


def __getattr__(name: str) -> Any:
    """``app`` and the rest of `medevac.cli.application`, loaded on first use: the tests and
    the command reference's generator (`make docs`) find them here. Not the module's own
    dunder names (`__path__`, which `from ... import` asks for): those load nothing."""
    if name.startswith("__"):
        raise AttributeError(name)
    import copy

    from medevac.cli import application

    value = getattr(application, name)
    if name == "app":
        # each loading of this module gets an app of its own, as when it was made here:
        # `typer ... utils docs` loads it twice, and turns completion off in the first
        value = copy.copy(value)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    from medevac.cli import application

    return sorted(set(globals()) | set(dir(application)))


if __name__ == "__main__":
    main()
