"""Semantic label sets: the 19 CelebAMask-HQ face classes and our 6 cat classes.

Order and palette follow CelebAMask-HQ / pix2pix3D (`training/utils.py`), where index 0 is
the background and is drawn white. The cat classes come from pix2pix3D's undocumented
6-class AFHQ segmentation; the names below are ours (see README, "Label sets").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LabelSet:
    """An ordered list of part classes with one display colour (sRGB bytes) each."""

    domain: str
    names: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]

    def __post_init__(self) -> None:
        if len(self.names) != len(self.palette):
            raise ValueError(f"{self.domain}: {len(self.names)} names but {len(self.palette)} colours")

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def palette_array(self) -> np.ndarray:
        """(C, 3) uint8 palette."""
        return np.asarray(self.palette, dtype=np.uint8)

    def colorize(self, labels: np.ndarray) -> np.ndarray:
        """Map an integer label array (any shape) to sRGB uint8 colours (shape + (3,))."""
        labels = np.asarray(labels)
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(
                f"label values must lie in 0..{self.num_classes - 1} for {self.domain}, "
                f"got {labels.min()}..{labels.max()}"
            )
        return self.palette_array()[labels]

    def decolorize(self, rgb: np.ndarray, background: tuple[int, int, int] | None = None) -> np.ndarray:
        """Inverse of `colorize` (nearest palette colour). `background` overrides colour 0,
        e.g. (0, 0, 0) for CelebAMask-HQ's own colour masks."""
        palette = self.palette_array().astype(np.int32)
        if background is not None:
            palette = palette.copy()
            palette[0] = background
        flat = np.asarray(rgb, dtype=np.int32).reshape(-1, 1, 3)
        dist = ((flat - palette[None]) ** 2).sum(-1)
        return dist.argmin(1).reshape(np.asarray(rgb).shape[:-1]).astype(np.uint8)


FACE_LABELS = LabelSet(
    domain="face",
    names=(
        "background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow",
        "l_ear", "r_ear", "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l",
        "neck", "cloth",
    ),
    palette=(
        (255, 255, 255), (204, 0, 0), (76, 153, 0), (204, 204, 0), (51, 51, 255),
        (204, 0, 204), (0, 255, 255), (255, 204, 204), (102, 51, 0), (255, 0, 0),
        (102, 204, 0), (255, 255, 0), (0, 0, 153), (0, 0, 204), (255, 51, 153),
        (0, 204, 204), (0, 51, 0), (255, 153, 51), (0, 204, 0),
    ),
)

# pix2pix3D's seg2cat model has 6 classes whose names were never published (DINO clusters).
# We name them by the parts our procedural cats and the AFHQ masks show.
CAT_LABELS = LabelSet(
    domain="cat",
    names=("background", "face", "eye", "ear", "nose", "mouth"),
    palette=((255, 255, 255), (204, 0, 0), (51, 51, 255), (102, 51, 0), (76, 153, 0), (255, 255, 0)),
)

LABEL_SETS: dict[str, LabelSet] = {"face": FACE_LABELS, "cat": CAT_LABELS}


def label_set(domain: str) -> LabelSet:
    try:
        return LABEL_SETS[domain]
    except KeyError:
        raise ValueError(f"unknown domain {domain!r}; expected one of {sorted(LABEL_SETS)}") from None
