"""Engine interpreter detection and settings precedence (pure Python)."""
import os

from conftest import ROOT
from s3d.core import detect, worker_link


def test_engine_root_from_a_venv_inside_the_checkout(monkeypatch):
    monkeypatch.delenv("S3D_ENGINE_ROOT", raising=False)
    assert detect.engine_root_for(str(ROOT / ".venv" / "bin" / "python")) == str(ROOT)
    assert detect.engine_root_for("/usr/bin/python3") is None


def test_source_checkout_root():
    assert detect.source_checkout_root() == ROOT


def test_candidates_start_with_the_environment(monkeypatch, engine_py):
    monkeypatch.setenv("S3D_ENGINE_PYTHON", engine_py)
    assert detect.candidates()[0] == engine_py
    assert detect.quick_guess() == engine_py


def test_probe_and_detect(monkeypatch, engine_py):
    info = detect.probe(engine_py)
    assert info is not None and info["version"]
    monkeypatch.setenv("S3D_ENGINE_PYTHON", engine_py)
    assert detect.detect() == engine_py
    assert detect.probe("/definitely/not/python") is None


def test_settings_precedence(monkeypatch):
    monkeypatch.setenv("S3D_ENGINE_PYTHON", "/env/python")
    monkeypatch.setenv("S3D_WEIGHTS", "random:tiny:{domain}")
    monkeypatch.setenv("S3D_DEVICE", "cpu")
    monkeypatch.setenv("S3D_ENGINE_ROOT", "/env/root")
    s = worker_link.resolve_settings()
    assert (s.python, s.weights, s.device, s.engine_root) == ("/env/python", "random:tiny:{domain}", "cpu", "/env/root")
    assert s.weights_for("cat") == "random:tiny:cat"
    s = worker_link.resolve_settings("/prefs/python", "face", "cuda", "/prefs/root")
    assert (s.python, s.weights, s.device, s.engine_root) == ("/prefs/python", "face", "cuda", "/prefs/root")
    for key in ("S3D_ENGINE_PYTHON", "S3D_WEIGHTS", "S3D_DEVICE", "S3D_ENGINE_ROOT"):
        monkeypatch.delenv(key)
    s = worker_link.resolve_settings()
    assert s.weights_for("face") == "face" and s.device == "auto"
    assert s.python == (os.path.abspath(detect.quick_guess()) if detect.quick_guess() else "")


def test_the_installed_engine_comes_after_explicit_choices(monkeypatch, tmp_path):
    for key in ("S3D_ENGINE_PYTHON", "S3D_ENGINE_ROOT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(detect, "quick_guess", lambda: "/checkout/.venv/bin/python")
    installed = str(tmp_path / "engine" / "bin" / "python")
    s = worker_link.resolve_settings(installed_python=installed, weights_dir=str(tmp_path / "weights"))
    assert s.python == installed and s.weights_dir == str(tmp_path / "weights")  # before a checkout's guess
    assert worker_link.resolve_settings("/prefs/python", installed_python=installed).python == "/prefs/python"
    monkeypatch.setenv("S3D_ENGINE_PYTHON", "/env/python")
    assert worker_link.resolve_settings(installed_python=installed).python == "/env/python"
    monkeypatch.delenv("S3D_ENGINE_PYTHON")
    assert worker_link.resolve_settings().python == "/checkout/.venv/bin/python"
    assert worker_link.resolve_settings().weights_dir is None


def test_the_worker_gets_the_user_weights_folder(monkeypatch, tmp_path):
    seen = {}

    class Client:
        def __init__(self, python, **kw):
            seen.update(kw, python=python)

        def shutdown(self):
            pass

    monkeypatch.setattr(worker_link, "WorkerClient", Client)
    worker_link.shutdown()
    try:
        worker_link.get_client(worker_link.EngineSettings("/e/python", None, "{domain}", "cpu", str(tmp_path)))
        assert seen["python"] == "/e/python" and seen["env"] == {"S3D_WEIGHTS_DIR": str(tmp_path)}
        worker_link.get_client(worker_link.EngineSettings("/e/python", None, "{domain}", "cpu", None))
        assert seen["env"] is None  # another folder (none): a new worker, without the variable
    finally:
        worker_link._client = None
        worker_link.shutdown()
