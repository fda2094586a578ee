"""HiGHS MIPs in a separate process that is stopped when it runs past its time.

HiGHS checks its time limit between steps, not inside them: a proof MIP of 137,642 columns on
1,500 patients x 60 facilities, given 50 s, ran 93 s, and its interrupt callbacks are called
only where it checks the limit itself (docs/planning.md, "Time limit"). A time limit the
planner promises therefore needs a solver that can be stopped from outside. The exact engine's
MIPs run here: a worker process solves them and reports every better plan it finds and its
bound while it runs, and is killed when it has not answered by a hard end. Its last plan and
bound are then the answer (both are valid: the plan is feasible, the bound was HiGHS's global
bound when it was sent).

The large engine's neighbourhood MIPs and LPs (neighbourhoods.py) run here too, on one thread
(the price ascent runs beside them), with the plan they hold as HiGHS's starting solution.

A worker is a process of one thread count (HiGHS keeps one thread scheduler per process),
started on first use (or ahead with ``warm``) and kept for later models of that count. Each MIP
takes a worker of its own: solves running side by side in one planner process (a server's
requests, say) do not queue behind each other's MIPs, which would carry them past their time
limits. Up to IDLE_WORKERS idle workers of each count are kept; a killed worker is not reused.
"""

from __future__ import annotations

import atexit
import contextlib
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import numpy.typing as npt

from medevac.planning.highs_model import (
    MipModel,
    SolveResult,
    loaded_highs,
    read_result,
    solve_model,
)

FloatArray = npt.NDArray[np.float64]

# the worker reports its bound at most this often (seconds); the callback that carries it is
# called some 24,000 times in a 7-s MIP
BOUND_REPORT_SECONDS = 0.1
# HiGHS threads of a MIP in the worker. The exact engine runs nothing beside its MIPs, so both
# cores of the machine go to HiGHS's parallel tree search (new in HiGHS 1.15): S's proof took
# 40.9 s in all with two threads, 43.4-43.8 s with one (2026-12-04). The per-patient MIP
# baseline runs here with the same number, so that the two compare on equal terms.
MIP_THREADS = 2
# a worker that has not said it is ready within this many seconds is taken to have failed
START_SECONDS = 30.0
# idle workers kept for later MIPs, per thread count (more are stopped when their MIP ends)
IDLE_WORKERS = 2


@dataclass(frozen=True, slots=True)
class MipOutcome:
    """A MIP's result and how it ended: ``killed`` when the worker did not answer in time (or
    died), and ``result`` then holds the best plan and bound it had reported."""

    result: SolveResult
    killed: bool
    seconds: float
    note: str = ""  # set when the MIP could not run in the worker


def _serve(conn: Connection, threads: int) -> None:
    """The worker's loop: one job at a time, until the pipe closes. A planner gone (ended by
    Ctrl-C as the worker started, say) ends it quietly: there is nobody to report to."""
    try:
        conn.send(("ready",))
        while True:
            try:
                job = conn.recv()
            except EOFError:
                return
            model, time_limit, mip_rel_gap, hold, start = job
            try:
                _run(conn, model, time_limit, mip_rel_gap, threads, hold, start)
            except Exception as error:  # a fault of this process, reported to the planner
                conn.send(("error", f"{type(error).__name__}: {error}"))
    except (BrokenPipeError, ConnectionResetError):
        return


def _run(
    conn: Connection,
    model: MipModel,
    time_limit: float,
    mip_rel_gap: float,
    threads: int,
    hold: float,
    start: FloatArray | None,
) -> None:
    h = loaded_highs(model, time_limit=time_limit, mip_rel_gap=mip_rel_gap, start=start)
    h.setOptionValue("threads", threads)
    integer = model.is_mip()
    last_report = [0.0, -np.inf]
    sending = threading.Lock()  # with two threads HiGHS may call back from either

    def improving(event: Any) -> None:
        out = event.data_out
        values = np.array(out.mip_solution, dtype=float)
        with sending:
            conn.send(("plan", float(out.objective_function_value), values))

    def interrupt(event: Any) -> None:
        bound = float(event.data_out.mip_dual_bound)
        now = time.perf_counter()
        if bound > last_report[1] and now - last_report[0] >= BOUND_REPORT_SECONDS:
            with sending:
                last_report[0], last_report[1] = now, bound
                conn.send(("bound", bound))

    if integer:  # an LP has no plans or bounds to report on the way
        h.cbMipImprovingSolution.subscribe(improving)
        h.cbMipInterrupt.subscribe(interrupt)
    h.run()
    if hold > 0.0:  # tests: a worker that has reported its plans but does not end in time
        time.sleep(hold)
    # HiGHS's bound is sent as well: read_result drops it when no plan was found
    bound = float(h.getInfo().mip_dual_bound) if integer else float("-inf")
    conn.send(("done", read_result(h, integer=integer), bound))


