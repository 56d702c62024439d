"""Output safety (issue 11, part D): atomic writes with the umask's mode, never over an input, a
manifest that tells complete from partial, stale outputs and .tmp files, and one clear line for
every failure to write (the tests run as root, so permission faults are simulated)."""
from __future__ import annotations

import errno
import json
import os
import pathlib
import stat
import tempfile
import time

import numpy as np
import pytest

from s3d_engine.errors import OutputError, S3DError
from s3d_engine.io_utils import write_bytes_atomic
from s3d_engine.labels import label_set
from s3d_engine.mesh.types import LabelledMesh
from s3d_engine.options import GenerateOptions
from s3d_engine.results import (S3DResult, check_outputs, clean_stale_tmp, is_complete, parse_formats,
                                read_manifest)

FACE = label_set("face")


def make_result(**kwargs) -> S3DResult:
    mesh = LabelledMesh(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32), np.array([[0, 1, 2]]),
                        np.zeros((3, 3), np.uint8), np.array([0, 1, 2], np.uint8), list(FACE.names))
    blank = np.zeros((8, 8), np.uint8)
    frame = np.zeros((8, 8, 3), np.uint8)
    args = dict(sketch=np.ones((8, 8), np.float32), mask=blank, mask_rgb=frame, front=frame, front_labels=blank,
                views=[frame, frame], mesh=mesh, seed=0, labels=FACE)
    return S3DResult(**{**args, **kwargs})


def one_line(exc_info, message: str) -> None:
    assert str(exc_info.value) == message and "\n" not in message


def tmp_files(folder) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.endswith(".tmp") and os.path.isfile(os.path.join(folder, n)))


