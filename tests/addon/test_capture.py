"""Stroke extraction from stand-ins shaped like GPv2, GPv3 and annotation data (no bpy)."""
from types import SimpleNamespace as NS

import pytest

from s3d import capture

IDENT = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]


def translate(x, y, z):
    return [[1, 0, 0, x], [0, 1, 0, y], [0, 0, 1, z], [0, 0, 0, 1]]


class Points(list):
    """A point collection with bpy's foreach_get."""

    def foreach_get(self, attr, buf):
        k = 0
        for p in self:
            v = getattr(p, attr)
            for c in (v if isinstance(v, tuple) else (v,)):
                buf[k] = c
                k += 1


def v2_stroke(pts, pressure=1.0):
    return NS(points=Points(NS(co=tuple(p), pressure=pressure) for p in pts))


def v2_object(frames, layer_matrix=IDENT, world=IDENT, hide=False, name="GP"):
    layer = NS(frames=[NS(frame_number=n, strokes=[v2_stroke(s) for s in strokes]) for n, strokes in frames],
               matrix_layer=layer_matrix, hide=hide)
    return NS(type="GPENCIL", name=name, matrix_world=world, data=NS(layers=[layer]))


def v3_object(strokes, radius=0.02, layer_matrix=IDENT, world=IDENT, name="GP3"):
    drawing = NS(strokes=[NS(points=[NS(position=tuple(p), radius=radius) for p in s]) for s in strokes])
    frame = NS(frame_number=1, drawing=drawing)
    layer = NS(frames=[frame], current_frame=lambda: frame, matrix_local=layer_matrix, hide=False)
    return NS(type="GREASEPENCIL", name=name, matrix_world=world, data=NS(layers=[layer]))


def test_gpv2_strokes_in_world_space_with_layer_and_object_transform():
    obj = v2_object([(1, [[(0, 0, 0), (1, 0, 0)]])], layer_matrix=translate(0, 0, 1), world=translate(10, 0, 0))
    sk = capture.gp_object_strokes(obj, frame_current=1)
    assert sk.strokes == [[(10.0, 0.0, 1.0, 1.0), (11.0, 0.0, 1.0, 1.0)]]
    assert sk.name == "GP" and sk.num_points == 2


def test_gpv2_picks_the_frame_shown_at_the_current_frame():
    obj = v2_object([(1, [[(0, 0, 0)]]), (5, [[(5, 0, 0)]]), (9, [[(9, 0, 0)]])])
    assert capture.gp_object_strokes(obj, 7).strokes[0][0][0] == 5.0
    assert capture.gp_object_strokes(obj, 9).strokes[0][0][0] == 9.0
    # before the first key: fall back to the first frame rather than nothing
    assert capture.gp_object_strokes(obj, 0).strokes[0][0][0] == 0.0


def test_hidden_layers_are_skipped():
    obj = v2_object([(1, [[(0, 0, 0)]])], hide=True)
    assert capture.gp_object_strokes(obj, 1).strokes == []


def test_gpv3_radius_becomes_relative_pressure():
    obj = v3_object([[(0, 0, 0), (1, 0, 0)], [(0, 0, 1)]], world=translate(0, 2, 0))
    sk = capture.gp_object_strokes(obj, 1)
    assert [len(s) for s in sk.strokes] == [2, 1]
    assert sk.strokes[0][1] == (1.0, 2.0, 0.0, 1.0)


def test_annotations_new_and_old_attribute_names():
    layer = NS(frames=[NS(frame_number=1, strokes=[v2_stroke([(0, 0, 0), (0, 0, 1)])])], annotation_hide=False)
    data = NS(name="Annotations", layers=[layer])
    for scene in (NS(annotation=data), NS(grease_pencil=data)):
        sk = capture.annotation_strokes(scene, 1)
        assert sk.source == "annotation" and sk.num_points == 2


def test_capture_prefers_active_gp_then_source_of_result_then_annotations():
    gp = v2_object([(1, [[(0, 0, 0)]])], name="Face")
    result = {"s3d_sketch": "Face"}
    result_obj = NS(type="MESH", name="Face_s3d", get=result.get)
    scene = NS(annotation=None, grease_pencil=None)
    assert capture.capture(scene, gp, 1).name == "Face"
    assert capture.capture(scene, result_obj, 1, objects=[gp, result_obj]).name == "Face"
    other = v2_object([(1, [[(0, 0, 0)]])], name="Other")
    with pytest.raises(capture.CaptureError, match="nothing to generate"):
        capture.capture(scene, None, 1, objects=[gp, other])
    with pytest.raises(capture.CaptureError, match="select a Grease Pencil"):
        capture.capture(scene, None, 1, source="GPENCIL", objects=[gp, other])


def test_empty_gp_object_is_a_readable_error():
    obj = v2_object([(1, [])])
    with pytest.raises(capture.CaptureError, match="no strokes"):
        capture.capture(NS(annotation=None), obj, 1, source="GPENCIL")


def test_not_a_gp_object():
    with pytest.raises(capture.CaptureError):
        capture.gp_object_strokes(NS(type="MESH", name="Cube"), 1)
