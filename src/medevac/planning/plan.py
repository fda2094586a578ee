"""Plain-data types of an allocation plan and its JSON form."""

from __future__ import annotations

import errno
import json
import math
import os
import secrets
import signal
import stat
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

from medevac.domain.errors import json_error
from medevac.domain.limits import text_fault
from medevac.planning import json_text
from medevac.planning.loader import MAX_HORIZON_DAYS

BREAKDOWN_KEYS = ("unplaced", "wait", "late", "travel", "group_split", "change")


def day_ranges(days: Iterable[int]) -> str:
    """Days as ranges: {3, 4, 5, 9} -> "3-5, 9" ("" for none)."""
    parts: list[str] = []
    start = previous = None
    for d in [*sorted(set(days)), None]:
        if d is not None and previous is not None and d == previous + 1:
            previous = d
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = d
    return ", ".join(parts)


def figure(value: float) -> str:
    """An objective as people read it: thousands separated, at most six decimals (enough to
    tell apart two objectives the checker does), no trailing zeros ("2,159,491.44",
    "227.115"). `.6g` had shown 2.15949e+06 for both of 2,159,491.44 and 2,159,493.44."""
    text = f"{value:,.6f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


# A plan called optimal is within this of the optimum, as a share of its objective (of 1, if
# smaller): the engines prove to a relative gap of 1e-7 and break near ties in favour of kept
# places by a bonus they allow up to this (`exact.KEPT_TOLERANCE`)
OPTIMAL_TOLERANCE = 1e-6


def optimal_within(objective: float) -> float:
    """How far above the optimum the objective of a plan called optimal may lie."""
    return OPTIMAL_TOLERANCE * max(1.0, abs(objective))


def cost_tolerance(reference: float) -> float:
    """How far a cost may be from ``reference`` and be told as the same (explanations and
    unplaced reasons): 1e-9 of it, at least 1e-9."""
    return 1e-9 * max(1.0, abs(reference))


def decimals_apart(values: Iterable[float], reference: float) -> int:
    """Decimals to show costs with beside ``reference``: 2, or more (up to 6) where a value
    that differs from it (by more than `cost_tolerance`) would read as the same ("0.71
    against 0.71" for 0.7098 against 0.7118)."""
    tolerance = cost_tolerance(reference)
    apart = [v for v in values if abs(v - reference) > tolerance]
    for places in range(2, 6):
        if all(f"{v:.{places}f}" != f"{reference:.{places}f}" for v in apart):
            return places
    return 6


# significant figures of a cost too small for the decimals of its sentence, at least and at most
# (17 tell any two floats apart); decimals, at most, to tell two costs of ordinary size apart
SIGNIFICANT = 6
MOST_SIGNIFICANT = 17
MOST_DECIMALS = 15


def cost_writer(values: Iterable[float], reference: float) -> Callable[[float], str]:
    """How to write the costs of a sentence (an explanation's, an unplaced reason's) that sets
    ``values`` against ``reference``: with thousands separated and the decimals
    `decimals_apart` gives (2, or up to 6 where a cost apart from the reference would read as
    the same), "1,234.50", where those give a cost two significant figures or more; a smaller
    one (weights of 1e-9, say) with six significant figures, "2.0713e-08", where fixed
    decimals had shown 0.000000 for every cost. A cost apart from the reference (by more than
    `cost_tolerance`) that still reads as the same gets more decimals or figures. Zero is
    "0.00", or "0" beside costs written by their figures; never "-0"."""
    values = list(values)
    places = decimals_apart(values, reference)
    least = 10.0 ** (1 - places)  # the smallest cost those decimals give two figures
    small = any(0 < abs(v) < least for v in (*values, reference))
    tolerance = cost_tolerance(reference)
    apart = [v for v in values if abs(v - reference) > tolerance]
    digits = SIGNIFICANT

    def write(value: float) -> str:
        if value == 0:  # -0.0 as well
            return "0" if small else f"{0.0:,.{places}f}"
        if abs(value) < least:
            return f"{value:.{digits}g}"
        return f"{value:,.{places}f}"

    while True:
        same = [v for v in apart if write(v) == write(reference)]
        if not same:
            return write
        if min(abs(v) for v in (*same, reference)) >= least and places < MOST_DECIMALS:
            places += 1
        elif digits < MOST_SIGNIFICANT:
            digits += 1
        else:
            return write


