"""JSON Schemas (draft 2020-12) of the JSON import and export files, from the row models.

The schemas in docs/formats/ are rendered by `python -m medevac.interop.schemas docs/formats`;
a test checks that they match the models, so the published files cannot drift.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from medevac.interop.records import RecordKind
from medevac.interop.rows import SPECS

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema(kind: RecordKind) -> dict[str, Any]:
    """The schema of a JSON file of `kind`: an array of rows or {"<kind>": [rows]}."""
    model = SPECS[kind].row_model
    row = model.model_json_schema(ref_template="#/$defs/{model}")
    definitions = row.pop("$defs", {})
    definitions[model.__name__] = row
    rows = {"type": "array", "items": {"$ref": f"#/$defs/{model.__name__}"}}
    return {
        "$schema": DIALECT,
        "$id": f"https://medevac.example/schemas/{kind.value}.schema.json",
        "title": f"medevac {kind.value} file",
        "description": (
            f"An array of {kind.value} rows, or an object whose only key {kind.value!r} holds"
            " that array (the form export writes). Columns are described in"
            f" docs/formats/{kind.value}.md."
        ),
        "oneOf": [
            rows,
            {
                "type": "object",
                "properties": {kind.value: rows},
                "required": [kind.value],
                "additionalProperties": False,
            },
        ],
        "$defs": definitions,
    }


def write_schemas(directory: Path) -> list[Path]:
    """Write `<kind>.schema.json` for every kind into `directory`."""
    written = []
    for kind in RecordKind:
        path = directory / f"{kind.value}.schema.json"
        path.write_text(json.dumps(json_schema(kind), indent=2, ensure_ascii=False) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else ".")):
        print(written_path)
