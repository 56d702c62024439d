"""The two ways reading a third-party checkpoint fails: it is unsafe, or it is damaged."""
from __future__ import annotations

from ..errors import WeightsError


class UnsafeCheckpointError(WeightsError):
    """The checkpoint names a global outside the allow-list or embeds code we refuse."""


class CorruptCheckpointError(WeightsError):
    """The checkpoint is truncated, not a pickle, or structurally wrong."""