class PlanStatus(StrEnum):
    """How far a plan can be trusted: proven optimal, feasible with a gap, or input refused."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE_INPUT = "infeasible_input"


class UnplacedReason(StrEnum):
    """Why a patient has no place in the plan (a small fixed set)."""

    SPECIALTY_NOT_OFFERED = "specialty_not_offered"
    NEEDS_NOT_MET = "needs_not_met"
    NO_AGREEMENT = "no_agreement"
    BEYOND_MAX_DISTANCE = "beyond_max_distance"
    BEDS_FULL = "beds_full"
    #: places are free, but each costs more than leaving the patient out (weights set so)
    CHEAPER_LEFT_OUT = "cheaper_left_out"
    #: a free place costs less than leaving the patient out: the plan (a heuristic's, or one a
    #: time limit stopped) is not optimal for this patient
    FREE_PLACE_UNUSED = "free_place_unused"


@dataclass(frozen=True, slots=True)
class Breakdown:
    """The objective split into its terms; ``total`` is their sum."""

    unplaced: float = 0.0
    wait: float = 0.0
    late: float = 0.0
    travel: float = 0.0
    group_split: float = 0.0
    change: float = 0.0

    @property
    def total(self) -> float:
        return self.unplaced + self.wait + self.late + self.travel + self.group_split + self.change

    def as_dict(self) -> dict[str, float]:
        return {key: getattr(self, key) for key in BREAKDOWN_KEYS}


class Assignment(NamedTuple):
    """A patient admitted at a facility on a day.

    A named tuple rather than a frozen dataclass: a plan of L holds 100,000 of them, and
    building them took 0.2 s of a 10-s solve as dataclasses, 0.03 s as tuples.
    """

    patient: str
    facility: str
    day: int


@dataclass(frozen=True, slots=True)
class Unplaced:
    """A patient left without a place, with a fixed reason code and a sentence for people."""

    patient: str
    reason: str
    code: UnplacedReason | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """The answer of an engine: assignments, unplaced patients, objective and its proof status."""

    status: PlanStatus
    objective: float
    bound: float
    gap: float
    solver: str
    wall_seconds: float
    breakdown: Breakdown
    assignments: tuple[Assignment, ...]
    unplaced: tuple[Unplaced, ...]

    def assignment_of(self, patient_id: str) -> Assignment | None:
        """This patient's assignment, or None when unplaced."""
        for a in self.assignments:
            if a.patient == patient_id:
                return a
        return None


def relative_gap(objective: float, bound: float) -> float:
    """(objective - bound) / max(1, |objective|), never negative."""
    return max(0.0, (objective - bound) / max(1.0, abs(objective)))


def refused_plan(errors: list[str]) -> Plan:
    """The plan written for a problem file that was refused: status infeasible_input, and why
    (any character not printable escaped, as in a file's name: the plan reader refuses a
    control character)."""
    shown = "; ".join(errors[:20]) + (f" (and {len(errors) - 20} more)" if len(errors) > 20 else "")
    return Plan(
        status=PlanStatus.INFEASIBLE_INPUT,
        objective=0.0,
        bound=0.0,
        gap=0.0,
        solver=json_text.printable(f"input refused: {shown}"),
        wall_seconds=0.0,
        breakdown=Breakdown(),
        assignments=(),
        unplaced=(),
    )


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The JSON form of a plan (docs/formats/allocation-plan.schema.json)."""
    return {
        "status": plan.status.value,
        "objective": plan.objective,
        "bound": plan.bound,
        "gap": plan.gap,
        "solver": plan.solver,
        "wall_seconds": plan.wall_seconds,
        "breakdown": plan.breakdown.as_dict(),
        "assignments": [
            {"patient": a.patient, "facility": a.facility, "day": a.day} for a in plan.assignments
        ],
        "unplaced": [{"patient": u.patient, "reason": u.reason} for u in plan.unplaced],
    }


def write_plan(plan: Plan, path: str | Path) -> None:
    """Write a plan as JSON, one key per line and one assignment per line; whole or not at all
    (`write_documents`)."""
    write_documents([(Path(path), plan_to_dict(plan))])


def write_documents(documents: Sequence[tuple[Path, dict[str, Any]]]) -> None:
    """Write each JSON document to its path (`document_text`): all of them, or none.

    Every document is written to a temporary file beside its path first, and only once all
    are written are they renamed over their paths (``os.replace``, atomic within a folder): a
    full disk, a folder one may not write in or a value JSON cannot hold leaves no file cut
    short, no temporary file, and (`plan build`) no new problem beside an old manifest. Only a
    rename failing after an earlier one succeeded could part them, and a rename within one
    folder fails only if the folder changes meanwhile. A path that is a symbolic link has the
    file it links to replaced, as writing in place did; the file replaced keeps its
    permissions (another name of it, a hard link, keeps the old content). A path that exists
    and is not a regular file (/dev/stdout, a pipe, a device) is written in place, last: a
    rename would put a file where it was. Raises OSError naming the path meant (never the
    temporary file), or ValueError (`document_text`). Files are synced to the disk before they
    are renamed (an I/O error then is raised, the old files kept), and their folders after,
    where the file system allows: a power cut then keeps the new documents."""
    write_texts([(path, document_text(document)) for path, document in documents])


def write_texts(texts: Sequence[tuple[Path, str]]) -> None:
    """Write each text to its path, all of them or none, as `write_documents` writes JSON
    documents (a temporary file beside each, synced, then renamed over it)."""
    written: list[tuple[Path, Path, Path]] = []  # (temporary file, the file it replaces, path)
    in_place: list[tuple[Path, str]] = []
    try:
        for path, text in texts:
            if _special(path):
                in_place.append((path, text))
            else:
                written.append((*_written_beside(path, text), path))
        folders = sorted({target.parent for _, target, _ in written})
        with _ctrl_c_after():  # a problem and its manifest renamed both or neither
            while written:
                temporary, target, path = written[0]
                with _naming(path):
                    os.replace(temporary, target)
                written.pop(0)
        for folder in folders:
            _sync_folder(folder)
    finally:
        for temporary, _, _ in written:
            temporary.unlink(missing_ok=True)
    for path, text in in_place:
        with _naming(path), open(path, "w", encoding="utf-8") as file:
            file.write(text)


@contextmanager
def _ctrl_c_after() -> Iterator[None]:
    """Ctrl-C within the block is raised once it ends (in the main thread, where Python
    handles signals; elsewhere the block runs as it is): between the renames of a problem and
    its manifest it had left the new problem beside the old manifest, which the next build
    then refused to replace (found by a review)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    before = signal.signal(signal.SIGINT, lambda number, _: caught.append(number))
    try:
        yield
    finally:  # a handler not set from Python reads as None: Python's own is put back then
        signal.signal(signal.SIGINT, signal.default_int_handler if before is None else before)
    if caught:
        raise KeyboardInterrupt


