"""WorkerClient and GenerateSession against a real worker process running the fake pipeline."""
import os
import time

import pytest

from conftest import FAKE_PIPELINE, HERE, ROOT
from s3d.core import plyio, worker_link
from s3d.core.client import WorkerClient, WorkerError, worker_env
from s3d.core.request import for_seed, generate_request
from s3d.core.session import GenerateSession

STROKES = {"strokes": [[[0, 0], [10, 0], [10, 10], [0, 0]], [[2, 2], [3, 3]]]}


def params(weights, domain="face"):
    """The add-on's own request builder, as the panel and the batch use it."""
    return generate_request(worker_link.EngineSettings("python", None, weights, "cpu"), domain, STROKES,
                            mesh_resolution=64, smooth=0, decimate_faces=0)


def job(weights, out_dir, seed=0):
    return for_seed(params(weights), seed, out_dir)


@pytest.fixture
def client(engine_py, monkeypatch):
    monkeypatch.setenv("S3D_WORKER_PIPELINE", FAKE_PIPELINE)
    c = WorkerClient(engine_py, pythonpath=[str(ROOT), str(HERE)], on_result=worker_link.parse_result,
                     log=lambda line: None, hard_cancel_after=3.0)
    yield c
    c.shutdown()


def poll_until(client, cond, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        client.poll()
        time.sleep(0.01)


def test_generate_with_parsed_mesh(client, tmp_path):
    req = client.submit("generate", **job("fake:face", str(tmp_path)))
    assert req.state == "pending"
    client.wait(req, 60)
    assert req.state == "done", req.error
    assert isinstance(req.parsed, plyio.PlyMesh) and req.parsed.num_faces > 0
    assert req.event["files"]["ply"].endswith("mesh.ply")
    assert req.id not in client.requests


def test_poll_is_non_blocking_and_reports_progress(client, tmp_path):
    req = client.submit("generate", **job("fake:face:slow=0.2", str(tmp_path)))
    worst = 0.0
    stages = set()
    while not req.finished:
        t = time.perf_counter()
        client.poll()
        worst = max(worst, time.perf_counter() - t)
        stages.add(req.stage)
        time.sleep(0.01)
    assert req.state == "done"
    assert {"mask", "planes", "render", "mesh"} <= stages
    assert worst < 0.2  # a queue poll; generous for a loaded CI machine


def test_cancel_is_immediate_and_the_worker_stays_warm(client, tmp_path):
    req = client.submit("generate", **job("fake:face:slow=0.5", str(tmp_path / "a")))
    poll_until(client, lambda: req.stage == "mask")
    pid = client.pid
    client.cancel(req)
    assert req.state == "cancelled"
    req2 = client.submit("generate", **job("fake:face", str(tmp_path / "b")))
    client.wait(req2, 60)
    assert req2.state == "done" and client.pid == pid and client.starts == 1


def test_hard_cancel_kills_a_stuck_worker(client, tmp_path):
    req = client.submit("generate", **job("fake:face:slow=30", str(tmp_path)))
    poll_until(client, lambda: req.stage == "mask")
    client.cancel(req)
    proc = client.proc
    poll_until(client, lambda: proc.poll() is not None, timeout=10)
    req2 = client.submit("ping")
    client.wait(req2, 60)
    assert req2.state == "done" and client.starts == 2


def test_crash_gives_a_readable_error_and_the_next_request_restarts(client, tmp_path):
    req = client.submit("generate", **job("fake:face:crash", str(tmp_path)))
    client.wait(req, 60)
    assert req.state == "error"
    assert "stopped unexpectedly" in req.error and "17" in req.error
    req2 = client.submit("generate", **job("fake:face", str(tmp_path / "b")))
    client.wait(req2, 60)
    assert req2.state == "done" and client.starts == 2


def test_killed_worker_mid_job(client, tmp_path):
    req = client.submit("generate", **job("fake:face:slow=1", str(tmp_path)))
    poll_until(client, lambda: req.state == "running")
    client.proc.kill()
    client.wait(req, 30)
    assert req.state == "error" and "exit code -9" in req.error


def test_wrong_python_is_a_readable_error(tmp_path):
    c = WorkerClient(str(tmp_path / "nope" / "python"))
    with pytest.raises(WorkerError, match="engine Python not found"):
        c.submit("ping")
    with pytest.raises(WorkerError, match="no engine Python"):
        WorkerClient("").submit("ping")


def test_python_without_the_engine_reports_the_import_error(tmp_path, engine_py):
    # an interpreter that exists but cannot import s3d_engine (no site-packages, no checkout on the path)
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\nexec {engine_py} -S \"$@\"\n")
    fake.chmod(0o755)
    c = WorkerClient(str(fake), log=lambda line: None, cwd=str(tmp_path))
    try:
        req = c.submit("ping")
        c.wait(req, 30)
    finally:
        c.shutdown()
    assert req.state == "error"
    assert "stopped unexpectedly" in req.error and "No module named 's3d_engine'" in req.error


def test_worker_env_drops_blender_python_settings(monkeypatch):
    monkeypatch.setenv("PYTHONHOME", "/blender/python")
    env = worker_env(["/engine"])
    assert "PYTHONHOME" not in env and env["PYTHONPATH"].split(os.pathsep)[0] == "/engine"


def test_session_variations_progress_and_status(client, tmp_path):
    s = GenerateSession(client, params("fake:face:slow=0.05"), [5, 6, 7], str(tmp_path), "My Face")
    s.start()
    seen = []
    deadline = time.monotonic() + 60
    progress = []
    while not s.finished:
        assert time.monotonic() < deadline
        seen += s.step()
        progress.append(s.progress)
        time.sleep(0.01)
    seen += s.step()
    assert sorted(j.seed for j in seen) == [5, 6, 7]
    assert progress == sorted(progress) and s.progress == 1.0
    assert s.status_text() == "finished 3/3"
    assert [os.path.basename(j.out_dir) for j in s.jobs] == ["My_Face_seed5", "My_Face_seed6", "My_Face_seed7"]
    assert not s.errors() and len(s.results()) == 3


def test_session_cancel(client, tmp_path):
    s = GenerateSession(client, params("fake:face:slow=0.3"), [1, 2], str(tmp_path))
    s.start()
    poll_until(client, lambda: s.jobs[0].request.state == "running")
    s.cancel()
    assert s.finished and s.cancelled and not s.results()
