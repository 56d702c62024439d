"""Optional mesh clean-up with the fast library calls (performance.md §5): largest component
(scipy csgraph), Taubin smoothing (trimesh), quadric decimation (fast-simplification)."""
from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def largest_component(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(faces) == 0:
        return vertices, faces
    n = len(vertices)
    rows = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2]])
    cols = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0]])
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    face_comp = comp[faces[:, 0]]
    keep_comp = np.bincount(face_comp).argmax()
    kept_faces = faces[face_comp == keep_comp]
    used = np.zeros(n, dtype=bool)  # a mask, not np.unique: no sort or hash of 3F indices
    used[kept_faces] = True
    used = np.flatnonzero(used)
    remap = np.full(n, -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return vertices[used], remap[kept_faces].astype(np.int32)


def taubin_smooth(vertices: np.ndarray, faces: np.ndarray, iterations: int = 10) -> np.ndarray:
    import trimesh
    from trimesh.smoothing import filter_taubin

    mesh = trimesh.Trimesh(vertices=vertices.astype(np.float64), faces=faces, process=False)
    filter_taubin(mesh, iterations=iterations)
    return np.asarray(mesh.vertices, dtype=np.float32)


def decimate(vertices: np.ndarray, faces: np.ndarray, target_faces: int) -> tuple[np.ndarray, np.ndarray]:
    if target_faces <= 0 or len(faces) <= target_faces:
        return vertices, faces
    import fast_simplification

    v, f = fast_simplification.simplify(vertices.astype(np.float32), faces.astype(np.int32),
                                        target_count=int(target_faces))
    return np.asarray(v, dtype=np.float32), np.asarray(f, dtype=np.int32)
