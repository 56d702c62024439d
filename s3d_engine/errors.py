"""Errors the engine raises on bad input; the CLI and worker turn them into one-line messages."""


class S3DError(Exception):
    """Base class: a problem with the user's input or files, not a bug."""


class SketchError(S3DError):
    """The sketch is missing, unreadable, empty or malformed."""


class WeightsError(S3DError):
    """A weights file is missing, corrupt, tampered with, or does not match its configuration."""


class ConfigError(S3DError):
    """An unknown configuration name or an inconsistent configuration."""


class OptionsError(S3DError):
    """A generation option is out of range, of the wrong type, or unknown."""


class Cancelled(S3DError):
    """Raised (by a progress callback) to stop a generation; the worker reports it as 'cancelled'."""


class OutputError(S3DError):
    """An output cannot be written: no space, no permission, a file in the way, or it would
    overwrite an input."""
