"""3D ground truth for the generator: points near the surface and uniform in the EG3D box, with
the procedural head's signed distance, part label and albedo at each point.

This is Occupancy Networks' / PIFu's point sampling applied to our procedural heads, which know
their exact field (real photos never do):

* near-surface points: samples of the head's zero level set (a 64^3 marching-cubes mesh of
  its SDF; half uniform by area, half class-balanced by `class_balance`), displaced by
  isotropic Gaussian noise with sigma 0.005 (half of them, the crisp boundary) and 0.02 (the other half, the shell around it). The exact SDF is re-evaluated
  at the displaced point, so the coarse mesh only decides *where* to look, never the target;
* uniform points over the box [-0.5, 0.5]^3 (free space and the interior).

The part label is the head's own `evaluate` label (nearest part, with the facial-feature paint
on skin: eyes, brows, lips are painted, not carved, so they exist only as surface labels), and
the albedo is the head's base colour without lighting (what the mesh's vertex colours show).

Storage per identity (`{data}/field/{split}/{identity}.npz`, written atomically; a run resumes
by skipping identities already written): 32,768 points x (3 float32 + float16 + uint8 + 3
uint8) = 0.45 MB.

    python -m training.field_samples --data out/face_data
"""
from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.data.gt_mesh import head_mesh
from training.data.render import BOX_HALF
from training.data.writer import atomic_write_bytes

NEAR_SIGMAS = (0.005, 0.02)  # world units; the box is 1.0 wide, a head about 0.45
NEAR_FRACTION = 0.75
SURFACE_MESH_RES = 64
POINTS_PER_IDENTITY = 32768


@dataclass
class FieldSamples:
    """Per-identity 3D ground truth, rows aligned with `identities`."""

    identities: np.ndarray  # (I,) int64
    points: np.ndarray  # (I, N, 3) float32 world
    sdf: np.ndarray  # (I, N) float16, negative inside
    labels: np.ndarray  # (I, N) uint8 class ids
    albedo: np.ndarray  # (I, N, 3) uint8 linear base colour x 255

    def row_of(self) -> dict[int, int]:
        return {int(k): i for i, k in enumerate(self.identities.tolist())}


def triangle_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area of each triangle: half the norm of the cross product of two edges."""
    tri = vertices[faces].astype(np.float64)
    return 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)


def surface_points(vertices: np.ndarray, faces: np.ndarray, n: int, rng: np.random.Generator,
                   face_weight: np.ndarray | None = None) -> np.ndarray:
    """n points on a triangle mesh: triangle ~ area x face_weight, then uniform barycentrics via
    the square-root trick (u = 1 - sqrt(r1), v = sqrt(r1) (1 - r2), w = sqrt(r1) r2)."""
    area = triangle_areas(vertices, faces)
    if face_weight is not None:
        area = area * face_weight
    pick = rng.choice(len(faces), size=n, p=area / area.sum())
    r1, r2 = np.sqrt(rng.random(n)), rng.random(n)
    u, v, w = 1 - r1, r1 * (1 - r2), r1 * r2
    t = vertices[faces[pick]].astype(np.float64)
    return (u[:, None] * t[:, 0] + v[:, None] * t[:, 1] + w[:, None] * t[:, 2]).astype(np.float32)


def class_balance(vertices: np.ndarray, faces: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-triangle weights 1 / sqrt(A_c) (A_c: the surface area of the triangle's class, the
    class of its first vertex), so a class receives samples ~ sqrt(A_c) instead of ~ A_c: the
    eyes, brows and lips (tiny painted areas) get ~10x more points than by area alone, which
    is where the sketch carries its detail."""
    area = triangle_areas(vertices, faces)
    cls = labels[faces[:, 0]].astype(np.int64)
    per_class = np.bincount(cls, weights=area, minlength=int(cls.max()) + 1)
    return 1.0 / np.sqrt(np.maximum(per_class[cls], 1e-12))


