"""JSON text read as problems and plans are: a key given twice in one object is an error.

Python's decoder keeps the last of two equal keys and says nothing, so `"beds":
{"orthopaedics": 1, "orthopaedics": 0}` gave 0 beds unsaid. `loads` decodes as fast as it can
where no object repeats a key (a check per object: 0.99 s against 0.59 s for the 17-MB problem
of the benchmark's L) and names the path of each repeated key where one does.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

# a key written as it is in a path (`beds.orthopaedics`); any other is written `["..."]`
PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")
# the most characters of a key a path shows, the cut marked (`join_path`)
SHOWN_KEY = 60


#: the largest file medevac reads: a problem, plan or manifest (a problem of 100,000 patients
#: is about 17 MB, its plan about 10 MB), a CSV or JSON import, a scenario
MAX_FILE_BYTES = 512 * 1024 * 1024
_BLOCK = 1024 * 1024


class FileTooLarge(Exception):
    """A file holds more than `MAX_FILE_BYTES`."""

    def __str__(self) -> str:
        return f"holds more than {MAX_FILE_BYTES // (1024 * 1024)} MiB, more than medevac reads"


def read_bytes(path: str | Path) -> bytes:
    """The bytes of the file at ``path``, read a block at a time; OSError where it cannot be
    read and `FileTooLarge` past `MAX_FILE_BYTES` (a device that never ends, `/dev/zero`, had
    been read until memory ran out, and then a traceback: found by a review)."""
    blocks = []
    size = 0
    with Path(path).open("rb") as file:
        while block := file.read(_BLOCK):
            size += len(block)
            if size > MAX_FILE_BYTES:
                raise FileTooLarge
            blocks.append(block)
    return b"".join(blocks)


def read_text(path: str | Path) -> str:
    """The text of the file at ``path`` (`read_bytes`), as UTF-8, without a byte order mark
    (as some editors begin UTF-8 files with); UnicodeDecodeError where it is not UTF-8."""
    return read_bytes(path).decode("utf-8").removeprefix("\ufeff")


class RepeatedKeys(ValueError):
    """Objects of a JSON text repeat keys: ``paths`` names each (`join_path`)."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        super().__init__("; ".join(paths))

    def lines(self) -> list[str]:
        """One error line per repeated key, naming its path."""
        return [f"{where}: is given more than once in its object" for where in self.paths]


class WrittenNumber(float):
    """A number of the text that its float does not hold as written, with ``text``, what the
    file wrote, for the checks and the messages that need the number as written."""

    text: str


class OutOfRange(WrittenNumber):
    """A number of the text too large for a float (`1e400`): its value is infinite, ``text``
    what the file wrote, so that a message can quote the file rather than the decoder's
    `Infinity`."""


class NotJson(WrittenNumber):
    """`NaN`, `Infinity` or `-Infinity`: Python's decoder takes them, JSON has no such number.
    Its value is the float they name, ``text`` what the file wrote, so that a message can
    quote the file (`got NaN`) and the loaders can refuse it as no JSON number."""


def read_constant(text: str) -> float:
    """`NaN`, `Infinity` or `-Infinity` as `json.loads` meets them (``parse_constant``): a
    `NotJson` float that keeps the text."""
    marked = NotJson(float(text))
    marked.text = text
    return marked


class Rounded(WrittenNumber):
    """A number of the text with a fraction as written that a float rounds to a whole number:
    `1e-400` is 0.0, `2.9999999999999999` is 3.0, `90.000000000000001` is 90.0. Its float would
    pass for a whole number (a closed facility, a third bed) or for a limit it is beyond as
    written; the loaders refuse it where a whole number is meant, and check it against a limit
    it equals (``above``: whether the number written is above its float). Only whole floats
    are looked at: every limit of the formats is a whole number, so that a number beyond one
    as written and within it as a float is rounded to it. A number written `3.0` is whole as
    written: a plain float; one written `1e7` a `WrittenNumber` that keeps its text, for the
    messages that quote it (a float would show `10000000.0`)."""

    above: bool


def read_number(text: str) -> float:
    """The float of a JSON number's ``text``, marked where it does not hold the number as
    written: `OutOfRange` beyond a float, `Rounded` where a fraction as written rounds to a
    whole float (`_as_written`); `loads` reads every number with it, and a CSV cell may be
    read the same way."""
    value = float(text)
    if value.is_integer():  # seldom: most numbers written with a point have a fraction
        return _as_written(text, value)
    if math.isinf(value):
        marked = OutOfRange(value)
        marked.text = text
        return marked
    return value


