"""`s3d batch` under hostile conditions: shared stems, `..` names, a crashing item, changed
options, an interrupt, a concurrent batch, an output path that is a file (issue 11, items 2-4)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from s3d_engine import batch
from s3d_engine.cli import main
from s3d_engine.pipeline import S3DPipeline
from s3d_engine.sketch import rasterize_strokes

FAST = ["--random-init", "tiny", "--mesh-res", "16", "--no-render", "--device", "cpu", "--formats", "ply"]


def write_sketch(path, radius=0.3):
    t = np.linspace(0, 2 * np.pi, 30)
    img = rasterize_strokes([np.stack([0.5 + radius * np.cos(t), 0.5 + 0.4 * np.sin(t)], 1)], 64)
    Image.fromarray((img * 255).astype(np.uint8)).save(path, format="PNG")


def run(src, out, *extra):
    return main(["batch", str(src), str(out), *FAST, *extra])


def report(out):
    return json.loads((out / "batch_report.json").read_text())


def test_same_stem_and_dot_names_get_their_own_folders_inside_the_output(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    write_sketch(src / "head.png")
    write_sketch(src / "head.jpg", radius=0.2)
    write_sketch(src / "...png")
    out = tmp_path / "out"
    assert run(src, out) == 0
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["_...png", "head.jpg", "head.png"]
    assert not (tmp_path / "mesh.ply").exists()  # nothing landed in the output's parent
    assert report(out)["done"] == 3
    ply_a, ply_b = (out / "head.png" / "sketch.png").read_bytes(), (out / "head.jpg" / "sketch.png").read_bytes()
    assert ply_a != ply_b  # two results, not one written twice


def test_output_folders_are_distinct_even_case_insensitively(tmp_path):
    names = batch.output_folders([tmp_path / "A.png", tmp_path / "a.png", tmp_path / "a.PNG"])
    assert len({n.lower() for n in names.values()}) == 3


def test_one_crashing_item_is_recorded_and_the_batch_goes_on(tmp_path, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        write_sketch(src / name)
    real_call = S3DPipeline.__call__

    def flaky(self, sketch=None, options=None, **kw):
        if str(sketch).endswith("b.png"):
            raise RuntimeError("disk on fire")
        return real_call(self, sketch, options, **kw)

    monkeypatch.setattr(S3DPipeline, "__call__", flaky)
    out = tmp_path / "out"
    assert run(src, out) == 1
    rep = report(out)
    assert rep["done"] == 2 and rep["failed"] == {"b.png": "RuntimeError: disk on fire"}
    monkeypatch.setattr(S3DPipeline, "__call__", real_call)
    assert run(src, out) == 0 and report(out) == {"total": 3, "skipped": 2, "done": 1, "failed": {},
                                                   "interrupted": False}


def test_changed_options_or_redo_invalidate_old_results(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    write_sketch(src / "a.png")
    out = tmp_path / "out"
    assert run(src, out) == 0
    assert run(src, out, "--seed", "7") == 0
    assert report(out)["skipped"] == 0  # seed 0's result does not count for seed 7
    summary = json.loads((out / "a" / "result.json").read_text())
    assert summary["options"]["seed"] == 7
    assert run(src, out, "--seed", "7") == 0 and report(out)["skipped"] == 1
    (out / "a" / "mesh.ply").unlink()  # a listed file is missing: not done
    assert run(src, out, "--seed", "7") == 0 and report(out)["done"] == 1


def test_an_interrupt_writes_the_report_and_leaves_no_half_result_counted_done(tmp_path, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    write_sketch(src / "a.png")
    write_sketch(src / "b.png")
    out = tmp_path / "out"
    assert run(src, out) == 0
    real_call = S3DPipeline.__call__

    def interrupted(self, sketch=None, options=None, **kw):
        if str(sketch).endswith("b.png"):
            raise KeyboardInterrupt
        return real_call(self, sketch, options, **kw)

    monkeypatch.setattr(S3DPipeline, "__call__", interrupted)
    assert run(src, out, "--redo") == 130
    rep = report(out)
    assert rep["interrupted"] is True and rep["done"] == 1
    assert not (out / "b" / "result.json").exists()  # invalidated before the redo began
    assert not (out / batch.LOCK_NAME).exists()
    monkeypatch.setattr(S3DPipeline, "__call__", real_call)
    assert run(src, out) == 0 and report(out)["skipped"] == 1 and report(out)["done"] == 1


def test_a_concurrent_batch_is_refused_and_a_dead_lock_taken_over(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    write_sketch(src / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / batch.LOCK_NAME).write_text(str(os.getpid()))  # a live process holds it
    assert run(src, out) == 2
    err = capsys.readouterr().err
    assert f"another batch (pid {os.getpid()}) is writing to" in err and err.count("\n") == 1
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (out / batch.LOCK_NAME).write_text(dead.stdout.strip())
    assert run(src, out) == 0 and not (out / batch.LOCK_NAME).exists()


@pytest.mark.parametrize("argv_tail, message", [
    (["--mesh-res", "0"], "mesh_resolution must lie in 16..512, got 0"),
    (["--formats", "bogus"], "unknown mesh format 'bogus'"),
    (["--formats", ","], "no mesh format given"),
    (["--seed", str(2 ** 70)], "seed must lie in 0..4294967295"),
    (["--device", "meta"], "device must be auto, cpu, cuda, cuda:N or mps"),
    (["--frames", "100000"], "turntable_frames must lie in 0..120"),
    (["--smooth", "100000000"], "smooth must lie in 0..200"),
])
def test_bad_options_fail_before_any_work(tmp_path, capsys, argv_tail, message):
    write_sketch(tmp_path / "a.png")
    out = tmp_path / "out"
    assert main(["generate", str(tmp_path / "a.png"), "-o", str(out), "--random-init", "tiny", *argv_tail]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
    assert not out.exists()


def test_batch_output_that_is_a_file_is_refused(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    write_sketch(src / "a.png")
    (tmp_path / "out").write_text("keep me")
    assert run(src, tmp_path / "out") == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert (tmp_path / "out").read_text() == "keep me"
