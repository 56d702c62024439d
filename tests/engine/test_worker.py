"""The JSON-lines worker (`python -m s3d_engine.worker`), driven through raw pipes.

Most tests use the fake pipeline in tests/addon/fake_pipeline.py (fast, and able to be slow,
noisy or broken on purpose); the last ones run the real S3DPipeline with random tiny weights.
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import trimesh

ROOT = Path(__file__).resolve().parents[2]
FAKE_DIR = ROOT / "tests" / "addon"
STROKES = {"strokes": [[[0, 0, 1], [10, 0, 1], [10, 12, 1], [0, 12, 1], [0, 0, 1]], [[3, 4], [4, 4]], [[6, 4], [7, 4]]]}


class Worker:
    def __init__(self, fake: bool = True, args=()):
        env = dict(os.environ)
        paths = [str(ROOT)] + ([str(FAKE_DIR)] if fake else [])
        env["PYTHONPATH"] = os.pathsep.join(paths + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        if fake:
            env["S3D_WORKER_PIPELINE"] = "fake_pipeline:FakePipeline"
        else:
            env.pop("S3D_WORKER_PIPELINE", None)
        self.proc = subprocess.Popen([sys.executable, "-m", "s3d_engine.worker", *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1, env=env,
                                     cwd=str(ROOT))
        self.lines: "queue.Queue[str | None]" = queue.Queue()
        self.raw: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.stderr: list[str] = []
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.raw.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def send(self, **msg):
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()

    def generate(self, id, weights=None, sketch=STROKES, out_dir=None, protocol=2, **options):
        """A protocol-2 generate request: every generation option goes into "options"."""
        msg = {"id": id, "cmd": "generate", "protocol": protocol, "sketch": sketch, "options": options}
        if weights is not None:
            msg["weights"] = weights
        if out_dir is not None:
            msg["out_dir"] = out_dir
        self.send(**msg)

    def send_raw(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def next(self, timeout=60.0):
        line = self.lines.get(timeout=timeout)
        if line is None:
            raise EOFError("worker closed stdout")
        return json.loads(line)

    def until(self, rid, events=("result", "error", "cancelled", "info", "pong", "ok", "bye"), timeout=120.0):
        """Collect messages for `rid` until one of `events`; returns them all."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            msg = self.next(max(0.1, deadline - time.monotonic()))
            if msg.get("id") == rid:
                got.append(msg)
                if msg["event"] in events:
                    return got

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def worker():
    w = Worker()
    assert w.next()["event"] == "ready"
    yield w
    w.close()


def test_ready_ping_and_info(worker):
    worker.send(id="p", cmd="ping")
    (pong,) = worker.until("p")
    assert pong["event"] == "pong" and pong["pid"] == worker.proc.pid
    worker.send(id="i", cmd="info", weights="fake:cat")
    (info,) = worker.until("i")
    assert info["event"] == "info"
    assert info["info"]["version"] and info["info"]["device"] == "cpu"
    assert info["info"]["pipeline"]["domain"] == "cat"
    assert isinstance(info["info"]["weights_found"], list)


def test_generate_streams_progress_then_result(worker, tmp_path):
    worker.generate(id="g", weights="fake:face", device="cpu", sketch=STROKES, seed=3,
                mesh_resolution=64, smooth=10, decimate_faces=0, out_dir=str(tmp_path / "out"))
    msgs = worker.until("g")
    progress = [m for m in msgs if m["event"] == "progress"]
    result = msgs[-1]
    assert result["event"] == "result", msgs
    # the mesh is streamed as soon as it exists, before the render stage and the result
    events = [m["event"] if m["event"] != "progress" else m["stage"] for m in msgs]
    assert events.index("mesh") < events.index("render") < events.index("result"), events
    (mesh_event,) = [m for m in msgs if m["event"] == "mesh"]
    assert Path(mesh_event["files"]["ply"]).is_file() and "front" not in mesh_event["files"]
    assert mesh_event["domain"] == "face" and mesh_event["options"]["smooth"] == 10
    assert [p["stage"] for p in progress][:2] == ["load", "start"]
    fractions = [p["fraction"] for p in progress]
    assert max(fractions) == 0.95 and progress[-1]["stage"] == "save"
    assert fractions == sorted(fractions)
    assert Path(result["files"]["ply"]).is_file() and Path(result["files"]["front"]).is_file()
    assert result["label_names"][13] == "hair" and len(result["palette"]) == 19
    assert result["domain"] == "face" and result["seed"] == 3 and result["frame_extent"] > 0
    assert result["timings"]["worker_total"] > 0


def test_stdout_stays_clean_when_the_pipeline_prints(worker, tmp_path):
    worker.generate(id="n", weights="fake:face:noisy", sketch=STROKES, out_dir=str(tmp_path))
    assert worker.until("n")[-1]["event"] == "result"
    for line in worker.raw:
        json.loads(line)  # every stdout line is protocol
    time.sleep(0.2)
    assert any("junk" in line for line in worker.stderr)