class _Worker:
    """A Python process running ``python -m medevac.planning.mip_process`` on one end of a
    socket pair (not multiprocessing's spawn, which would run the caller's main script again)."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        ours, theirs = socket.socketpair()
        # Ctrl-C at the terminal reaches the whole process group, the worker too, which the
        # planner stops itself: the worker starts with SIGINT blocked (a blocked signal is
        # inherited), so that one sent while it loads its modules waits, and ignores it once
        # they are loaded (below), discarding it. It had printed a traceback of its own.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        process = None
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(theirs.fileno()), str(threads)],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
            # a Ctrl-C held back meanwhile is raised here, as the mask is restored: the
            # worker, not yet kept anywhere for `_shutdown` to stop, is stopped below
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        except BaseException:
            ours.close()
            if process is None:  # Popen failed
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            else:
                process.kill()
                process.wait()
            raise
        finally:
            theirs.close()
        self.process = process
        self.conn = Connection(ours.detach())
        self.ready = False

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self) -> None:
        if self.ready:
            return
        if not self.conn.poll(START_SECONDS):
            raise RuntimeError("the MIP worker process did not start")
        try:
            message = self.conn.recv()
        except EOFError:
            code = self.process.wait()
            message = f"the MIP worker process ended on starting (exit code {code})"
            raise RuntimeError(message) from None
        if message != ("ready",):
            raise RuntimeError(f"the MIP worker process said {message!r} on starting")
        self.ready = True

    def stop(self) -> None:
        """Kill the process (if it still runs) and close the pipe; may be called again."""
        self.process.kill()
        self.process.wait()
        self.conn.close()


_lock = threading.Lock()  # guards the two collections below, never held during a MIP
_idle: dict[int, list[_Worker]] = {}  # by thread count, the most recently used last
_busy: set[_Worker] = set()  # running a MIP for a caller now


def warm(threads: int = MIP_THREADS) -> None:
    """Start a worker now (it takes about 0.1 s) unless one is idle, so that the next MIP does
    not wait. A worker that cannot start is reported by the MIP (which then runs in process)."""
    with _lock, contextlib.suppress(OSError):
        idle = _idle.setdefault(threads, [])
        if not any(worker.alive() for worker in idle):
            idle.append(_Worker(threads))


def _take(threads: int) -> _Worker:
    """An idle worker of ``threads`` (the most recently used), or a new one; marked busy."""
    with _lock:
        idle = _idle.setdefault(threads, [])
        worker = None
        while idle and worker is None:
            candidate = idle.pop()
            if candidate.alive():
                worker = candidate
            else:
                candidate.stop()
        if worker is None:
            worker = _Worker(threads)
        _busy.add(worker)
        return worker


def _give_back(worker: _Worker, *, keep: bool) -> None:
    """End ``worker``'s MIP: kept idle for the next one when ``keep`` and there is room,
    stopped otherwise."""
    with _lock:
        _busy.discard(worker)
        idle = _idle.setdefault(worker.threads, [])
        if keep and worker.alive() and len(idle) < IDLE_WORKERS:
            idle.append(worker)
            return
    worker.stop()


def solve_mip(
    model: MipModel,
    *,
    time_limit: float,
    kill_at: float,
    mip_rel_gap: float = 1e-9,
    threads: int = MIP_THREADS,
    hold: float = 0.0,
    start: FloatArray | None = None,
) -> MipOutcome:
    """Solve ``model`` in the worker under ``time_limit`` seconds; stop the worker at
    ``kill_at`` (a ``time.perf_counter()`` instant) if it has not answered, and return the
    best plan and bound it reported by then. ``start`` is HiGHS's starting solution (MIPs).
    A model without integer columns is solved as an LP (with its row duals); a killed LP has
    no answer. ``hold`` delays the worker's final answer by that many seconds after HiGHS has
    finished (tests only)."""
    started = time.perf_counter()
    integer = model.is_mip()
    try:
        worker = _take(threads)
    except OSError as error:  # no interpreter to start
        return _in_process(model, time_limit, mip_rel_gap, start, started, error)
    try:
        worker.wait_ready()
        worker.conn.send((model, time_limit, mip_rel_gap, hold, start))
    except (OSError, EOFError, RuntimeError) as error:
        # the worker died on starting: HiGHS in this process instead
        _give_back(worker, keep=False)
        return _in_process(model, time_limit, mip_rel_gap, start, started, error)
    kept = False  # whether the worker ended its job and can take the next MIP
    try:
        outcome, kept = _follow(worker, kill_at, integer, started)
    except _WorkerFault:
        kept = True  # the job failed; the worker waits for the next one
        raise
    finally:
        _give_back(worker, keep=kept)
    return outcome


def _in_process(
    model: MipModel,
    time_limit: float,
    mip_rel_gap: float,
    start: FloatArray | None,
    started: float,
    error: Exception,
) -> MipOutcome:
    """HiGHS in this process, on one thread, stopped only by its own limit: for when no
    worker process could start."""
    result = solve_model(model, time_limit=time_limit, mip_rel_gap=mip_rel_gap, start=start)
    note = f"no MIP worker process ({error}): solved in this process"
    return MipOutcome(result, False, time.perf_counter() - started, note)


def _follow(
    worker: _Worker, kill_at: float, integer: bool, started: float
) -> tuple[MipOutcome, bool]:
    """The worker's reports on its MIP until its final answer, or until ``kill_at``: (the
    outcome, whether the worker ended its job and can take another)."""
    best_values: FloatArray | None = None
    best_objective = float("inf")
    bound = float("-inf")
    while True:
        left = kill_at - time.perf_counter()
        message = None
        try:
            if left > 0.0 and worker.conn.poll(left):
                message = worker.conn.recv()
        except (EOFError, OSError):  # the worker died (HiGHS crashed, or it was killed)
            message = None
        if message is None:
            result = SolveResult(False, best_values, best_objective, bound, None)
            return MipOutcome(result, True, time.perf_counter() - started), False
        if message[0] == "plan":
            if message[1] < best_objective:
                best_objective, best_values = message[1], message[2]
        elif message[0] == "bound":
            bound = max(bound, message[1])
        elif message[0] == "error":
            # the worker reported the fault and waits for the next job
            raise _WorkerFault(f"the MIP worker process failed: {message[1]}")
        else:
            _, final, final_bound = message
            optimal, values, objective = final.optimal, final.values, final.objective
            if integer and (values is None or objective > best_objective):
                values, objective = best_values, best_objective
            if values is None:
                final_bound = max(final_bound, bound)
                result = SolveResult(False, None, float("inf"), final_bound, None)
            else:
                bound = max(final.dual_bound, final_bound, bound)
                result = SolveResult(optimal, values, objective, bound, final.row_duals)
            return MipOutcome(result, False, time.perf_counter() - started), True


class _WorkerFault(RuntimeError):
    """A fault the worker reported: its process is fine, the job was not."""


def _shutdown() -> None:
    """Stop every worker, idle or busy (at exit, and in tests)."""
    with _lock:
        workers = [w for idle in _idle.values() for w in idle] + list(_busy)
        _idle.clear()
        _busy.clear()
    for worker in workers:
        worker.stop()


atexit.register(_shutdown)


if __name__ == "__main__":
    # Ctrl-C at the terminal reaches the whole process group: the planner stops the worker
    # itself (at exit, or when its MIP is interrupted), and the worker should not print a
    # traceback of its own. SIGINT was blocked as it started (`_Worker`): ignored now, one
    # sent meanwhile is discarded as it is unblocked.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _serve(Connection(int(sys.argv[1])), int(sys.argv[2]))
