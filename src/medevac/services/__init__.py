"""Use cases: one function per use case; each takes a unit of work and leaves an audit trail."""
