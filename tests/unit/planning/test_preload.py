"""Loading the kernels from numba's cache in a second thread before a solve times anything."""

from __future__ import annotations

import json
import pickle
import random
from pathlib import Path

from medevac.planning import greedy, preload, solve_exact
from medevac.planning.loader import parse_problem
from medevac.planning.warmup import warm_up_problem
from tests.fresh_python import run_python


def _record_every_kernel(path: Path) -> int:
    # a large-engine solve and the greedy run every kernel in this process
    problem = parse_problem(warm_up_problem(seed=random.Random(1).randint(0, 9)))
    solve_exact(problem, time_limit=10, large_units=0)
    greedy.solve_greedy(problem)
    return preload.record(path)


def test_a_fresh_process_loads_every_recorded_kernel_before_its_first_call(tmp_path: Path) -> None:
    record = tmp_path / "signatures.pickle"
    written = _record_every_kernel(record)
    assert written >= len(preload.dispatchers())
    code = (
        "import json, sys; from pathlib import Path; from medevac.planning import preload; "
        "from medevac.planning import warmup; "
        "before = warmup.uncompiled_kernels(); loaded = preload.load(Path(sys.argv[1])); "
        "print(json.dumps([before, loaded, warmup.uncompiled_kernels()]))"
    )
    done = run_python(code, str(record))
    before, loaded, after = json.loads(done.stdout.strip().splitlines()[-1])
    assert "price_units" in before  # nothing had run in that process
    assert loaded == written
    assert after == []


def test_a_record_of_another_kernels_source_is_not_loaded(tmp_path: Path) -> None:
    # numba's cache of a changed kernels.py is stale: loading would compile, for seconds, in
    # the thread the solve waits for
    record = tmp_path / "signatures.pickle"
    _record_every_kernel(record)
    content = pickle.loads(record.read_bytes())
    size, mtime = content["stamp"]
    content["stamp"] = (size + 1, mtime)
    record.write_bytes(pickle.dumps(content))
    assert preload.recorded(record) == {}
    assert preload.load(record) == 0


def test_a_missing_or_broken_record_loads_nothing(tmp_path: Path) -> None:
    assert preload.recorded(tmp_path / "none.pickle") == {}
    broken = tmp_path / "broken.pickle"
    broken.write_bytes(b"not a pickle")
    assert preload.recorded(broken) == {}
    assert preload.load(broken) == 0
    not_a_record = tmp_path / "other.pickle"
    not_a_record.write_bytes(pickle.dumps(["a", "list"]))
    assert preload.recorded(not_a_record) == {}


def test_preparing_the_exact_engine_starts_loading_its_kernels() -> None:
    # `medevac plan solve` prepares the engine before it reads the problem file
    code = (
        "import sys; from medevac.planning import Engine; "
        "from medevac.planning.engines import prepare; "
        "before = 'medevac.planning.exact' in sys.modules; prepare(Engine.GREEDY); "
        "greedy = 'medevac.planning.exact' in sys.modules; prepare(Engine.EXACT); "
        "from medevac.planning import preload; "
        "print(before, greedy, preload._thread is not None)"
    )
    done = run_python(code)
    assert done.stdout.split() == ["False", "False", "True"]


def test_importing_the_exact_engine_starts_nothing_and_its_solve_starts_the_preload() -> None:
    # the loading thread is started by who needs it, not as a side effect of an import
    code = (
        "from medevac.planning import exact, preload; "
        "from medevac.planning.warmup import warm_up_problem; "
        "from medevac.planning.loader import parse_problem; "
        "imported = preload._thread is not None; "
        "exact.solve_exact(parse_problem(warm_up_problem(seed=3)), time_limit=5); "
        "print(imported, preload._thread is not None)"
    )
    done = run_python(code)
    assert done.stdout.split()[-2:] == ["False", "True"]
