"""Pure domain model: entities with behaviour, vocabularies, lifecycle rules and errors.

Imports only the standard library and pycountry (a read-only table of ISO 3166 codes).
"""
