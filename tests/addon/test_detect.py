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
