"""Exchange formats: CSV and JSON import and export of registry records.

`records` names the record kinds and the errors, `rows` holds the column models of each kind
(pydantic, at the edge) and their conversion to and from domain objects, `tables` reads and
writes CSV and JSON files, and `schemas` renders the JSON Schemas published in docs/formats/.
"""
