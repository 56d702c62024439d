"""The engine's version: one home, imported by the package and by every module that reports it."""

__version__ = "0.1.0"
