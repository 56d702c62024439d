"""Importers for third-party checkpoints. Nothing here executes code from the files it reads."""
from .errors import CorruptCheckpointError, UnsafeCheckpointError
from .pix2pix3d import convert_checkpoint, read_checkpoint
from .safe_unpickle import load_checkpoint_object

__all__ = ["convert_checkpoint", "read_checkpoint", "load_checkpoint_object", "UnsafeCheckpointError",
           "CorruptCheckpointError"]
