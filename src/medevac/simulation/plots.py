"""Plots of occupancy and queues over time, with their confidence and replication bands.

Figures are built as ``matplotlib.figure.Figure`` objects without pyplot, so no GUI backend
is ever loaded (and the process-wide backend is left alone): PNG goes through Agg, SVG through
the SVG writer. They are rendered to bytes; writing files is the caller's business.
"""

from __future__ import annotations

import io

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from medevac.simulation import engine
from medevac.simulation.results import SimulationResult

_PANELS: tuple[tuple[str, tuple[tuple[int, str], ...], str], ...] = (
    (
        "Occupancy",
        (
            (engine.SERIES_BEDS_OCCUPIED, "beds occupied"),
            (engine.SERIES_STATIONS_BUSY, "consultation stations busy"),
            (engine.SERIES_TABLES_BUSY, "operating tables busy"),
        ),
        "in use (hourly mean)",
    ),
    (
        "Queues",
        (
            (engine.SERIES_CONSULTATION_QUEUE, "waiting for consultation"),
            (engine.SERIES_THEATRE_QUEUE, "waiting for theatre"),
            (engine.SERIES_HOLDING_AREA, "in holding area"),
        ),
        "patients waiting (hourly mean)",
    ),
)


def occupancy_figure(result: SimulationResult) -> Figure:
    """Two panels: resources in use and patients waiting, by hour, across replications.

    Each line is the mean over replications; the dark band is its 95 % confidence interval
    (absent with one replication) and the light band holds 90 % of the replications (5th to
    95th percentile).
    """
    figure = Figure(figsize=(11, 7), layout="constrained")
    axes = figure.subplots(2, 1, sharex=True)
    resources = result.scenario.resources
    capacity_lines = {
        engine.SERIES_BEDS_OCCUPIED: resources.beds,
        engine.SERIES_STATIONS_BUSY: resources.consultation_stations,
        engine.SERIES_TABLES_BUSY: resources.operating_tables,
    }
    for axis, (title, rows, ylabel) in zip(axes, _PANELS, strict=True):
        for row, label in rows:
            mean, low, high, band_low, band_high = result.hourly(row)
            if not np.any(band_high > 0):
                continue
            days = (np.arange(mean.shape[0]) + 0.5) / 24.0
            (line,) = axis.plot(days, mean, label=label, linewidth=1.2)
            colour = line.get_color()
            axis.fill_between(days, band_low, band_high, color=colour, alpha=0.12, linewidth=0)
            if np.all(np.isfinite(low)):  # one replication has no confidence interval
                axis.fill_between(days, low, high, color=colour, alpha=0.35, linewidth=0)
            capacity = capacity_lines.get(row)
            if capacity:
                axis.axhline(capacity, color=colour, linestyle="--", linewidth=0.8)
        # The scenario's name is the user's text: matplotlib would read "$...$" in it as math
        # (and raise on what it cannot parse), so titles are drawn as they are written.
        axis.set_title(
            f"{title}: {result.scenario.name} ({result.replications} replications)",
            parse_math=False,
        )
        axis.set_ylabel(ylabel)
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(loc="upper right", fontsize="small")
    axes[-1].set_xlabel("day")
    return figure


def render(figure: Figure, image_format: str) -> bytes:
    """The figure as PNG or SVG bytes."""
    if image_format not in ("png", "svg"):
        raise ValueError(f"unsupported image format {image_format!r} (use png or svg)")
    buffer = io.BytesIO()
    # No date and a fixed salt for the element ids keep SVG output identical between runs
    # (without the salt, matplotlib draws a random one for each render).
    metadata = {"Date": None} if image_format == "svg" else {"Software": None}
    with matplotlib.rc_context({"svg.hashsalt": "medevac"}):
        figure.savefig(buffer, format=image_format, dpi=110, metadata=metadata)
    return buffer.getvalue()