def sample_identity(head, rng: np.random.Generator, n: int = POINTS_PER_IDENTITY) -> dict[str, np.ndarray]:
    """Points, SDF, labels and albedo of one head (see the module docstring)."""
    mesh = head_mesh(head, res=SURFACE_MESH_RES)
    n_near = int(n * NEAR_FRACTION)
    surf = np.concatenate([surface_points(mesh.vertices, mesh.faces, n_near // 2, rng),
                           surface_points(mesh.vertices, mesh.faces, n_near - n_near // 2, rng,
                                          class_balance(mesh.vertices, mesh.faces, mesh.labels))])
    rng.shuffle(surf)
    sig = np.repeat(np.asarray(NEAR_SIGMAS, np.float32), [n_near // 2, n_near - n_near // 2])
    near = surf + rng.standard_normal((n_near, 3)).astype(np.float32) * sig[:, None]
    uniform = rng.uniform(-BOX_HALF, BOX_HALF, (n - n_near, 3)).astype(np.float32)
    pts = np.clip(np.concatenate([near, uniform]), -BOX_HALF, BOX_HALF).astype(np.float32)
    sdf, labels = head.evaluate(pts)
    normals = np.zeros_like(pts)  # the albedos do not shade; normals are unused there
    albedo = head.albedo(pts, labels, normals)
    return {"points": pts, "sdf": sdf.astype(np.float16), "labels": labels.astype(np.uint8),
            "albedo": (np.clip(albedo, 0, 1) * 255 + 0.5).astype(np.uint8)}


def identity_rng(identity: int) -> np.random.Generator:
    """The sampling RNG of an identity: files and in-memory samples are the same points."""
    return np.random.default_rng([7, int(identity)])


def _stack(identities, rows: list[dict[str, np.ndarray]]) -> FieldSamples:
    return FieldSamples(identities=np.asarray(list(identities), np.int64),
                        **{key: np.stack([r[key] for r in rows]) for key in ("points", "sdf", "labels", "albedo")})


def field_path(root: Path, split: str, identity: int) -> Path:
    return Path(root) / "field" / split / f"{identity}.npz"


def dataset_identities(root: Path, split: str) -> list[int]:
    """Identities of a `make_dataset` folder's split, in sample order, without duplicates."""
    seen: dict[int, None] = {}
    for meta in sorted((Path(root) / "meta" / split).glob("*.json")):
        seen[int(json.loads(meta.read_text())["identity"])] = None
    return list(seen)


def _job(args: tuple) -> int:
    root, split, kind, identity = args
    from training.data.sample import make_head, set_single_thread

    set_single_thread()
    data = sample_identity(make_head(kind, identity), identity_rng(identity))
    buf = io.BytesIO()
    np.savez(buf, **data)
    atomic_write_bytes(field_path(Path(root), split, identity), buf.getvalue())
    return identity


def make_field_samples(root: str | Path, splits=("train", "test"), workers: int = 2) -> int:
    """Write the missing per-identity files of a dataset folder; returns how many were written."""
    root = Path(root)
    info = json.loads((root / "dataset_info.json").read_text())
    jobs = [(str(root), s, info["kind"], k) for s in splits for k in dataset_identities(root, s)
            if not field_path(root, s, k).is_file()]
    if not jobs:
        return 0
    if info["kind"] == "face":
        from training.data.face_template import face_template

        face_template()  # built once, inherited by forked workers
    t0 = time.time()
    done = 0
    ctx = mp.get_context("fork")
    with ctx.Pool(max(1, workers)) as pool:
        for _ in pool.imap_unordered(_job, jobs, chunksize=4):
            done += 1
            if done % 100 == 0 or done == len(jobs):
                print(f"field samples {done}/{len(jobs)} ({done / (time.time() - t0):.1f} identities/s)", flush=True)
    return done


def load_field_samples(root: str | Path, split: str, identities) -> FieldSamples:
    """Stack the per-identity files of `identities` (all must exist)."""
    rows = []
    for k in identities:
        path = field_path(Path(root), split, int(k))
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run python -m training.field_samples --data {root}")
        with np.load(path) as z:
            rows.append({key: z[key] for key in ("points", "sdf", "labels", "albedo")})
    return _stack(identities, rows)


def sample_field(kind: str, identities, n: int = POINTS_PER_IDENTITY) -> FieldSamples:
    """The same samples computed in memory (tests, small runs): no files."""
    from training.data.sample import make_head

    return _stack(identities, [sample_identity(make_head(kind, int(k)), identity_rng(k), n) for k in identities])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.field_samples", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="a training.make_dataset folder")
    ap.add_argument("--splits", nargs="+", default=["train", "test"])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args(argv)
    if not (Path(args.data) / "dataset_info.json").is_file():
        raise SystemExit(f"error: {args.data} is not a training.make_dataset folder (no dataset_info.json)")
    n = make_field_samples(args.data, args.splits, args.workers)
    print(f"wrote {n} identities under {Path(args.data) / 'field'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
