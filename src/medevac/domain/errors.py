"""Errors raised by the domain; entry points map them to exit codes and HTTP statuses."""

from __future__ import annotations

import json
import re
import sys


class DomainError(Exception):
    """A rule of the domain was broken; the message says which and why."""


class InvalidValue(DomainError):
    """A field holds a value the domain does not accept."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class IllegalTransition(DomainError):
    """A status change that the lifecycle does not allow."""

    def __init__(self, entity: str, current: str, target: str, reason: str) -> None:
        super().__init__(f"{entity}: cannot move from {current} to {target}: {reason}")
        self.entity = entity
        self.current = current
        self.target = target
        self.reason = reason


#: the most characters of a looked-up key a message quotes: no registry id is longer than
#: 100 (`limits.MAX_ID_LENGTH`), and a key of 100,000 had been quoted whole (found by a review)
SHOWN_KEY = 100


def shown_key(key: str) -> str:
    """``key`` quoted ('PT-0001'), or, where it is longer than `SHOWN_KEY`, its beginning and
    its length."""
    if len(key) <= SHOWN_KEY:
        return repr(key)
    return f"{key[:40]!r}... ({len(key):,} characters)"


class NotFound(DomainError):
    """The named entity does not exist."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {shown_key(key)} not found")
        self.kind = kind
        self.key = key


class ConcurrentModification(DomainError):
    """Someone else changed the entity since it was read; nothing was written."""

    def __init__(self, kind: str, key: str, expected_version: int) -> None:
        super().__init__(
            f"{kind} {key!r} was changed by someone else since it was read "
            f"(expected version {expected_version}); reload and try again"
        )
        self.kind = kind
        self.key = key
        self.expected_version = expected_version


class TransactionConflict(DomainError):
    """The database refused a transaction because of another one (a serialization failure or
    a deadlock it detected); nothing of it was written and it may be run again."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"another transaction changed the data this one read ({detail}); nothing was "
            "written; try again"
        )
        self.detail = detail


class RegistryBusy(DomainError):
    """Another transaction held locks this one needed (a plan approval's serialized block,
    say) longer than it would wait; nothing of this one was written."""

    def __init__(self, waited_seconds: float) -> None:
        super().__init__(
            f"the registry is busy: another transaction (a plan approval, say) held the lock "
            f"this one needed for more than {waited_seconds:g} s; nothing was written; try "
            "again when it is done (MEDEVAC_LOCK_WAIT_SECONDS sets how long to wait)"
        )
        self.waited_seconds = waited_seconds


class LiveRequestConflict(DomainError):
    """A patient may be on only one live treatment request at a time."""


def json_error(exc: ValueError | RecursionError, text: str | None = None) -> str:
    """What is wrong with a text ``json.loads`` refused: its own message, which names the
    place for a syntax error, or what the decoder ran into beyond the syntax (nesting too deep,
    an integer of thousands of digits: named by its place when ``text``, the text refused, is
    given; Python's own message told the reader to call `sys.set_int_max_str_digits()`)."""
    if isinstance(exc, json.JSONDecodeError):
        # the decoder's message ends where its position followed ("Invalid control character
        # at"): the position is given first here
        return f"line {exc.lineno}, column {exc.colno}: {exc.msg.removesuffix(' at')}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if "integer string conversion" not in str(exc):
        return str(exc)
    limit = sys.get_int_max_str_digits()
    # the first such integer of the text (the decoder stops there), strings skipped: their
    # digits are no number; nor is a number with a fraction or an exponent, read as a float
    source = text or ""
    for token in re.finditer(r'"[^"\\]*(?:\\.[^"\\]*)*"|-?(\d+)(\.\d+)?([eE][-+]?\d+)?', source):
        digits, fraction, exponent = token.groups()
        if digits is not None and fraction is None and exponent is None and len(digits) > limit:
            at = token.start()
            line = source.count("\n", 0, at) + 1
            column = at - source.rfind("\n", 0, at)
            return (
                f"line {line}, column {column}: a number has {len(digits)} digits; at most "
                f"{limit} are read"
            )
    return f"a number has more than {limit} digits"