def test_errors_are_readable_and_the_worker_survives(worker, tmp_path):
    worker.generate(id="e", weights="fake:face:error", sketch=STROKES, out_dir=str(tmp_path))
    (err,) = [m for m in worker.until("e") if m["event"] == "error"]
    assert err["kind"] == "SketchError" and "not a face" in err["message"]
    assert "traceback" not in err  # user errors are one line
    worker.generate(id="m", weights="fake:face", sketch={"nope": 1}, out_dir=str(tmp_path))
    assert "strokes" in worker.until("m")[-1]["message"]
    worker.generate(id="o", weights="fake:face", sketch=STROKES)
    assert "out_dir" in worker.until("o")[-1]["message"]
    worker.send_raw("{not json")
    bad = worker.next()
    assert bad["event"] == "error" and bad["kind"] == "ProtocolError"
    worker.send(id="u", cmd="frobnicate")
    assert "unknown command" in worker.until("u")[-1]["message"]
    worker.send(id="p", cmd="ping")
    assert worker.until("p")[-1]["event"] == "pong"


def test_protocol_version_options_and_domain_are_checked_before_work(worker, tmp_path):
    worker.generate(id="v1", weights="fake:face", out_dir=str(tmp_path), protocol=None)
    (err,) = worker.until("v1")
    assert err["kind"] == "ProtocolError" and "update the add-on or the engine" in err["message"]
    worker.generate(id="v", weights="fake:face", out_dir=str(tmp_path), protocol=1)
    assert "protocol 1" in worker.until("v")[-1]["message"]
    worker.generate(id="o", weights="fake:face", out_dir=str(tmp_path), mesh_res=64)
    (err,) = worker.until("o")  # no progress event: refused before loading anything
    assert err["kind"] == "OptionsError" and "mesh_res" in err["message"]
    worker.generate(id="r", weights="fake:face", out_dir=str(tmp_path), mesh_resolution=0)
    assert "mesh_resolution must lie in 16..512" in worker.until("r")[-1]["message"]
    worker.generate(id="d", weights="fake:cat", out_dir=str(tmp_path / "d"), domain="face")
    err = worker.until("d")[-1]
    assert err["event"] == "error" and "cat" in err["message"] and not (tmp_path / "d").exists()
    worker.generate(id="c", weights="fake:cat", out_dir=str(tmp_path / "c"), domain="cat")
    result = worker.until("c")[-1]
    assert result["event"] == "result" and result["domain"] == "cat" and result["options"]["domain"] == "cat"


def test_hostile_lines_give_errors_and_the_worker_keeps_serving(worker, tmp_path):
    worker.send_raw("[" * 100_000 + "]" * 100_000)
    err = worker.next()
    assert err["event"] == "error" and "nested deeper" in err["message"]
    worker.send_raw(json.dumps({"id": [1, 2], "cmd": "ping"}))
    assert "request id must be a string or a number" in worker.next()["message"]
    worker.send_raw("7")
    assert "must be a JSON object" in worker.next()["message"]
    worker.send_raw('{"id": "big", "cmd": "ping", "pad": "' + "x" * (5 << 20) + '"}')
    assert "byte limit" in worker.next()["message"]
    worker.generate(id="s", weights="fake:face", out_dir=str(tmp_path), sketch={"strokes": [["a", "b"]]})
    assert "stroke 0" in worker.until("s")[-1]["message"]
    worker.generate(id="ok", weights="fake:face", out_dir=str(tmp_path))
    assert worker.until("ok")[-1]["event"] == "result"
    worker.proc.stdin.close()  # EOF still ends the process after all that
    assert worker.proc.wait(10) == 0


def test_cancel_running_and_queued_jobs(worker, tmp_path):
    worker.generate(id="slow", weights="fake:face:slow=0.4", sketch=STROKES, out_dir=str(tmp_path / "a"))
    worker.generate(id="queued", weights="fake:face:slow=0.4", sketch=STROKES, out_dir=str(tmp_path / "b"))
    # wait until the first job runs, then cancel both
    while True:
        msg = worker.next()
        if msg.get("id") == "slow" and msg.get("stage") == "mask":
            break
    t0 = time.monotonic()
    worker.send(id="c1", cmd="cancel", target="slow")
    worker.send(id="c2", cmd="cancel", target="queued")
    assert worker.until("slow")[-1]["event"] == "cancelled"
    assert time.monotonic() - t0 < 3.0  # stopped at the next stage boundary (0.4 s), with room for a loaded machine
    assert worker.until("queued")[-1]["event"] == "cancelled"
    assert not (tmp_path / "b" / "mesh.ply").exists()
    worker.generate(id="after", weights="fake:face", sketch=STROKES, out_dir=str(tmp_path / "c"))
    assert worker.until("after")[-1]["event"] == "result"


