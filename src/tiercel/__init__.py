"""tiercel: a runtime security agent speaking Falco's rule language."""

__version__ = "0.1.0"
