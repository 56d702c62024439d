"""Facial feature regions painted on the skin, in the canonical face's frame (template cm).

Eyes, brows, nose, lips and the mouth slit are 2D regions of the template's frontal (x, y)
plane, positioned from MediaPipe landmarks (eye corners and lids, brow peak, nose tip and alae,
mouth corners and lip midpoints) and shaped by the identity's parameters. Because the face is
a frontal surface, a region extruded along z selects a patch of it; `z > Z_MIN` keeps the
patch on the front. Evaluated in template space after the identity's inverse warp, the regions
move with the geometry (a bigger nose has a bigger nose label, an open jaw carries the lower lip).

Naming: `l_*` is the part on the image's left in a frontal view (world x < 0, the subject's
right), which is our reading of CelebAMask-HQ's convention; swap `LEFT_SIGN` if needed.
"""
from __future__ import annotations

import math

import numpy as np

from s3d_engine.labels import FACE_LABELS

from .face_params import FaceParams

L = {name: i for i, name in enumerate(FACE_LABELS.names)}
LEFT_SIGN = -1.0  # world x sign of the l_* parts
Z_MIN = 1.0
MOUTH_Y = -4.27  # template y of the lip line (between landmarks 13 and 14)


class FeatureRegions:
    """Boolean region tests for one identity (all template cm)."""

    def __init__(self, p: FaceParams):
        self.p = p
        self.eye_cx = 3.155 + p.eye_spacing
        self.eye_cy = 2.63
        self.eye_a = 1.3 * p.eye_size
        self.eye_up = 0.5 * p.eye_size * p.eye_open
        self.eye_down = 0.34 * p.eye_size * (0.5 + 0.5 * p.eye_open)
        self.mouth_w = 2.46 * p.mouth_width

    # -- individual regions (x is |x| for symmetric parts; returns bool tensors)
    def _eye(self, ax: np.ndarray, y: np.ndarray) -> np.ndarray:
        u = (ax - self.eye_cx) / self.eye_a
        inside = np.abs(u) < 1.0
        base = np.maximum(1.0 - u * u, 0.0)
        centre = self.eye_cy + self.p.eye_tilt * u
        dy = y - centre
        return inside & (dy < self.eye_up * base ** 0.7) & (dy > -self.eye_down * base ** 0.85)

    def _brow(self, ax: np.ndarray, y: np.ndarray) -> np.ndarray:
        p = self.p
        inner = 1.75 + 0.5 * p.eye_spacing
        t = (ax - inner) / 3.95
        inside = (t > 0.0) & (t < 1.0)
        tc = np.clip(t, 0.0, 1.0)
        centre = 4.4 + p.brow_raise - 0.15 * tc + p.brow_arch * 0.75 * np.sin(math.pi * tc ** 0.8)
        half = p.brow_thickness * (0.34 - 0.2 * tc)
        return inside & (np.abs(y - centre) < half)

    def _nose(self, ax: np.ndarray, y: np.ndarray) -> np.ndarray:
        upper = (y <= 2.2) & (y > -1.2)
        w_up = 0.65 + (2.2 - y) / 3.4 * 1.2
        lower = (y <= -1.2) & (y > -2.35)
        w_low = 1.85 * np.sqrt(np.maximum(1.0 - ((y + 1.2) * (1 / 1.15)) ** 2, 0.0))
        return (upper & (ax < w_up)) | (lower & (ax < w_low))

    def _lips(self, ax: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = self.p
        u = ax / self.mouth_w
        inside = u < 1.0
        base = np.maximum(1.0 - u * u, 0.0)
        mid = MOUTH_Y + p.smile * u * u
        cupid = 0.12 * np.exp(-(ax * (1 / 0.45)) ** 2)
        top = mid + p.upper_lip * base ** 0.55 - cupid
        slit = p.mouth_slit * base ** 0.5
        bottom = mid - slit - p.lower_lip * base ** 0.6
        upper = inside & (y < top) & (y >= mid)
        mouth = inside & (y < mid) & (y >= mid - slit)
        lower = inside & (y < mid - slit) & (y > bottom)
        return upper, mouth, lower

    def paint(self, cf: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Class ids for skin points: template coords `cf`, c-space coords `c` (N, 3)."""
        x, y, z = cf[:, 0], cf[:, 1], cf[:, 2]
        ax = np.abs(x)
        front = z > Z_MIN
        left = (x * LEFT_SIGN) > 0
        out = np.full(x.shape, L["skin"], dtype=np.uint8)

        def put(mask: np.ndarray, left_id: int, right_id: int | None = None) -> None:
            m = mask & front
            if right_id is None:
                out[m] = left_id
            else:
                out[m & left] = left_id
                out[m & ~left] = right_id

        put(self._nose(ax, y), L["nose"])
        put(self._brow(ax, y), L["l_brow"], L["r_brow"])
        put(self._eye(ax, y), L["l_eye"], L["r_eye"])
        upper, mouth, lower = self._lips(ax, y)
        put(upper, L["u_lip"])
        put(lower, L["l_lip"])
        put(mouth, L["mouth"])
        return out

    def eye_albedo(self, cf: np.ndarray, base: np.ndarray, iris: np.ndarray) -> np.ndarray:
        """Sclera, iris ring, pupil and a dark lash line along the upper lid."""
        p = self.p
        x, y = cf[:, 0], cf[:, 1]
        ax = np.abs(x)
        cx = np.sign(x) * self.eye_cx + p.iris_offset[0]  # gaze shifts both irises the same way
        r = np.sqrt((x - cx) ** 2 + (y - self.eye_cy - p.iris_offset[1]) ** 2)
        ring = (r < 0.58 * p.eye_size)[:, None]
        iris_col = iris[None] * (0.8 + 0.4 * np.cos(r * 25.0))[:, None]
        col = np.where(ring, iris_col, base)
        col = np.where((r < 0.24 * p.eye_size)[:, None], np.float32(0.01), col)
        u = (ax - self.eye_cx) / self.eye_a
        top = self.eye_cy + p.eye_tilt * u + self.eye_up * np.maximum(1.0 - u * u, 0.0) ** 0.7
        lash = (top - y) < 0.13 * p.eye_size
        return np.where(lash[:, None], col * 0.15, col).astype(np.float32)