def _as_written(text: str, value: float) -> float:
    """``value``, a whole float read from ``text``, or a `Rounded` where the text is not a
    whole number."""
    whole, point, fraction = text.partition(".")
    if point and len(whole) < 16 and fraction.isdigit() and not fraction.strip("0"):
        return value  # `50.0`, `-3.000`: the common case, without a decimal (2.3 times faster)
    mantissa = text.lower().partition("e")[0]
    if not mantissa.strip("-.0"):  # zero as written, whatever its exponent (`-0.0`, `0e-999`)
        return _keeping_text(text, value)
    try:
        written = Decimal(text)  # exact, whatever the context's precision
    except ArithmeticError:  # an exponent beyond a decimal's: nearer zero than any float
        above = not mantissa.startswith("-")
    else:
        if written == written.to_integral_value():  # whole as written (`1e2`)
            return _keeping_text(text, value)
        above = written > Decimal(value)  # exact too: no decimal compared with a float
    marked = Rounded(value)
    marked.text = text
    marked.above = above
    return marked


def _keeping_text(text: str, value: float) -> float:
    """``value`` as a `WrittenNumber` that keeps ``text`` where a float would write it
    otherwise (`1e7`, not `10000000.0`); a plain float where it writes it alike."""
    if repr(value) == text:
        return value
    marked = WrittenNumber(value)
    marked.text = text
    return marked


class _Repeated(dict[str, Any]):
    """An object whose text gave some keys more than once (the last value kept)."""

    repeated: list[str]


def loads(text: str) -> Any:
    """``json.loads`` of ``text``; RepeatedKeys naming every key given twice in one object
    (ValueError and RecursionError as ``json.loads`` raises them). A number too large for a
    float is an infinite `OutOfRange` that keeps its text, one a float rounds to a whole
    number a `Rounded` that does, `NaN` and `Infinity` (no JSON numbers, which Python's decoder
    takes) a `NotJson` that does."""
    repeated = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeated
        value = dict(items)
        if len(value) == len(items):
            return value
        repeated = True
        marked = _Repeated(value)
        counts = Counter(key for key, _ in items)
        marked.repeated = [key for key, count in counts.items() if count > 1]
        return marked

    data = json.loads(
        text, object_pairs_hook=pairs, parse_float=read_number, parse_constant=read_constant
    )
    if repeated:  # found where, only then: the walk takes time on large documents
        paths: list[str] = []
        _find(data, "", paths)
        raise RepeatedKeys(sorted(paths))
    return data


def _find(value: Any, path: str, paths: list[str]) -> None:
    """Collect the repeated keys under ``value`` (at ``path``) into ``paths``."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            if isinstance(item, _Repeated):
                paths.extend(join_path(where, key) for key in item.repeated)
            stack.extend((v, join_path(where, k)) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))


def join_path(path: str, key: Any) -> str:
    """The path of ``key`` in the object at ``path``: `path.key` where the key is a plain name
    (ASCII letters, digits, `_`, `-`), else `path["key"]` in JSON with ASCII escapes, so that
    no key makes a path ambiguous (`a.b`, `x[0]`), blank (` `), or sends control characters
    (an ESC sequence) or a lone surrogate (which no terminal or file takes) to the reader. A
    key longer than `SHOWN_KEY` is cut, `path["abc..."]`, so that a message stays a line."""
    key = str(key)
    if len(key) > SHOWN_KEY:  # a key of 100,000 characters had made a line as long
        return f'{path}[{json.dumps(key[: SHOWN_KEY - 3])[:-1]}..."]'
    if PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def cut(text: str) -> str:
    """``text`` cut to 40 characters, the cut marked, as messages quote a value or an id: a
    message stays one readable line (an id of 100,000 characters had made a line as long)."""
    return text if len(text) <= 40 else text[:37] + "..."


def printable(line: str) -> str:
    """``line`` with every character that is not printable (a control character, a lone
    surrogate) written as its JSON escape (an ESC as `\\u001b`): for lines not made by
    `join_path`, such as those naming a file, whose name may hold any of them."""
    if line.isprintable():  # a lone surrogate is not printable either
        return line
    return "".join(c if c.isprintable() else json.dumps(c)[1:-1] for c in line)


def key_name(key: str) -> str:
    """A key named in a message: as it is where plain (as in `join_path`), else as JSON."""
    return key if PLAIN_KEY.fullmatch(key) else json.dumps(key)


def key_names(keys: Iterable[str], shown: int = 10) -> str:
    """The first ``shown`` of ``keys`` in sorted order, each as `key_name` writes it and cut
    to 40 characters, and how many more: a message stays one readable line."""
    names = sorted(keys)
    parts = [key_name(n) if len(n) <= 40 else key_name(n[:37]) + "..." for n in names[:shown]]
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(parts) + more
