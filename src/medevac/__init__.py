"""medevac: coordination of medical evacuation and cross-border treatment of patients."""

__version__ = "0.1.0"
