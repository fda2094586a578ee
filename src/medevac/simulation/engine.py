"""Compiled kernel that simulates one replication of a field hospital.

Why not a general event loop: 1,000 replications of a 30-day, 420-a-day hospital are ~12.6 M
patients, far too many for an interpreted event queue. The model is a chain of first-come
first-served stations without blocking (consultation -> operating table -> bed), so each
station can be simulated exactly, patient by patient in the order they reach it, with a heap of
the times its servers next become free (a multi-server Lindley recursion). A patient's start
time depends only on those who came before, which also makes deadline policies exact: a
patient whose start would come later than the limit leaves (unseen, or referred on from the
holding area) and never takes a server.

The consultation wait is reported twice: over everyone who queued, a patient who left unseen
counting the time from arrival to leaving (the wait is censored there), and over the patients
seen only. The second alone would hide the waits of those who gave up, and the more patients
leave, the better the clinic would look. The bed wait is reported twice for the same reason: over
everyone who asked for a bed, a patient referred on from the holding area counting the holding
limit (the time they spent there), and over the patients admitted only.

The kernel is compiled with numba; it draws every random number from the ``numpy.random.
Generator`` it is given, so one generator per replication gives independent streams.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np

_F = TypeVar("_F", bound=Callable[..., Any])
# numba has no type information; keep the decorated functions' signatures for mypy.
_compiled = cast(Callable[[_F], _F], numba.njit(cache=True, nogil=True))

DURATION_EXPONENTIAL = 0
DURATION_LOGNORMAL = 1
DURATION_FIXED = 2

# Indices of the per-replication counters (patients who arrived after the warm-up).
COUNT_ARRIVED = 0
COUNT_SEEN = 1
COUNT_LEFT_UNSEEN = 2
COUNT_REFERRED_CLINICAL = 3
COUNT_OPERATED = 4
COUNT_ADMITTED = 5
COUNT_REFERRED_NO_BED = 6
COUNT_NEEDED_BED = 7
N_COUNTS = 8

# Rows of the wait statistics and columns (mean, p50, p90, p99).
# Consultation: everyone who queued, a patient who left unseen counting the wait until leaving.
WAIT_CONSULTATION = 0
WAIT_THEATRE = 1
# Bed: everyone who asked for a bed, a patient referred on counting the holding limit.
WAIT_BED = 2
# Consultation: the patients seen only, from arrival to the start of their consultation.
WAIT_CONSULTATION_SEEN = 3
# Bed: the patients admitted only, from asking for a bed to getting one.
WAIT_BED_ADMITTED = 4
N_WAITS = 5
N_WAIT_STATS = 4

# Rows of the hourly series (time-average over each hour of the horizon).
SERIES_BEDS_OCCUPIED = 0
SERIES_TABLES_BUSY = 1
SERIES_STATIONS_BUSY = 2
SERIES_CONSULTATION_QUEUE = 3
SERIES_THEATRE_QUEUE = 4
SERIES_HOLDING_AREA = 5
N_SERIES = 6


@_compiled
def _draw_duration(rng: Any, kind: int, first: float, second: float) -> float:
    if kind == DURATION_EXPONENTIAL:
        return rng.exponential(first) if first > 0.0 else 0.0
    if kind == DURATION_LOGNORMAL:
        return math.exp(first + second * rng.standard_normal())
    return first


@_compiled
def _sift_down(heap: np.ndarray, value: float) -> None:
    """Replace the smallest element of a binary min-heap by ``value``."""
    size = heap.shape[0]
    index = 0
    while True:
        child = 2 * index + 1
        if child >= size:
            break
        if child + 1 < size and heap[child + 1] < heap[child]:
            child += 1
        if heap[child] >= value:
            break
        heap[index] = heap[child]
        index = child
    heap[index] = value


@_compiled
def _add_interval(
    partial: np.ndarray, full: np.ndarray, row: int, start: float, end: float
) -> None:
    """Add the time-in-state of ``[start, end)`` to the hourly bins of series ``row``."""
    hours = partial.shape[1]
    if start < 0.0:
        start = 0.0
    if end > hours:
        end = float(hours)
    if end <= start:
        return
    first = int(start)
    last = int(end)
    if first == last:
        partial[row, first] += end - start
        return
    partial[row, first] += first + 1.0 - start
    if last < hours:
        partial[row, last] += end - last
    # Whole hours in between: difference array, summed up at the end.
    full[row, first + 1] += 1.0
    full[row, last] -= 1.0


@_compiled
def _wait_statistics(waits: np.ndarray, count: int, out: np.ndarray, row: int) -> None:
    if count == 0:
        for column in range(N_WAIT_STATS):
            out[row, column] = np.nan
        return
    ordered = np.sort(waits[:count])
    out[row, 0] = ordered.mean()
    quantiles = (0.5, 0.9, 0.99)
    for column in range(3):
        position = quantiles[column] * (count - 1)
        below = int(position)
        above = min(below + 1, count - 1)
        fraction = position - below
        out[row, column + 1] = ordered[below] * (1.0 - fraction) + ordered[above] * fraction


@_compiled
def _theatre_start(time: float, opens: float, closes: float) -> float:
    """Earliest moment at or after ``time`` when an operation may start."""
    hour = time - 24.0 * math.floor(time / 24.0)
    if opens <= hour < closes:
        return time
    if hour < opens:
        return time - hour + opens
    return time - hour + 24.0 + opens


@_compiled
def arrival_times(rng: Any, hourly_rates: np.ndarray) -> np.ndarray:
    """Arrival times (hours, ascending) of a Poisson process whose rate is constant by hour.

    The process is restarted at each hour (it is memoryless).
    """
    hours = hourly_rates.shape[0]
    expected = hourly_rates.sum()
    capacity = int(expected + 10.0 * math.sqrt(expected) + 100.0)
    arrival = np.empty(capacity)
    n = 0
    for hour in range(hours):
        rate = hourly_rates[hour]
        if rate <= 0.0:
            continue
        time = hour + rng.exponential(1.0 / rate)
        while time < hour + 1.0:
            if n == arrival.shape[0]:
                grown = np.empty(2 * n)
                grown[:n] = arrival[:n]
                arrival = grown
            arrival[n] = time
            n += 1
            time += rng.exponential(1.0 / rate)
    return arrival[:n]


@_compiled
def simulate_replication(
    rng: Any,
    hourly_rates: np.ndarray,
    class_cumulative: np.ndarray,
    consultation: np.ndarray,
    surgery: np.ndarray,
    stay: np.ndarray,
    probabilities: np.ndarray,
    may_leave_unseen: np.ndarray,
    stations: int,
    tables: int,
    beds: int,
    theatre_opens: float,
    theatre_closes: float,
    holding_limit: float,
    unseen_limit: float,
    warmup_hours: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulate one replication; return (counts, wait statistics, hourly series).

    ``consultation``, ``surgery`` and ``stay`` are (classes x 3) arrays of (kind, first,
    second) with lognormal parameters already converted to (mu, sigma). ``probabilities`` is
    (classes x 3): referral, surgery, admission. Infinite limits are ``inf``.
    """
    arrival = arrival_times(rng, hourly_rates)
    return simulate_patients(
        rng,
        arrival,
        hourly_rates.shape[0],
        class_cumulative,
        consultation,
        surgery,
        stay,
        probabilities,
        may_leave_unseen,
        stations,
        tables,
        beds,
        theatre_opens,
        theatre_closes,
        holding_limit,
        unseen_limit,
        warmup_hours,
    )


