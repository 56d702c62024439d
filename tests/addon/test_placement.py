"""Placement of a result beside its sketch (pure Python, hand-computed numbers)."""
import pytest

from s3d.core import placement as pl
from s3d.core.projection import FRONT_BASIS

SIDE_BASIS = ((0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (1.0, 0.0, 0.0))  # Blender's Right view
SKETCH = [[(0.0, 0.0, 0.0, 1.0), (2.0, 0.0, 4.0, 1.0)]]  # 2 wide, 4 high, in the XZ plane
MESH_LO, MESH_HI = (-0.5, -0.5, -1.0), (0.5, 0.5, 1.0)  # a head 1 wide, 2 high, centred


def rows_of(m):
    return [[round(v, 9) for v in row] for row in m]


def test_view_box_and_mesh_bounds():
    assert pl.view_box(SKETCH, FRONT_BASIS) == ((0.0, 0.0, 0.0), (2.0, 4.0, 0.0))
    assert pl.view_box([], FRONT_BASIS) is None
    # EG3D (x, y, z) -> local (x, -z, y)
    assert pl.mesh_bounds([-1.0, -2.0, -3.0, 1.0, 2.0, 3.0]) == ((-1.0, -3.0, -2.0), (1.0, 3.0, 2.0))
    np = pytest.importorskip("numpy")
    assert pl.mesh_bounds(np.array([[-1.0, -2.0, -3.0], [1.0, 2.0, 3.0]])) == ((-1.0, -3.0, -2.0), (1.0, 3.0, 2.0))


def test_head_scale_matches_the_sketch_height():
    assert pl.head_scale((2.0, 4.0), (1.0, 2.0)) == 2.0
    assert pl.head_scale((3.0, 0.0), (1.5, 2.0)) == 2.0  # a flat sketch: widths
    assert pl.head_scale((0.0, 0.0), (1.0, 2.0)) == 1.0


def test_first_result_stands_beside_the_sketch_at_its_scale():
    # scale 4/2 = 2, head 2 wide, gap 0.25 * 2 = 0.5: centre x = 2 + 0.5 + 1 = 3.5, z = 4/2 = 2
    m = pl.place_result(SKETCH, FRONT_BASIS, MESH_LO, MESH_HI)
    assert rows_of(m) == [[2, 0, 0, 3.5], [0, 2, 0, 0], [0, 0, 2, 2], [0, 0, 0, 1]]


def test_variations_step_one_head_and_one_gap_to_the_right():
    m = pl.place_result(SKETCH, FRONT_BASIS, MESH_LO, MESH_HI, index=1)
    assert [m[0][3], m[1][3], m[2][3]] == pytest.approx([3.5 + 2.5, 0.0, 2.0])


def test_off_centre_mesh_is_centred_on_the_target():
    # mesh box centre (0.5, 0.5, 1) scaled by 2 -> (1, 1, 2) is subtracted from the target
    m = pl.place_result(SKETCH, FRONT_BASIS, (0.0, 0.0, 0.0), (1.0, 1.0, 2.0))
    assert [m[0][3], m[1][3], m[2][3]] == pytest.approx([2.5, -1.0, 0.0])


def test_the_cursor_anchors_results_without_a_sketch_object():
    m = pl.place_result(SKETCH, FRONT_BASIS, MESH_LO, MESH_HI, index=1, anchor=(1.0, 2.0, 3.0))
    assert [m[0][3], m[1][3], m[2][3]] == pytest.approx([1.0 + 2.5, 2.0, 3.0])
    assert m[0][0] == pytest.approx(2.0)  # still at the sketch's scale


def test_side_view_sketch_faces_the_side_view():
    # a sketch in the YZ plane at x = 5 seen from the right: view coords r 0..2, u 0..4, b = 5
    sketch = [[(5.0, 0.0, 0.0, 1.0), (5.0, 2.0, 4.0, 1.0)]]
    m = pl.place_result(sketch, SIDE_BASIS, MESH_LO, MESH_HI)
    assert [m[0][3], m[1][3], m[2][3]] == pytest.approx([5.0, 3.5, 2.0])
    face = [-m[i][1] / 2.0 for i in range(3)]  # local -Y (where the face looks), unscaled
    assert face == pytest.approx([1.0, 0.0, 0.0])  # toward the viewer (B)