# ---------------------------------------------------------------------------------------------
# Mode
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_every_output_gets_the_umask_mode(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        files = make_result().save(tmp_path, formats="glb,ply,obj")
    finally:
        os.umask(old)
    assert {k: stat.S_IMODE(p.stat().st_mode) for k, p in files.items()} == {k: mode for k in files}


# ---------------------------------------------------------------------------------------------
# Inputs are never written over
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sketch.png", "front.png", "mask.png", "result.json"])
def test_an_input_named_like_an_output_is_never_overwritten(tmp_path, name):
    drawing = tmp_path / name
    drawing.write_bytes(b"the user's drawing")
    with pytest.raises(OutputError) as info:
        make_result().save(tmp_path, protect=[drawing])
    one_line(info, f"refusing to write {drawing} over the input {drawing}; choose another output folder")
    assert drawing.read_bytes() == b"the user's drawing"
    assert sorted(os.listdir(tmp_path)) == [name]  # refused before anything was written


def test_inputs_recorded_on_the_result_are_protected_too(tmp_path):
    drawing = tmp_path / "sketch.png"
    drawing.write_bytes(b"drawing")
    with pytest.raises(OutputError, match="over the input"):
        make_result(inputs=(str(drawing),)).save(tmp_path)
    assert drawing.read_bytes() == b"drawing"


def test_a_hard_link_or_symlink_to_the_input_is_the_input(tmp_path):
    source = tmp_path / "in" / "drawing.png"
    source.parent.mkdir()
    source.write_bytes(b"drawing")
    out = tmp_path / "out"
    out.mkdir()
    os.link(source, out / "sketch.png")
    with pytest.raises(OutputError, match="over the input"):
        make_result().save(out, protect=[source])
    (out / "sketch.png").unlink()
    (out / "front.png").symlink_to(source)
    with pytest.raises(OutputError, match="over the input"):
        make_result().save(out, protect=[source])
    assert source.read_bytes() == b"drawing"


def test_saving_beside_an_input_with_another_name_is_fine(tmp_path):
    drawing = tmp_path / "head.png"
    drawing.write_bytes(b"drawing")
    files = make_result().save(tmp_path, protect=[drawing])
    assert drawing.read_bytes() == b"drawing" and files["sketch"].name == "sketch.png"


def test_check_outputs_runs_before_any_compute(tmp_path):
    drawing = tmp_path / "mask.png"
    drawing.write_bytes(b"drawing")
    with pytest.raises(OutputError, match="over the input"):
        check_outputs(tmp_path, protect=[drawing])
    assert check_outputs(tmp_path / "new" / "deeper", protect=[drawing]) == tmp_path / "new" / "deeper"


# ---------------------------------------------------------------------------------------------
# Manifest, stale outputs, .tmp files
# ---------------------------------------------------------------------------------------------


def test_the_manifest_lists_files_sizes_hashes_and_options(tmp_path):
    opts = GenerateOptions(seed=7, mesh_resolution=64, formats=("glb",))
    files = make_result(options=opts).save(tmp_path)
    manifest = read_manifest(tmp_path)
    assert manifest["complete"] is True and manifest["options"] == opts.to_dict()
    listed = manifest["manifest"]["files"]
    assert set(listed) == {p.name for k, p in files.items() if k != "summary"}
    for name, entry in listed.items():
        data = (tmp_path / name).read_bytes()
        assert entry["size"] == len(data)
        import hashlib

        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert is_complete(tmp_path, opts) and is_complete(tmp_path, opts.to_dict())
    assert not is_complete(tmp_path, opts.replace(seed=0))  # a differing option is not done


def test_a_missing_changed_or_tampered_file_makes_it_incomplete(tmp_path):
    make_result().save(tmp_path, formats="ply")
    assert is_complete(tmp_path, verify_hash=True)
    front = tmp_path / "front.png"
    data = bytearray(front.read_bytes())
    data[-1] ^= 1
    front.write_bytes(bytes(data))  # same size, different bytes
    assert is_complete(tmp_path) and not is_complete(tmp_path, verify_hash=True)
    front.write_bytes(bytes(data) + b"x")
    assert not is_complete(tmp_path)
    front.unlink()
    assert not is_complete(tmp_path)
    assert not is_complete(tmp_path / "nothing-here")
    (tmp_path / "result.json").write_text("{not json")
    assert read_manifest(tmp_path) is None and not is_complete(tmp_path)


def test_a_run_that_dies_midway_leaves_no_complete_manifest_and_no_partial_file(tmp_path, monkeypatch):
    first, second = GenerateOptions(seed=0, formats=("ply",)), GenerateOptions(seed=7, formats=("ply",))
    make_result(options=first).save(tmp_path)
    real = pathlib.Path.write_bytes
    calls = []

    def dies_on_the_third_write(self, data):
        calls.append(self.name)
        if len(calls) == 4:  # manifest invalidation, mesh.ply, mask.png, then mask_rgb.png
            real(self, data[:10])
            raise KeyboardInterrupt  # kill / Ctrl-C between files
        return real(self, data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", dies_on_the_third_write)
    with pytest.raises(KeyboardInterrupt):
        make_result(seed=7, options=second).save(tmp_path)
    monkeypatch.undo()
    assert not is_complete(tmp_path, first) and not is_complete(tmp_path, second)
    assert read_manifest(tmp_path)["complete"] is False
    assert tmp_files(tmp_path) == []
    assert not (tmp_path / "mesh.ply").exists() and not (tmp_path / "mask.png").exists()  # this run's, removed


def test_stale_outputs_of_an_earlier_run_are_removed_or_listed(tmp_path):
    make_result().save(tmp_path, formats="glb,obj")
    (tmp_path / "turntable.gif").unlink()
    (tmp_path / "turntable.gif").write_bytes(b"the user's own file, not in any manifest")
    make_result(views=[]).save(tmp_path, formats="ply")
    names = set(os.listdir(tmp_path))
    assert "mesh.obj" not in names and "mesh.glb" not in names and "mesh.ply" in names
    record = read_manifest(tmp_path)["manifest"]
    assert record["removed_stale"] == ["mesh.glb", "mesh.obj", "turntable_strip.png"]
    assert record["stale"] == ["turntable.gif"]  # replaced by the user since: kept and listed
    assert (tmp_path / "turntable.gif").read_bytes().startswith(b"the user's")
    assert is_complete(tmp_path)


def test_stale_tmp_files_are_cleaned_up(tmp_path):
    old = time.time() - 3600
    stale = [tmp_path / ".mesh.glb.abcd1234.tmp", tmp_path / ".front.png.x_9y8z7w.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
        os.utime(path, (old, old))
    fresh = tmp_path / ".mask.png.qwerty12.tmp"
    fresh.write_bytes(b"a write in progress")
    keep = [tmp_path / "notes.tmp", tmp_path / ".hidden.tmp"]
    for path in keep:
        path.write_bytes(b"user file")
    (tmp_path / ".dir.abcdefgh.tmp").mkdir()
    removed = clean_stale_tmp(tmp_path, min_age_s=60)
    assert sorted(removed) == sorted(stale)
    assert fresh.exists() and all(p.exists() for p in keep) and (tmp_path / ".dir.abcdefgh.tmp").is_dir()
    assert clean_stale_tmp(tmp_path) == [fresh]
    leftover = tmp_path / ".sketch.png.zz99yy88.tmp"  # from a save killed an hour ago
    leftover.write_bytes(b"half a sketch")
    os.utime(leftover, (old, old))
    make_result().save(tmp_path)  # save() itself removes its own old leftovers
    assert tmp_files(tmp_path) == [".hidden.tmp", "notes.tmp"]


# ---------------------------------------------------------------------------------------------
# Failures to write: one line, no partial file
# ---------------------------------------------------------------------------------------------


def test_out_pointing_at_an_existing_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("keep")
    with pytest.raises(OutputError) as info:
        make_result().save(target)
    one_line(info, f"the output folder {target} is an existing file; give a folder path")
    with pytest.raises(OutputError) as info:
        make_result().save(target / "sub")
    one_line(info, f"cannot create the output folder {target / 'sub'}: {target} is an existing file")
    assert target.read_text() == "keep"


def test_an_unwritable_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    with pytest.raises(OutputError) as info:
        make_result().save(tmp_path)
    one_line(info, f"permission denied writing in {tmp_path}; choose an output folder you can write to")
    monkeypatch.undo()

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)  # the folder's mode changed after the check
    with pytest.raises(OutputError) as info:
        make_result().save(tmp_path)
    one_line(info, f"permission denied writing {tmp_path / 'mesh.glb'}; choose an output folder you can write to")
    assert os.listdir(tmp_path) == []


def test_a_read_only_parent(tmp_path, monkeypatch):
    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(pathlib.Path, "mkdir", read_only)
    with pytest.raises(OutputError) as info:
        make_result().save(tmp_path / "new")
    one_line(info, f"cannot write {tmp_path / 'new'}: the file system is read-only; choose another output folder")


def test_a_full_disk_leaves_no_partial_file(tmp_path, monkeypatch):
    real = pathlib.Path.write_bytes

    def full(self, data):
        if self.name.startswith(".mask_rgb.png."):
            real(self, data[:5])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", full)
    with pytest.raises(OutputError) as info:
        make_result().save(tmp_path, formats="ply")
    one_line(info, f"no space left on the disk to write {tmp_path / 'mask_rgb.png'}; "
                   "free some space or choose another output folder")
    assert os.listdir(tmp_path) == []  # no .tmp, no half result, no manifest


def test_an_atomic_write_error_removes_its_temporary_file(tmp_path, monkeypatch):
    def fails(*args):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "replace", fails)
    with pytest.raises(OutputError) as info:
        write_bytes_atomic(tmp_path / "a.bin", b"data")
    one_line(info, f"cannot write {tmp_path / 'a.bin'}: Input/output error")
    assert os.listdir(tmp_path) == []


def test_a_folder_in_the_way_of_an_output(tmp_path):
    (tmp_path / "mask.png").mkdir()
    with pytest.raises(OutputError) as info:
        make_result().save(tmp_path, formats="ply")
    one_line(info, f"cannot write {tmp_path / 'mask.png'}: a folder of that name is in the way; "
                   "move it or choose another output folder")


# ---------------------------------------------------------------------------------------------
# Formats, before any compute
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("glb,ply", ("glb", "ply")), (" GLB , obj ,", ("glb", "obj")), ("ply,ply", ("ply",)), (["obj"], ("obj",)),
])
def test_formats_parse(text, expected):
    assert parse_formats(text) == expected


