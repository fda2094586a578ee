"""Manifests edited in tests to reach the checks behind their digest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medevac.services.manifests import MANIFEST_MAPS, document_digest, seal


def resealed(manifest: dict[str, Any]) -> dict[str, Any]:
    """``manifest`` with its digest made anew for what it now holds, as if `plan build` had
    written it so: an edit that passes the digest, to test what the approval checks next."""
    return seal(manifest)


def manifest_of(problem_file: Path, **parts: Any) -> str:
    """The text of a manifest holding ``parts`` (else nothing: no patients, no quotas, ...),
    sealed and naming the problem in
    ``problem_file`` by its digest, as `plan build` would write it beside that problem."""
    problem = json.loads(problem_file.read_text(encoding="utf-8"))
    empty: dict[str, Any] = {key: {} for key in MANIFEST_MAPS}
    empty |= {"built_at": "2026-12-07T01:00:00+02:00", "quotas": [], "acceptance_ends": []}
    return json.dumps(seal({**empty, "problem_sha256": document_digest(problem), **parts}))


def resealed_text(manifest: dict[str, Any]) -> str:
    """The text of `resealed` ``manifest``."""
    return json.dumps(resealed(manifest))
