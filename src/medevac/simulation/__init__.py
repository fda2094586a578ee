"""Field hospitals: throughput simulation with confidence intervals, and deployment planning.

Modules: ``params`` (validated scenario), ``presets`` (WHO EMT types and the demo hospitals),
``engine`` (compiled kernel), ``runner`` (replications on all cores), ``results`` (estimates and
exports), ``plots``, ``closed_forms`` (Erlang B/C), ``deployment`` (capacitated maximal covering),
``plain_data`` (reading JSON with errors that name the path).
Submodules are imported on demand so that reading a scenario does not load the compiler.
"""
