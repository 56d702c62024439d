"""SDF primitives, operators and the canonical-face SDF grid."""
from __future__ import annotations

import numpy as np

from training.data import sdf as S


def pts(*rows):
    return np.asarray(rows, dtype=np.float32)


def test_sphere_and_box_are_exact():
    p = pts([0, 0, 0], [2, 0, 0], [0, 0.5, 0])
    assert np.allclose(S.sphere(p, S.vec(0, 0, 0), 1.0), [-1, 1, -0.5])
    assert np.allclose(S.box(p, S.vec(0, 0, 0), S.vec(1, 1, 1)), [-1, 1, -0.5])


def test_ellipsoid_is_zero_on_its_surface_and_signed():
    radii = S.vec(0.3, 0.2, 0.1)
    rng = np.random.default_rng(0)
    d = rng.normal(size=(200, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    surface = (d * radii).astype(np.float32)
    assert np.abs(S.ellipsoid(surface, S.vec(0, 0, 0), radii)).max() < 1e-5
    assert (S.ellipsoid(surface * 0.5, S.vec(0, 0, 0), radii) < 0).all()
    assert (S.ellipsoid(surface * 1.5, S.vec(0, 0, 0), radii) > 0).all()


def test_smooth_min_bounds():
    a = np.linspace(-1, 1, 50, dtype=np.float32)
    b = a[::-1].copy()
    m = S.smin(a, b, 0.2)
    assert (m <= np.minimum(a, b) + 1e-6).all()
    assert (m >= np.minimum(a, b) - 0.2 / 4 - 1e-6).all()  # at most k/4 below the hard min
    assert np.allclose(S.smax(a, b, 0.2), -S.smin(-a, -b, 0.2))


def test_trilinear_reproduces_linear_functions_and_bounds_outside():
    axis = np.arange(5, dtype=np.float32)
    gx, gy, gz = np.meshgrid(axis, axis, axis, indexing="ij")
    grid = (2 * gx - gy + 0.5 * gz).astype(np.float32)
    q = np.random.default_rng(1).uniform(0, 4, size=(100, 3)).astype(np.float32)
    got = S.trilinear(grid, np.zeros(3, np.float32), 1.0, q)
    assert np.allclose(got, 2 * q[:, 0] - q[:, 1] + 0.5 * q[:, 2], atol=1e-4)
    outside = S.trilinear(grid, np.zeros(3, np.float32), 1.0, pts([4, 0, 7]))
    assert abs(outside[0] - (grid[4, 0, 4] + 3.0)) < 0.01


def test_canonical_face_grid(template):
    # the template's own vertices lie on the zero set (within the subdivision's smoothing)
    d = template.sample(template.verts.astype(np.float32))
    assert np.median(np.abs(d)) < 0.1 and np.abs(d).max() < 0.4  # cm
    tip = template.landmark("nose_tip").astype(np.float32)
    assert template.sample(tip[None] + pts([0, 0, 1.0]))[0] > 0.8  # in front of the nose: outside
    assert template.sample(tip[None] - pts([0, 0, 2.0]))[0] < -1.0  # behind it: inside the head
    # MediaPipe numbering: outer eye corners left/right of the nose, chin lowest
    assert template.landmark("eye_outer_r")[0] < 0 < template.landmark("eye_outer_l")[0]
    assert template.landmark("chin")[1] == template.verts[:, 1].min()