@pytest.mark.parametrize("text, message", [  # options.parse_formats, re-exported by results
    ("bogus", "unknown mesh format 'bogus'; choose from glb, ply, obj"),
    ("glb,stl", "unknown mesh format 'stl'; choose from glb, ply, obj"),
    (",", "no mesh format given; choose from glb, ply, obj"),
    ("", "no mesh format given; choose from glb, ply, obj"),
    ([1], "formats must be names (glb, ply, obj), got 1"),
    (None, "formats must be a list such as glb,ply, got None"),
])
def test_bad_formats_are_one_line(text, message):
    with pytest.raises(S3DError) as info:
        parse_formats(text)
    one_line(info, message)


def test_bogus_formats_write_nothing(tmp_path):
    with pytest.raises(S3DError, match="unknown mesh format"):
        make_result().save(tmp_path, formats="glb,bogus")
    assert os.listdir(tmp_path) == []


def test_result_json_is_valid_json_with_the_old_fields(tmp_path):
    files = make_result().save(tmp_path, formats="ply")
    summary = json.loads(files["summary"].read_text())
    assert summary["files"]["ply"] == "mesh.ply" and summary["seed"] == 0 and summary["domain"] == "face"


# ---------------------------------------------------------------------------------------------
# Mesh first, then the rest: the final save reuses what the partial save wrote
# ---------------------------------------------------------------------------------------------


