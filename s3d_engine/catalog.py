"""Where weights files are found, and what a name like 'face' means: one home for both.

Search order: $S3D_WEIGHTS_DIR (when set; the add-on points it at the user's own weights folder),
then `shipped_weights/` inside the package (the wheel that `build_addon.py` builds carries the
face and cat files there), then `weights/` beside the package (a checkout). A name is a file
stem in one of those folders; a path (anything ending in .safetensors or holding a separator)
is taken as it is.
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import WeightsError

INSTALLED_WEIGHTS = Path(__file__).resolve().parent / "shipped_weights"
CHECKOUT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


def weights_dirs() -> list[Path]:
    """The folders searched for named weights, first match wins."""
    dirs = [d for d in (INSTALLED_WEIGHTS, CHECKOUT_WEIGHTS) if d.is_dir()] or [CHECKOUT_WEIGHTS]
    extra = os.environ.get("S3D_WEIGHTS_DIR")
    if extra:
        dirs.insert(0, Path(extra))
    return dirs


def available_weights() -> list[Path]:
    """Every .safetensors file in the searched folders, in search order."""
    return [f for d in weights_dirs() if d.is_dir() for f in sorted(d.glob("*.safetensors"))]


def resolve_weights(name_or_path: str | os.PathLike) -> Path:
    """A shipped name ('face', 'cat', or any file stem in the weights folders) or a path to a
    .safetensors file -> the file's path.

    Raises:
        WeightsError: the name is unknown (the message lists what exists) or names a folder.
    """
    text = str(name_or_path)
    path = Path(text)
    if path.suffix == ".safetensors" or os.sep in text or path.exists():
        if path.is_dir():
            raise WeightsError(f"{path} is a folder; pass a .safetensors file")
        return path
    for folder in weights_dirs():
        candidate = folder / f"{text}.safetensors"
        if candidate.is_file():
            return candidate
    found = ", ".join(sorted({p.stem for p in available_weights()})) or "none"
    raise WeightsError(f"no weights named {text!r} in {', '.join(map(str, weights_dirs()))} (found: {found}); "
                       f"pass a .safetensors path or 'random:<config>:<domain>' for random initialisation")
