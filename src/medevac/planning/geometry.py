"""Vectorised great-circle distances for the engines."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from medevac.domain.geography import EARTH_RADIUS_KM

FloatArray = npt.NDArray[np.float64]


def haversine_matrix(
    lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray
) -> FloatArray:
    """Distances in km between every point of set 1 (rows) and set 2 (columns)."""
    p1 = np.radians(lat1)[:, None]
    p2 = np.radians(lat2)[None, :]
    dl = np.radians(lon2)[None, :] - np.radians(lon1)[:, None]
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    result: FloatArray = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))
    return result