def test_final_save_keeps_the_files_the_mesh_first_save_wrote(tmp_path):
    import dataclasses

    final = make_result()
    partial = dataclasses.replace(final, front=None, views=[])  # the worker's mesh event: no renders yet
    first = partial.save(tmp_path, formats="glb,ply")
    inode = {k: first[k].stat().st_ino for k in ("glb", "ply", "mask")}
    files = final.save(tmp_path, formats="glb,ply", reuse=partial)
    assert {k: files[k].stat().st_ino for k in inode} == inode  # not written again (an atomic write renames)
    assert files["front"].is_file() and files["turntable"].is_file()  # the renders are new
    assert is_complete(tmp_path)
    entries = read_manifest(tmp_path)["manifest"]["files"]
    assert set(entries) == {"mesh.glb", "mesh.ply", "mask.png", "mask_rgb.png", "sketch.png", "front.png",
                            "turntable.gif", "turntable_strip.png"}


def test_reuse_needs_the_same_source_and_the_same_file(tmp_path):
    import dataclasses

    final = make_result()
    partial = dataclasses.replace(final)
    partial.save(tmp_path, formats="ply")
    other = make_result()  # an equal mesh, but another object: exported again
    ply = tmp_path / "mesh.ply"
    before = ply.stat().st_ino
    other.save(tmp_path, formats="ply", reuse=partial)
    assert ply.stat().st_ino != before
    partial.save(tmp_path, formats="ply")
    ply.write_bytes(ply.read_bytes() + b"x")  # changed on disk since: written again
    changed = ply.stat().st_ino
    final.save(tmp_path, formats="ply", reuse=partial)
    assert ply.stat().st_ino != changed and is_complete(tmp_path)
