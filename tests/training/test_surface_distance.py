"""Point-to-triangle and point-to-mesh distances (training/surface_distance.py) against answers
worked out by hand, and against a brute-force minimum over every triangle."""
from __future__ import annotations

import numpy as np
import pytest

from training.surface_distance import closest_points_on_triangles, point_to_mesh_distance

A, B, C = np.array([0.0, 0, 0]), np.array([1.0, 0, 0]), np.array([0.0, 1, 0])


@pytest.mark.parametrize("p, expected", [
    ((0.2, 0.2, 0.5), (0.2, 0.2, 0.0)),   # above the interior: drop the z
    ((-1.0, -1.0, 0.3), (0.0, 0.0, 0.0)),  # beyond vertex a
    ((2.0, -0.5, 0.3), (1.0, 0.0, 0.0)),   # beyond vertex b
    ((-0.5, 2.0, 0.0), (0.0, 1.0, 0.0)),   # beyond vertex c
    ((0.5, -1.0, 0.0), (0.5, 0.0, 0.0)),   # beside edge ab
    ((-1.0, 0.25, 0.2), (0.0, 0.25, 0.0)),  # beside edge ac
    ((1.0, 1.0, -0.4), (0.5, 0.5, 0.0)),   # beside edge bc: the foot of the perpendicular on x + y = 1
    ((0.9, 0.3, 0.0), (0.8, 0.2, 0.0)),    # beside bc again, off its midpoint: (0.9, 0.3) - 0.1 (1, 1)
])
def test_closest_point_in_every_voronoi_region(p, expected):
    q = closest_points_on_triangles(np.array(p), A, B, C)
    assert q == pytest.approx(np.array(expected), abs=1e-12)


def test_closest_points_broadcast_over_points_and_triangles():
    p = np.array([[0.2, 0.2, 0.5], [2.0, -0.5, 0.3]])[:, None]  # (2, 1, 3)
    shift = np.array([[0.0, 0, 0], [0.0, 0, 1]])  # the second triangle lifted to z = 1
    q = closest_points_on_triangles(p, A + shift, B + shift, C + shift)  # (2, 2, 3)
    assert q.shape == (2, 2, 3)
    assert q[0, 1] == pytest.approx([0.2, 0.2, 1.0]) and q[1, 1] == pytest.approx([1.0, 0.0, 1.0])


def unit_square():
    v = np.array([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]])
    return v, np.array([[0, 1, 2], [0, 2, 3]])


def test_distance_to_a_square_by_hand():
    v, f = unit_square()
    pts = np.array([[0.5, 0.5, 0.25], [0.3, 0.9, -0.1], [2.0, 0.5, 0.0], [2.0, 2.0, 1.0], [0.5, 0.5, 0.0]])
    d = point_to_mesh_distance(pts, v, f)
    assert d == pytest.approx([0.25, 0.1, 1.0, np.sqrt(3.0), 0.0], abs=1e-12)


def test_concentric_spheres_are_their_gap_apart():
    trimesh = pytest.importorskip("trimesh")
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.3)
    outside = sphere.vertices * (0.32 / 0.3)  # along each vertex's own (radial) normal
    assert point_to_mesh_distance(outside, sphere.vertices, sphere.faces) == pytest.approx(np.full(len(outside), 0.02), abs=1e-12)


def test_a_distant_large_triangle_beats_many_near_centroids():
    """The nearest triangle's centroid is not among the k nearest centroids: a big triangle that
    passes 0.1 below the query point, centroid 2 away, and 40 small triangles whose centroids sit
    at 0.3-0.5, nearer than the big one's centroid but farther than its surface."""
    rng = np.random.default_rng(0)
    p = np.array([[0.0, 0.0, 0.1]])
    big = np.array([[-3.0, -3.0, 0.0], [9.0, -3.0, 0.0], [-3.0, 9.0, 0.0]])  # centroid (1, 1, 0)
    small = []
    for _ in range(40):
        centre = rng.normal(size=3)
        centre = centre / np.linalg.norm(centre) * rng.uniform(0.3, 0.5) + p[0]
        centre[2] = abs(centre[2] - 0.1) + 0.4  # above the query point, well clear of the plane
        small.append(centre + 0.01 * rng.normal(size=(3, 3)))
    verts = np.concatenate([big, *small])
    faces = np.arange(len(verts)).reshape(-1, 3)
    assert point_to_mesh_distance(p, verts, faces, k=4)[0] == pytest.approx(0.1, abs=1e-12)


def test_agrees_with_brute_force_on_a_random_soup():
    rng = np.random.default_rng(1)
    centres = rng.uniform(-1, 1, size=(300, 1, 3))
    tri = centres + rng.uniform(0.005, 0.4, size=(300, 1, 1)) * rng.normal(size=(300, 3, 3))
    verts, faces = tri.reshape(-1, 3), np.arange(900).reshape(-1, 3)
    pts = rng.uniform(-2, 2, size=(200, 3))
    brute = np.linalg.norm(closest_points_on_triangles(pts[:, None], tri[None, :, 0], tri[None, :, 1], tri[None, :, 2])
                           - pts[:, None], axis=-1).min(axis=1)
    assert point_to_mesh_distance(pts, verts, faces, k=2) == pytest.approx(brute, abs=1e-12)


def test_refuses_empty_input():
    v, f = unit_square()
    with pytest.raises(ValueError, match="at least one triangle"):
        point_to_mesh_distance(np.zeros((1, 3)), v, np.zeros((0, 3), dtype=int))


@pytest.mark.parametrize("a, b, c, p, expected", [
    # collinear vertices: the triangle is the segment from (0, 0, 0) to (2, 0, 0)
    ((0, 0, 0), (1, 0, 0), (2, 0, 0), (1.5, 1.0, 0.0), (1.5, 0.0, 0.0)),
    ((0, 0, 0), (2, 0, 0), (1, 0, 0), (3.0, 0.0, 1.0), (2.0, 0.0, 0.0)),
    ((0.1, 0.2, 0.3), (0.1, 0.2, 0.3), (0.1, 0.2, 0.3), (0.1, 0.2, 1.3), (0.1, 0.2, 0.3)),  # one point
    ((0, 0, 0), (0, 0, 0), (0, 1, 0), (0.5, 0.5, 0.0), (0.0, 0.5, 0.0)),  # two vertices coincide
])
def test_degenerate_triangles_are_their_edges(a, b, c, p, expected):
    q = closest_points_on_triangles(np.array(p), *(np.array(x, dtype=float) for x in (a, b, c)))
    assert np.isfinite(q).all() and q == pytest.approx(np.array(expected), abs=1e-12)


def test_nearly_collinear_triangles_never_give_nan():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(2000, 3))
    b = a + rng.normal(size=(2000, 3))
    c = a + (b - a) * rng.uniform(-1, 2, size=(2000, 1)) + 1e-13 * rng.normal(size=(2000, 3))
    p = rng.normal(size=(2000, 3))
    q = closest_points_on_triangles(p, a, b, c)
    assert np.isfinite(q).all()
    seg = np.minimum.reduce([np.linalg.norm(p - (x + (y - x) * np.clip(((p - x) * (y - x)).sum(1) / ((y - x) ** 2).sum(1), 0, 1)[:, None]), axis=1)
                             for x, y in ((a, b), (b, c), (c, a))])
    assert np.linalg.norm(q - p, axis=1) == pytest.approx(seg, abs=1e-9)