@_compiled
def simulate_patients(
    rng: Any,
    arrival: np.ndarray,
    hours: int,
    class_cumulative: np.ndarray,
    consultation: np.ndarray,
    surgery: np.ndarray,
    stay: np.ndarray,
    probabilities: np.ndarray,
    may_leave_unseen: np.ndarray,
    stations: int,
    tables: int,
    beds: int,
    theatre_opens: float,
    theatre_closes: float,
    holding_limit: float,
    unseen_limit: float,
    warmup_hours: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``simulate_replication`` for given arrival times (ascending, in hours) over ``hours``
    hours; the other arguments are the same."""
    n = arrival.shape[0]
    n_classes = class_cumulative.shape[0]
    counts = np.zeros(N_COUNTS, dtype=np.int64)
    partial = np.zeros((N_SERIES, hours))
    full = np.zeros((N_SERIES, hours + 1))
    # everyone who queued (those who left unseen: until they left), and the patients seen
    queued_waits = np.empty(n)
    n_queued_waits = 0
    seen_waits = np.empty(n)
    n_seen_waits = 0

    # Stage 1: consultation stations, in order of arrival.
    patient_class = np.empty(n, dtype=np.int64)
    needs_theatre = np.zeros(n, dtype=np.bool_)
    needs_bed = np.zeros(n, dtype=np.bool_)
    ready = np.empty(n)
    station_free = np.zeros(stations)
    for i in range(n):
        t = arrival[i]
        counted = t >= warmup_hours
        u = rng.random()
        c = 0
        while c < n_classes - 1 and u >= class_cumulative[c]:
            c += 1
        patient_class[i] = c
        if counted:
            counts[COUNT_ARRIVED] += 1
        wait = station_free[0] - t
        if wait < 0.0:
            wait = 0.0
        if may_leave_unseen[c] and wait > unseen_limit:
            _add_interval(partial, full, SERIES_CONSULTATION_QUEUE, t, t + unseen_limit)
            ready[i] = np.nan
            if counted:
                counts[COUNT_LEFT_UNSEEN] += 1
                queued_waits[n_queued_waits] = unseen_limit
                n_queued_waits += 1
            continue
        start = t + wait
        end = start + _draw_duration(
            rng, int(consultation[c, 0]), consultation[c, 1], consultation[c, 2]
        )
        _sift_down(station_free, end)
        _add_interval(partial, full, SERIES_CONSULTATION_QUEUE, t, start)
        _add_interval(partial, full, SERIES_STATIONS_BUSY, start, end)
        ready[i] = end
        if counted:
            counts[COUNT_SEEN] += 1
            queued_waits[n_queued_waits] = wait
            n_queued_waits += 1
            seen_waits[n_seen_waits] = wait
            n_seen_waits += 1
        if rng.random() < probabilities[c, 0]:
            if counted:
                counts[COUNT_REFERRED_CLINICAL] += 1
            continue
        needs_theatre[i] = rng.random() < probabilities[c, 1]
        needs_bed[i] = rng.random() < probabilities[c, 2]

    waits = np.empty((N_WAITS, N_WAIT_STATS))
    _wait_statistics(seen_waits, n_seen_waits, waits, WAIT_CONSULTATION_SEEN)
    if n_queued_waits == n_seen_waits:  # nobody left unseen: the same patients
        waits[WAIT_CONSULTATION] = waits[WAIT_CONSULTATION_SEEN]
    else:
        _wait_statistics(queued_waits, n_queued_waits, waits, WAIT_CONSULTATION)

    # Stage 2: operating tables, in order of reaching the theatre queue.
    theatre_patients = np.nonzero(needs_theatre)[0]
    order = np.argsort(ready[theatre_patients], kind="mergesort")
    theatre_waits = np.empty(theatre_patients.shape[0])
    n_theatre_waits = 0
    table_free = np.zeros(max(tables, 1))
    bed_request = ready.copy()
    for k in range(order.shape[0]):
        i = theatre_patients[order[k]]
        c = patient_class[i]
        t = ready[i]
        start = _theatre_start(max(t, table_free[0]), theatre_opens, theatre_closes)
        end = start + _draw_duration(rng, int(surgery[c, 0]), surgery[c, 1], surgery[c, 2])
        _sift_down(table_free, end)
        _add_interval(partial, full, SERIES_THEATRE_QUEUE, t, start)
        _add_interval(partial, full, SERIES_TABLES_BUSY, start, end)
        bed_request[i] = end
        if arrival[i] >= warmup_hours:
            counts[COUNT_OPERATED] += 1
            theatre_waits[n_theatre_waits] = start - t
            n_theatre_waits += 1
    _wait_statistics(theatre_waits, n_theatre_waits, waits, WAIT_THEATRE)

    # Stage 3: beds, in order of asking for one; the holding area has a wait limit.
    bed_patients = np.nonzero(needs_bed)[0]
    order = np.argsort(bed_request[bed_patients], kind="mergesort")
    # everyone who asked for a bed (those referred on: the holding limit), and the admitted
    asked_waits = np.empty(bed_patients.shape[0])
    n_asked_waits = 0
    admitted_waits = np.empty(bed_patients.shape[0])
    n_admitted_waits = 0
    bed_free = np.zeros(beds) if beds > 0 else np.full(1, np.inf)
    for k in range(order.shape[0]):
        i = bed_patients[order[k]]
        c = patient_class[i]
        t = bed_request[i]
        counted = arrival[i] >= warmup_hours
        if counted:
            counts[COUNT_NEEDED_BED] += 1
        wait = bed_free[0] - t
        if wait < 0.0:
            wait = 0.0
        if wait > holding_limit:
            _add_interval(partial, full, SERIES_HOLDING_AREA, t, t + holding_limit)
            if counted:
                counts[COUNT_REFERRED_NO_BED] += 1
                asked_waits[n_asked_waits] = holding_limit
                n_asked_waits += 1
            continue
        start = t + wait
        end = start + _draw_duration(rng, int(stay[c, 0]), stay[c, 1], stay[c, 2])
        _sift_down(bed_free, end)
        _add_interval(partial, full, SERIES_HOLDING_AREA, t, start)
        _add_interval(partial, full, SERIES_BEDS_OCCUPIED, start, end)
        if counted:
            counts[COUNT_ADMITTED] += 1
            asked_waits[n_asked_waits] = wait
            n_asked_waits += 1
            admitted_waits[n_admitted_waits] = wait
            n_admitted_waits += 1
    _wait_statistics(admitted_waits, n_admitted_waits, waits, WAIT_BED_ADMITTED)
    if n_asked_waits == n_admitted_waits:  # nobody referred on: the same patients
        waits[WAIT_BED] = waits[WAIT_BED_ADMITTED]
    else:
        _wait_statistics(asked_waits, n_asked_waits, waits, WAIT_BED)

    series = np.empty((N_SERIES, hours))
    for row in range(N_SERIES):
        running = 0.0
        for hour in range(hours):
            running += full[row, hour]
            series[row, hour] = partial[row, hour] + running
    return counts, waits, series
