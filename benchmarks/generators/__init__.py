"""Seeded instance generators of the benchmarks."""
