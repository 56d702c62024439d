"""Batch planning, resume markers and arguments (pure Python)."""
import json
import os

import pytest

from s3d.core import batch_plan as bp


def test_script_args_after_double_dash():
    assert bp.script_args(["blender", "-b", "-P", "x.py", "--", "in", "out", "--seed", "3"]) == ["in", "out", "--seed", "3"]
    assert bp.script_args(["in", "out"]) == ["in", "out"]


def test_parser_defaults_and_options():
    a = bp.build_parser().parse_args(["in", "out"])
    assert (a.domain, a.seed, a.variations, a.resolution, a.save_blend, a.view) == ("face", 0, 1, 128, None, "camera")
    assert (a.glb, a.smooth) == (False, 10) and bp.build_parser().parse_args(["in", "out", "--glb"]).glb
    a = bp.build_parser().parse_args(["in", "out", "--save-blend", "--variations", "3", "--seed", "10"])
    assert a.save_blend == "" and bp.seeds(a) == [10, 11, 12]
    a = bp.build_parser().parse_args(["in", "out", "--save-blend", "r.blend", "--blend", "a.blend", "--blend", "b.blend"])
    assert a.save_blend == "r.blend" and a.blend == ["a.blend", "b.blend"]


def test_find_inputs_and_unique_ids(tmp_path):
    for name in ("b.png", "a.JPG", "a.png", "notes.txt", "scene.blend"):
        (tmp_path / name).write_bytes(b"x")
    extra = tmp_path / "sub" / "more.blend"
    extra.parent.mkdir()
    extra.write_bytes(b"x")
    images, blends = bp.find_inputs(str(tmp_path), [str(extra)])
    assert [os.path.basename(i) for i in images] == ["a.JPG", "a.png", "b.png"]
    assert [os.path.basename(b) for b in blends] == ["scene.blend", "more.blend"]
    taken = set()
    items = bp.image_items(images, [0], taken)
    assert [i.id for i in items] == ["a", "a_2", "b"]
    items = bp.image_items(images[2:], [4, 5], taken)
    assert [i.id for i in items] == ["b_seed4", "b_seed5"]
    gp = bp.gp_items(blends[0], ["Face Sketch"], [0], taken)
    assert gp[0].id == "scene__Face_Sketch" and gp[0].object == "Face Sketch" and gp[0].kind == "gp"
    with pytest.raises(FileNotFoundError):
        bp.find_inputs(str(tmp_path / "missing"), [])
    with pytest.raises(FileNotFoundError):
        bp.find_inputs(str(tmp_path), [str(tmp_path / "nope.blend")])


def test_single_file_input(tmp_path):
    f = tmp_path / "one.png"
    f.write_bytes(b"x")
    assert bp.find_inputs(str(f), []) == ([str(f)], [])


def test_resume_markers(tmp_path):
    out = str(tmp_path)
    item = bp.Item("face", "image", "/x/face.png", 0)
    assert not bp.is_done(out, item)
    bp.write_marker(out, item, "failed", error="boom")
    assert not bp.is_done(out, item)
    d = item.out_dir(out)
    bp.write_marker(out, item, "done", files={"ply": os.path.join(d, "mesh.ply")})
    assert not bp.is_done(out, item)  # the marker alone is not enough: the mesh must exist
    open(os.path.join(d, "mesh.ply"), "wb").close()
    assert bp.is_done(out, item)
    marker = bp.read_marker(out, item)
    assert marker["files"] == {"ply": "mesh.ply"} and marker["item"]["id"] == "face"


def test_summary(tmp_path):
    s = bp.Summary(done=["a"], skipped=["b"], failed={"c": "bad"})
    path = s.write(str(tmp_path), {"blend": "x.blend"})
    data = json.loads(open(path).read())
    assert data["failed"] == {"c": "bad"} and data["blend"] == "x.blend"
    assert not s.ok and s.line() == "1 done, 1 skipped (already done), 1 failed"


def test_engine_error_line_names_the_batch_flag():
    from s3d.core.batch_plan import engine_error_line

    line = engine_error_line("engine Python not found: '/x/python'; fix it in the add-on preferences")
    assert line.startswith("error: the S3D engine cannot start: engine Python not found: '/x/python'; ")
    assert "--python PATH" in line and "add-on preferences" not in line and "\n" not in line
    assert "\n" not in engine_error_line("stopped unexpectedly\ntraceback line")
