"""The reusable entry point: one deterministic sample = one view of one procedural identity.

Seeds and splits
* An *identity* is an integer. Identities below `TEST_IDENTITY_OFFSET` (10^9) are training
  identities; identities at or above it form the held-out test split. Training code asks for
  training identities only (`identity_seed("train", k)`), so the test heads are never seen.
* `identity_seed(split, k, seed)` = offset(split) + seed * 10^6 + k, for k < 10^6 and
  seed < 1000: a dataset's identities depend only on (split, seed, k).
* Everything about an identity (shape, colours, accessories) comes from
  `np.random.default_rng([kind_code, identity])`; everything about one of its views (camera,
  lighting, sketch style and stroke noise) from `default_rng([kind_code, identity, view + 1])`.
  So `render_sample(kind, identity, view, res)` is reproducible on any machine.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from s3d_engine.cameras import CAMERA_DEFAULTS, camera_label, intrinsics_matrix, look_at_pose, sample_poses

from .render import View, random_lighting, render_view
from .sketches import make_sketch

TEST_IDENTITY_OFFSET = 1_000_000_000
SEED_STRIDE = 1_000_000
KIND_CODES = {"face": 1, "cat": 2}


def identity_seed(split: str, index: int, seed: int = 0) -> int:
    """The identity number of the `index`-th head of a dataset split made with `seed`."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not 0 <= index < SEED_STRIDE:
        raise ValueError(f"identity index must lie in [0, {SEED_STRIDE}), got {index}")
    if not 0 <= seed < 1000:
        raise ValueError(f"seed must lie in [0, 1000), got {seed}")
    return (TEST_IDENTITY_OFFSET if split == "test" else 0) + seed * SEED_STRIDE + index


def split_of(identity: int) -> str:
    return "test" if identity >= TEST_IDENTITY_OFFSET else "train"


def _kind_code(kind: str) -> int:
    try:
        return KIND_CODES[kind]
    except KeyError:
        raise ValueError(f"unknown kind {kind!r}; expected 'face' or 'cat'") from None


def make_head(kind: str, identity: int):
    """The procedural head of an identity (FaceHead or CatHead) and its parameters."""
    rng = np.random.default_rng([_kind_code(kind), identity])
    if kind == "face":
        from .face_params import sample_face_params
        from .heads_face import FaceHead

        return FaceHead(sample_face_params(rng))
    from .heads_cat import CatHead, sample_cat_params

    return CatHead(sample_cat_params(rng))


def view_camera(kind: str, rng: np.random.Generator, yaw_range: float | None = None, pitch_range: float | None = None,
                radius_jitter: float = 0.0, pivot_jitter: float = 0.0) -> np.ndarray:
    """An FFHQ-like pose (the engine's `sample_poses`: Gaussian yaw/pitch clipped to the ranges).
    Optional jitter varies the radius and the look-at point around the domain defaults."""
    cam = sample_poses(rng, 1, kind, yaw_range=yaw_range, pitch_range=pitch_range)[0]
    if radius_jitter <= 0 and pivot_jitter <= 0:
        return cam
    d = CAMERA_DEFAULTS[kind]
    c2w = cam[:16].reshape(4, 4).astype(np.float64)
    origin = c2w[:3, 3]
    # recover yaw/pitch of the drawn pose, then rebuild it with the jittered radius and pivot
    pitch = math.acos(np.clip(origin[1] / np.linalg.norm(origin), -1, 1))
    yaw = math.pi - math.atan2(origin[2], origin[0])
    radius = d.radius * (1.0 + rng.uniform(-radius_jitter, radius_jitter))
    pivot = np.asarray(d.pivot) + rng.uniform(-pivot_jitter, pivot_jitter, 3)
    v = (1.0 - math.cos(pitch)) / 2.0 * math.pi
    return camera_label(look_at_pose(yaw, v, pivot, radius), intrinsics_matrix(d.focal))


@dataclass
class Sample:
    """One rendered view with all its ground truth."""

    kind: str
    identity: int
    view_index: int
    rgb: np.ndarray  # (H, W, 3) uint8
    labels: np.ndarray  # (H, W) uint8
    depth: np.ndarray  # (H, W) float32 camera-space z, 0 on background
    alpha: np.ndarray  # (H, W) uint8 {0, 1}
    normals: np.ndarray  # (H, W, 3) float32
    camera: np.ndarray  # (25,) float32 pix2pix3D/EG3D camera label
    sketch: np.ndarray  # (H, W) float32 in [0, 1], black strokes on white
    sketch_style: str
    params: dict = field(default_factory=dict)

    @property
    def split(self) -> str:
        return split_of(self.identity)


def render_sample(kind: str, seed: int, view_index: int = 0, res: int = 128, sketch_style: str | None = None,
                  yaw_range: float | None = None, pitch_range: float | None = None, radius_jitter: float = 0.0,
                  pivot_jitter: float = 0.0, head=None) -> Sample:
    """Render view `view_index` of identity `seed` at res^2: RGB, labels, depth, alpha, normals,
    camera label and a sketch. Pass `head` (from `make_head`) to reuse it across views."""
    head = head if head is not None else make_head(kind, seed)
    rng = np.random.default_rng([_kind_code(kind), seed, view_index + 1])
    cam = view_camera(kind, rng, yaw_range, pitch_range, radius_jitter, pivot_jitter)
    view = render_view(head, cam, res, random_lighting(rng))
    sketch, style = make_sketch(view, rng, sketch_style)
    return Sample(kind=kind, identity=seed, view_index=view_index, rgb=view.rgb, labels=view.labels,
                  depth=view.depth, alpha=view.alpha, normals=view.normals, camera=view.camera,
                  sketch=sketch, sketch_style=style, params=head.p.to_dict())


def sample_view(sample: Sample) -> View:
    """The render buffers of a sample as a `View` (for re-sketching)."""
    return View(rgb=sample.rgb, labels=sample.labels, depth=sample.depth, alpha=sample.alpha,
                normals=sample.normals, camera=sample.camera)


def set_single_thread() -> None:
    """Worker processes run one thread each (two processes on two cores beat one process with
    two threads for these small arrays): torch, if loaded, gets one thread too."""
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
