"""Documented limits on everything a user can set, in one place. Each bound keeps a request
within about 3 GB of memory and minutes of compute on a laptop CPU; docs/ERRORS.md quotes them.

Why these numbers:
* mesh resolution 16..512: the coarse-to-fine grid holds float32 density + label logits for the
  active shell only, but marching cubes and the vertex attributes scale with the surface
  (~6 R^2 vertices): 512^3 is ~1.5 M vertices, the largest mesh a Blender user can still edit.
* turntable frames 0..120: each frame is a full render + super-resolution (~0.3 s on a CPU).
* smoothing 0..200 Taubin iterations: beyond ~100 the head visibly shrinks; each is O(vertices).
* decimation 0 (off) or 100..5,000,000 target faces.
* seed 0..2^32-1: what numpy/torch generators take without wrapping.
* truncation psi 0..2: StyleGAN's interpolation weight towards w_avg; >1 extrapolates.
"""
from __future__ import annotations

MESH_RESOLUTION_MIN, MESH_RESOLUTION_MAX = 16, 512
FRAMES_MAX = 120
SMOOTH_MAX = 200
DECIMATE_MIN, DECIMATE_MAX = 100, 5_000_000
SEED_MAX = 2 ** 32 - 1
TRUNCATION_MIN, TRUNCATION_MAX = 0.0, 2.0
MESH_FORMATS = ("glb", "ply", "obj")
DOMAINS = ("face", "cat")
FIT_MODES = ("auto", "frame", "content")
