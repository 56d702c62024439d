"""`RestrictedUnpickler`: a `pickle.Unpickler` that resolves globals only from an allow-list."""
from __future__ import annotations

import _compat_pickle
import pickle
from typing import Any, BinaryIO, Callable

from .errors import UnsafeCheckpointError


class RestrictedUnpickler(pickle.Unpickler):
    """`pickle.Unpickler` whose globals come only from `allow`; persistent ids only via `persistent_load`."""

    def __init__(self, stream: BinaryIO, allow: dict[tuple[str, str], Any],
                 persistent_load: Callable[[Any], Any] | None = None) -> None:
        super().__init__(stream)
        self._allow = allow
        self._persistent = persistent_load

    def find_class(self, module: str, name: str) -> Any:
        # Protocol 0-2 pickles use Python 2 names (__builtin__.set, copy_reg._reconstructor).
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        try:
            return self._allow[(module, name)]
        except (KeyError, TypeError):
            raise UnsafeCheckpointError(
                f"refusing to load global '{module}.{name}': it is not on the allow-list of things a "
                "pix2pix3D checkpoint may contain, so the file was not loaded and nothing in it was run") from None

    def persistent_load(self, pid: Any) -> Any:
        if self._persistent is None:
            raise UnsafeCheckpointError(f"refusing unexpected persistent record {pid!r:.80}")
        return self._persistent(pid)