def _sync_folder(folder: Path) -> None:
    """Put a folder's renames on the disk (a power cut after `write_documents` returned could
    otherwise bring back the old files). An error here is not raised: the renames are done and
    the files' data synced already, so an error would say a written document was not; where
    the folder cannot be synced its renames stand as the file system keeps them."""
    try:
        handle = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:  # the documents are in place and their data on the disk (`_sync`)
        pass
    finally:
        os.close(handle)


def _sync(handle: int) -> None:
    """fsync ``handle``; a file system that cannot sync (EINVAL: some network and FUSE file
    systems) is written without it, as before syncing was added; other errors (EIO: the data
    did not reach the disk) are raised."""
    try:
        os.fsync(handle)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise


def check_writable(path: Path) -> None:
    """Raise OSError naming ``path`` where `write_documents` could not write it: a folder, a
    read-only file, a folder that is missing or that one may not write in. Long work (a solve)
    checks first, rather than end in this error."""
    if _special(path):
        if not os.access(path, os.W_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return
    temporary, _ = _written_beside(path, "")
    temporary.unlink()


def _special(path: Path) -> bool:
    """Whether ``path`` names something that exists and is neither a regular file nor a
    folder (links followed): /dev/stdout, a pipe, a device."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _written_beside(path: Path, text: str) -> tuple[Path, Path]:
    """A new temporary file holding ``text`` beside the file ``path`` names (links followed;
    hidden, named after it), and that file, for `write_documents` to rename the one over the
    other; OSError naming ``path`` where that could not be done."""
    if path.is_dir():  # "", "." and "/" too; os.replace would refuse it only after the writing
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if path.exists() and not os.access(path, os.W_OK):  # writing in place would be refused
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
    target = Path(_resolved(path))
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
    with _naming(path):
        # os.open, not tempfile: its files are private (0600); this one gets the umask's mode
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with _naming(path), open(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            _sync(file.fileno())  # on the disk before it takes the path's place
        if target.exists():  # the file it replaces keeps its permissions (0600, say)
            with _naming(path):
                os.chmod(temporary, stat.S_IMODE(target.stat().st_mode))
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary, target


def _resolved(path: Path) -> str:
    """The file ``path`` names, links followed: the link's target where it links to one yet to
    be made (as writing through it would make it); OSError naming ``path`` for a loop of links,
    which writing through would refuse too (its last link had been replaced by the file)."""
    try:
        return os.path.realpath(path, strict=True)
    except FileNotFoundError:
        return os.path.realpath(path)
    except OSError as error:
        raise OSError(error.errno, error.strerror or str(error), str(path)) from error


@contextmanager
def _naming(path: Path) -> Iterator[None]:
    """Let an OSError name ``path``, the file meant, rather than a temporary file beside it."""
    try:
        yield
    except OSError as error:
        raise OSError(error.errno, error.strerror or str(error), str(path)) from error


def document_text(document: dict[str, Any]) -> str:
    """A JSON object as text: one top-level key per line, then one entry per line of each list
    or object it holds; deeper values stay on their entry's line.

    Problems, plans and manifests hold 100,000 entries at national scale; this keeps them
    readable line by line and lets the C encoder write each line (``json.dumps`` with
    ``indent`` falls back to the pure-Python encoder; measured on L: a plan of 100,000
    admissions 0.44-0.51 s before against 0.34-0.37 s, the problem 1.0 s against 0.54 s).
    """
    if not document:
        return "{}\n"
    lines = [f" {_json(key)}: {_entries(value)}" for key, value in document.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _entries(value: Any) -> str:
    if isinstance(value, list) and value:
        return "[\n  " + ",\n  ".join(_json(item) for item in value) + "\n ]"
    if isinstance(value, dict) and value:
        items = (f"{_json(key)}: {_json(item)}" for key, item in value.items())
        return "{\n  " + ",\n  ".join(items) + "\n }"
    return _json(value)


# made once (json.dumps makes one per call); no NaN or infinities, which JSON does not have and
# partners' parsers refuse: writing one is an error, not a file nobody else can read
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False)


def _json(value: Any) -> str:
    return _ENCODER.encode(value)


class PlanFormatError(ValueError):
    """A plan file does not follow the plan format; the message names the path."""


#: how far a plan's own figures may be apart (gap against its objective and bound, the sum of its
#: terms against its objective), relative to max(1, |objective|): the checker's tolerance
PLAN_TOLERANCE = 1e-6


def plan_from_dict(data: Any) -> Plan:
    """Build a Plan from its JSON form; raise PlanFormatError naming the first wrong path.

    Besides the form (docs/formats/allocation-plan.schema.json), a plan's own figures must
    agree: its terms add up to its objective, its gap is (objective - bound) / max(1,
    |objective|), its bound is not above its objective (a lower bound cannot exceed a plan's
    cost), an optimal plan has no gap, and a plan of a refused problem places nobody."""
    keys = {
        "status", "objective", "bound", "gap", "solver", "wall_seconds",
        "breakdown", "assignments", "unplaced",
    }  # fmt: skip
    body = _mapping(data, "", keys)
    said = body["status"]
    if not isinstance(said, str) or said not in set(PlanStatus):
        shown = repr(said[:40]) if isinstance(said, str) else "not a string"
        raise PlanFormatError(
            f"status: {shown}; must be one of {', '.join(s.value for s in PlanStatus)}"
        )
    status = PlanStatus(said)
    breakdown = _mapping(body["breakdown"], "breakdown", set(BREAKDOWN_KEYS))
    assignments = []
    for i, item in enumerate(_list(body["assignments"], "assignments")):
        a = _mapping(item, f"assignments[{i}]", {"patient", "facility", "day"})
        where = f"assignments[{i}]."
        assignments.append(
            Assignment(_text(a, "patient", where), _text(a, "facility", where), _day(a, where))
        )
    unplaced = []
    for i, item in enumerate(_list(body["unplaced"], "unplaced")):
        u = _mapping(item, f"unplaced[{i}]", {"patient", "reason"})
        where = f"unplaced[{i}]."
        unplaced.append(Unplaced(_text(u, "patient", where), _text(u, "reason", where)))
    plan = Plan(
        status=status,
        objective=_num(body, "objective"),
        bound=_num(body, "bound"),
        gap=_num(body, "gap", low=0.0),
        solver=_text(body, "solver"),
        wall_seconds=_num(body, "wall_seconds", low=0.0),
        breakdown=Breakdown(**{k: _num(breakdown, k, "breakdown.") for k in BREAKDOWN_KEYS}),
        assignments=tuple(assignments),
        unplaced=tuple(unplaced),
    )
    _check_figures(plan)
    return plan


def _check_figures(plan: Plan) -> None:
    """Refuse a plan whose status, bound, gap and terms contradict each other."""
    if plan.status is PlanStatus.INFEASIBLE_INPUT:
        if plan.assignments or plan.unplaced:
            raise PlanFormatError(
                "status: infeasible_input (the problem was refused), yet the plan has "
                f"{len(plan.assignments)} assignment(s) and {len(plan.unplaced)} unplaced"
            )
        return
    scale = PLAN_TOLERANCE * max(1.0, abs(plan.objective))
    if abs(plan.breakdown.total - plan.objective) > scale:
        raise PlanFormatError(
            f"breakdown: its terms add up to {figure(plan.breakdown.total)}, not to the "
            f"objective {figure(plan.objective)}"
        )
    if plan.bound > plan.objective + scale:
        raise PlanFormatError(
            f"bound: {figure(plan.bound)} is above the objective {figure(plan.objective)}; a "
            "lower bound cannot exceed the cost of a plan"
        )
    stated = relative_gap(plan.objective, plan.bound)
    if abs(plan.gap - stated) > PLAN_TOLERANCE:
        raise PlanFormatError(
            f"gap: {plan.gap:g} is not (objective - bound) / max(1, |objective|) = {stated:g}"
        )
    if plan.status is PlanStatus.OPTIMAL and plan.gap > PLAN_TOLERANCE:
        raise PlanFormatError(f"status: optimal, yet the gap is {plan.gap:g}; a proof leaves none")


def load_plan(path: str | Path) -> Plan:
    """Read a plan JSON file; raise PlanFormatError when it cannot be read or is malformed."""
    try:
        # a byte-order mark, as some editors begin UTF-8 files with, is no part of the JSON
        # text: the problem loader skips it too (a plan saved so had been "not valid JSON")
        text = json_text.read_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanFormatError(f"{path}: cannot be read as JSON ({exc})") from exc
    except json_text.FileTooLarge as exc:
        raise PlanFormatError(f"{path}: {exc}") from exc
    try:
        data = json_text.loads(text)
    except json_text.RepeatedKeys as exc:
        raise PlanFormatError(exc.lines()[0]) from exc
    except (ValueError, RecursionError) as exc:
        # with the text, an integer of too many digits is named by its line and column
        raise PlanFormatError(f"{path}: is not valid JSON ({json_error(exc, text)})") from exc
    return plan_from_dict(data)


def finite_number(value: Any) -> bool:
    """Whether ``value`` is a JSON number (a boolean is not) with a finite float value: an
    integer too large for a float is not."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _mapping(value: Any, path: str, keys: set[str]) -> dict[str, Any]:
    where = path or "plan"
    if not isinstance(value, dict):
        raise PlanFormatError(f"{where}: must be an object")
    missing = sorted(keys - set(value))
    if missing:
        raise PlanFormatError(f"{where}: missing {', '.join(missing)}")
    unknown = set(value) - keys
    if unknown:  # none blank, ambiguous or a control sequence (`key_name`)
        raise PlanFormatError(f"{where}: unknown key(s) {json_text.key_names(unknown, 5)}")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise PlanFormatError(f"{path}: must be a list")
    return value


def _text(body: dict[str, Any], key: str, prefix: str = "") -> str:
    value = body[key]
    if not isinstance(value, str):
        raise PlanFormatError(f"{prefix}{key}: must be a string")
    fault = text_fault(value)  # a NUL PostgreSQL refuses at approval, naming nothing; an ESC
    if fault is not None:  # sequence would reach the terminal; a lone surrogate crashed output
        raise PlanFormatError(f"{prefix}{key}: {fault}")
    return value


def _day(body: dict[str, Any], prefix: str) -> int:
    """A day: a whole number at least 0 (1.0 is one, as the problem's loader has it; not
    0.99999999999999999, which a float rounds to 1: `json_text.Rounded`)."""
    value = body["day"]
    whole = type(value) is int  # of any size: one beyond a float's range is whole too
    if not whole and (
        not finite_number(value) or value != int(value) or type(value) is json_text.Rounded
    ):
        raise PlanFormatError(f"{prefix}day: must be a whole number")
    if value < 0:
        digits = str(-int(value))
        shown = f"-{digits}" if len(digits) <= 20 else f"a negative number of {len(digits)} digits"
        raise PlanFormatError(f"{prefix}day: must be at least 0, got {shown}")
    if value >= MAX_HORIZON_DAYS:  # a day of 4,000 digits had been written out whole
        digits = str(int(value))
        shown = digits if len(digits) <= 20 else f"a number of {len(digits)} digits"
        raise PlanFormatError(
            f"{prefix}day: must be below {MAX_HORIZON_DAYS}, the longest horizon, got {shown}"
        )
    return int(value)


def _num(body: dict[str, Any], key: str, prefix: str = "", low: float | None = None) -> float:
    value = body[key]
    if not finite_number(value):
        raise PlanFormatError(f"{prefix}{key}: must be a finite number")
    if low is not None and value < low:
        raise PlanFormatError(f"{prefix}{key}: must be at least {low:g}, got {value:g}")
    return float(value)
