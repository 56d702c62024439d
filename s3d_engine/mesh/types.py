"""The engine's mesh result: geometry plus per-vertex sRGB colour and part label."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Enclosed volume sum_f a . (b x c) / 6 over faces (a, b, c): positive when a closed mesh's
    faces are counter-clockwise seen from outside."""
    v = np.asarray(vertices, dtype=np.float64)
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


@dataclass
class LabelledMesh:
    vertices: np.ndarray  # (V, 3) float32, EG3D world coordinates (y up, face toward +z)
    faces: np.ndarray  # (F, 3) int32, counter-clockwise seen from outside
    colors: np.ndarray  # (V, 3) uint8 sRGB
    labels: np.ndarray  # (V,) uint8 part index
    label_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.vertices = np.ascontiguousarray(self.vertices, dtype=np.float32)
        self.faces = np.ascontiguousarray(self.faces, dtype=np.int32)
        self.colors = np.ascontiguousarray(self.colors, dtype=np.uint8)
        self.labels = np.ascontiguousarray(self.labels, dtype=np.uint8)

    @property
    def is_empty(self) -> bool:
        return len(self.faces) == 0

    def signed_volume(self) -> float:
        return signed_volume(self.vertices, self.faces)

    def vertex_normals(self) -> np.ndarray:
        """Area-weighted normals (numpy bincount; cheap)."""
        v = self.vertices.astype(np.float64)
        f = self.faces
        fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
        n = np.zeros_like(v)
        for k in range(3):
            for axis in range(3):
                n[:, axis] += np.bincount(f[:, k], weights=fn[:, axis], minlength=len(v))
        norm = np.linalg.norm(n, axis=1, keepdims=True)
        return (n / np.maximum(norm, 1e-12)).astype(np.float32)

    def label_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.label_names))
        return {name: int(counts[i]) for i, name in enumerate(self.label_names) if counts[i]}
