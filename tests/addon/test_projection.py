"""Projection and placement maths (pure Python)."""
import math

import pytest

from s3d.core import projection as pj


def camera_matrices(distance=10.0, lens=50.0, sensor=36.0, near=0.1, far=100.0):
    """Blender's default perspective camera at (0, -distance, 0) looking along +Y, built by hand."""
    cam_world = [[1, 0, 0, 0], [0, 0, -1, -distance], [0, 1, 0, 0], [0, 0, 0, 1]]
    # world -> camera is the inverse of that rigid transform
    view = [[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, -distance], [0, 0, 0, 1]]
    f = 2 * lens / sensor
    proj = [[f, 0, 0, 0], [0, f, 0, 0], [0, 0, -(far + near) / (far - near), -2 * far * near / (far - near)], [0, 0, -1, 0]]
    return cam_world, pj.matmul(proj, view)


def test_camera_projection_matches_blender_reference():
    # blender.md 2.3: front camera at (0,-10,0), 256x256: (0,0,1) -> (128.0, 92.4)
    _, persp = camera_matrices()
    (stroke,) = pj.project_strokes([[(0.0, 0.0, 1.0, 1.0)]], persp, 256, 256)
    x, y, p = stroke[0]
    assert x == pytest.approx(128.0)
    assert y == pytest.approx(92.4, abs=0.05)
    assert p == 1.0


def test_points_behind_the_eye_split_the_stroke():
    _, persp = camera_matrices()
    stroke = [(0, 0, 0), (0.1, 0, 0), (0, -20, 0), (0.2, 0, 0), (0.3, 0, 0)]
    out = pj.project_strokes([stroke], persp, 100, 100)
    assert [len(s) for s in out] == [2, 2]


def test_basis_from_camera_is_front_basis():
    cam_world, _ = camera_matrices()
    r, u, b = pj.basis_from_camera(cam_world)
    for got, want in zip((r, u, b), pj.FRONT_BASIS):
        assert got == pytest.approx(want)


def test_basis_from_view_matrix_rows():
    cam_world, _ = camera_matrices()
    view = [[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, -10], [0, 0, 0, 1]]
    for got, want in zip(pj.basis_from_view_matrix(view), pj.basis_from_camera(cam_world)):
        assert got == pytest.approx(want)


def test_orthographic_front_projection_is_x_right_y_down():
    out = pj.project_orthographic([[(1.0, 5.0, 2.0, 0.5)]])
    assert out == [[[1.0, -2.0, 0.5]]]


@pytest.mark.parametrize("yaw", [0.0, 0.7, 2.0, -2.5])
def test_placement_faces_the_viewer(yaw):
    # a viewer looking at the origin from direction `back` (rotated about Z)
    back = (math.sin(yaw), -math.cos(yaw), 0.0)
    right = (math.cos(yaw), math.sin(yaw), 0.0)
    up = (0.0, 0.0, 1.0)
    assert pj.cross(right, up) == pytest.approx(back)
    m = pj.placement_matrix((1.0, 2.0, 3.0), (right, up, back), 2.0)
    # EG3D: face looks +z, y up, x right (of the head's own left-right as seen by the viewer)
    nose = pj.eg3d_to_local([0.0, 0.0, 1.0])
    top = pj.eg3d_to_local([0.0, 1.0, 0.0])
    side = pj.eg3d_to_local([1.0, 0.0, 0.0])
    origin = pj.transform_point(m, (0, 0, 0))
    assert origin == pytest.approx((1.0, 2.0, 3.0))
    d = [a - b for a, b in zip(pj.transform_point(m, nose), origin)]
    assert d == pytest.approx([2 * c for c in back])
    d = [a - b for a, b in zip(pj.transform_point(m, top), origin)]
    assert d == pytest.approx([2 * c for c in up])
    d = [a - b for a, b in zip(pj.transform_point(m, side), origin)]
    assert d == pytest.approx([2 * c for c in right])


def test_placement_is_a_proper_rotation():
    m = pj.placement_matrix((0, 0, 0), pj.FRONT_BASIS, 1.0)
    assert m == pj.identity()


def test_eg3d_to_local_numpy_and_list_agree():
    np = pytest.importorskip("numpy")
    v = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.25]], dtype=np.float32)
    assert pj.eg3d_to_local(v).ravel().tolist() == pytest.approx(pj.eg3d_to_local(v.ravel().tolist()))


def test_extent_and_fit_scale():
    strokes = [[(0, 0, 0), (2, 0, 0)], [(0, 0, 1)]]
    assert pj.sketch_extent(strokes, pj.FRONT_BASIS) == pytest.approx(2.0)
    assert pj.sketch_extent([], pj.FRONT_BASIS) == 0.0
    assert pj.fit_scale(0.84 * 0.5, 0.5) == pytest.approx(1.0)
    assert pj.fit_scale(0.0, 1.0) == 1.0


def test_rows_accepts_nested_sequences():
    m = pj.rows(((1, 2, 3, 4),) * 4)
    assert m[3] == [1.0, 2.0, 3.0, 4.0]