def test_shutdown_and_end_of_input(worker, tmp_path):
    worker.send(id="s", cmd="shutdown")
    assert worker.until("s")[-1]["event"] == "bye"
    assert worker.proc.wait(10) == 0
    w2 = Worker()
    try:
        assert w2.next()["event"] == "ready"
        w2.generate(id="g", weights="fake:face:slow=2", sketch=STROKES, out_dir=str(tmp_path))
        time.sleep(0.5)
        w2.proc.stdin.close()  # the client went away mid-job
        assert w2.proc.wait(10) == 0
    finally:
        w2.close()


def test_a_crash_ends_the_process(tmp_path):
    w = Worker()
    try:
        w.generate(id="x", weights="fake:face:crash", sketch=STROKES, out_dir=str(tmp_path))
        assert w.proc.wait(30) == 17
    finally:
        w.close()


# ---- the real pipeline (random tiny weights) --------------------------------------------------------
needs_pipeline = pytest.mark.skipif(not (ROOT / "s3d_engine" / "pipeline.py").exists(), reason="no pipeline yet")


@needs_pipeline
def test_real_pipeline_generate_and_cache(tmp_path):
    w = Worker(fake=False, args=["--device", "cpu"])
    try:
        assert w.next()["event"] == "ready"
        w.send(id="i", cmd="info", weights="random:tiny:face")
        info = w.until("i", timeout=300)[-1]
        assert info["event"] == "info", info
        assert info["info"]["pipeline"]["config"] == "tiny"
        times = []
        for k in range(2):
            t0 = time.monotonic()
            w.generate(id=f"g{k}", weights="random:tiny:face", sketch=STROKES, seed=k, mesh_resolution=48,
                   smooth=0, out_dir=str(tmp_path / f"o{k}"))
            msgs = w.until(f"g{k}", timeout=300)
            times.append(time.monotonic() - t0)
            res = msgs[-1]
            assert res["event"] == "result", res
            assert "load" not in [m.get("stage") for m in msgs]  # the model stays loaded
            header = Path(res["files"]["ply"]).read_bytes()[:2000]
            assert b"property uchar label" in header and b"property uchar red" in header
            assert res["vertices"] > 0 and res["faces"] > 0
        w.generate(id="bad", weights="no-such-weights", sketch=STROKES, out_dir=str(tmp_path / "x"))
        err = w.until("bad")[-1]
        assert err["event"] == "error" and err["kind"] == "WeightsError" and "no-such-weights" in err["message"]
        w.generate(id="img", weights="random:tiny:face", sketch={"image": str(tmp_path / "missing.png")},
               out_dir=str(tmp_path / "y"))
        err = w.until("img")[-1]
        assert err["event"] == "error" and "not found" in err["message"]
    finally:
        w.close()


@needs_pipeline
def test_real_pipeline_progress_contract_then_result(tmp_path):
    """A cold generate on the real tiny pipeline: only progress events (load, start, the pipeline's
    stages, finishing, save) with fractions that never go down, then one result whose files exist
    and whose mesh has vertices."""
    w = Worker(fake=False, args=["--device", "cpu"])
    try:
        assert w.next()["event"] == "ready"
        w.generate(id="g", weights="random:tiny:face", sketch=STROKES, seed=1, mesh_resolution=40,
               smooth=0, formats=["ply", "glb"], out_dir=str(tmp_path / "out"))
        msgs = w.until("g", timeout=300)
        *progress, result = msgs
        assert result["event"] == "result", result
        assert [m["event"] for m in progress].count("mesh") == 1
        progress = [m for m in progress if m["event"] != "mesh"]
        assert progress and all(m["event"] == "progress" for m in progress), msgs
        stages = [m["stage"] for m in progress]
        assert stages[:3] == ["load", "start", "sketch"], stages  # cold: the model loads first
        assert stages[-2:] == ["finishing", "save"], stages
        fractions = [m["fraction"] for m in progress]
        assert all(0.0 <= f <= 1.0 for f in fractions)
        assert all(a <= b for a, b in zip(fractions, fractions[1:])), fractions
        assert fractions[0] == 0.0 and fractions[-1] == 0.95 and len(set(fractions)) >= 3
        for kind in ("ply", "glb", "front", "mask", "summary"):
            assert Path(result["files"][kind]).is_file(), kind
        mesh = trimesh.load(result["files"]["ply"], process=False)
        assert len(mesh.vertices) == result["vertices"] > 0 and len(mesh.faces) == result["faces"] > 0
        labels = mesh.metadata["_ply_raw"]["vertex"]["data"]["label"]
        assert len(labels) == len(mesh.vertices) and labels.max() < 19
        assert result["domain"] == "face" and len(result["label_names"]) == 19
        w.send(id="p", cmd="ping")
        assert [m["event"] for m in w.until("p")] == ["pong"]  # nothing more for the finished job
        assert sum(json.loads(line).get("id") == "g" for line in w.raw) == len(msgs)
    finally:
        w.close()
