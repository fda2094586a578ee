"""The `medevac` command line (Typer + Rich)."""
