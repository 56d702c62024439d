"""GenerateOptions: limits with exact messages, the wire form, and the walk of every option from
each front end (CLI, worker protocol, the add-on's request builder) to the pipeline's call."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from s3d_engine import cli, service
from s3d_engine.errors import OptionsError
from s3d_engine.options import GenerateOptions, parse_formats

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "addon"))
import fake_pipeline  # noqa: E402

STROKES = {"strokes": [[[0, 0], [10, 0], [10, 12], [0, 0]], [[3, 4], [4, 4]]]}


def test_defaults_and_round_trip():
    opts = GenerateOptions()
    assert (opts.seed, opts.mesh_resolution, opts.smooth, opts.formats, opts.domain) == (0, 128, 0, ("glb", "ply"), None)
    custom = GenerateOptions(seed=9, mesh_resolution=200, smooth=7, formats="obj,glb,obj", domain="cat")
    wire = custom.to_dict()
    assert wire["formats"] == ["obj", "glb"] and wire["smooth"] == 7
    assert GenerateOptions.from_dict(wire) == custom
    assert custom.replace(seed=10).seed == 10 and custom.replace(seed=10).smooth == 7


@pytest.mark.parametrize("changes, message", [
    ({"mesh_resolution": 0}, "mesh_resolution must lie in 16..512, got 0"),
    ({"mesh_resolution": 1024}, "mesh_resolution must lie in 16..512, got 1024"),
    ({"mesh_resolution": 15}, "mesh_resolution must lie in 16..512, got 15"),
    ({"mesh_resolution": 100.5}, "mesh_resolution must be a whole number, got 100.5"),
    ({"mesh_resolution": "128"}, "mesh_resolution must be a whole number, got '128'"),
    ({"smooth": True}, "smooth is a number of iterations (0..200), got True"),
    ({"smooth": 201}, "smooth must lie in 0..200, got 201"),
    ({"smooth": 100_000_000}, "smooth must lie in 0..200"),
    ({"turntable_frames": 100000}, "turntable_frames must lie in 0..120, got 100000"),
    ({"turntable_frames": -1}, "turntable_frames must lie in 0..120, got -1"),
    ({"decimate_faces": 50}, "decimate_faces must be 0 (off) or at least 100, got 50"),
    ({"seed": 2 ** 70}, "seed must lie in 0..4294967295"),
    ({"seed": -1}, "seed must lie in 0..4294967295, got -1"),
    ({"formats": "bogus"}, "unknown mesh format 'bogus'; choose from glb, ply, obj"),
    ({"formats": ","}, "no mesh format given; choose from glb, ply, obj"),
    ({"formats": [3]}, "formats must be names (glb, ply, obj), got 3"),
    ({"device": "meta"}, "device must be auto, cpu, cuda, cuda:N or mps, got 'meta'"),
    ({"domain": "dog"}, "domain must be one of face, cat, got 'dog'"),
    ({"fit": "stretch"}, "fit must be one of auto, frame, content, got 'stretch'"),
    ({"truncation_psi": float("nan")}, "truncation_psi must be a number in 0..2, got nan"),
    ({"render": "yes"}, "render must be true or false, got 'yes'"),
])
def test_every_limit_gives_one_clear_line(changes, message):
    with pytest.raises(OptionsError) as info:
        GenerateOptions(**changes)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_limits_admit_their_bounds():
    GenerateOptions(mesh_resolution=16, smooth=200, turntable_frames=120, decimate_faces=100, seed=2 ** 32 - 1,
                    device="cuda:1", truncation_psi=2)
    assert parse_formats(["PLY", " glb "]) == ("ply", "glb")


def test_from_dict_refuses_unknown_keys_and_non_objects():
    with pytest.raises(OptionsError, match="unknown option\\(s\\) mesh_res; known: "):
        GenerateOptions.from_dict({"mesh_res": 64})
    with pytest.raises(OptionsError, match="options must be an object"):
        GenerateOptions.from_dict([1, 2])


# ---- the walk: every option, from each front end, arrives at the pipeline unchanged ----------------
WALK = dict(seed=5, mesh_resolution=96, smooth=7, decimate_faces=500, device="cpu", domain="face")


@pytest.fixture
def recorded(monkeypatch):
    fake_pipeline.RECEIVED.clear()
    monkeypatch.setattr("s3d_engine.pipeline.S3DPipeline.from_pretrained",
                        classmethod(lambda cls, name, device="auto": fake_pipeline.FakePipeline("fake:face", device)))
    return fake_pipeline.RECEIVED


def _service_generate(msg):
    cache = service.PipelineCache(lambda: fake_pipeline.FakePipeline)
    events = []
    service.generate(cache, msg, lambda stage, fraction: None, events.append)
    return events


def test_cli_flags_reach_the_pipeline(recorded, tmp_path):
    sketch = ROOT / "examples" / "face_sketch.png"
    code = cli.main(["generate", str(sketch), "-o", str(tmp_path / "o"), "--weights", "fake", "--seed", "5",
                     "--mesh-res", "96", "--smooth", "7", "--decimate", "500", "--frames", "3", "--formats", "ply",
                     "--fit", "content", "--device", "cpu", "--domain", "face", "--no-render"])
    assert code == 0
    (got,) = recorded
    assert {k: got[k] for k in WALK} == WALK
    assert (got["turntable_frames"], got["formats"], got["fit"], got["render"]) == (3, ["ply"], "content", False)


def test_worker_protocol_reaches_the_pipeline(tmp_path):
    fake_pipeline.RECEIVED.clear()
    options = {**WALK, "turntable_frames": 3, "formats": ["ply"], "fit": "content", "render": False}
    events = _service_generate({"id": 1, "cmd": "generate", "protocol": 2, "weights": "fake:face",
                                "options": options, "sketch": STROKES, "out_dir": str(tmp_path)})
    (got,) = fake_pipeline.RECEIVED
    assert {k: got[k] for k in options} == options
    assert [e["event"] for e in events] == ["mesh", "result"] and events[-1]["options"]["smooth"] == 7


def _addon_request_module():
    spec = importlib.util.spec_from_file_location("s3d_request", ROOT / "blender_addon" / "s3d" / "core" / "request.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # bpy-free: loaded without the add-on package
    return module


def test_addon_request_builder_reaches_the_pipeline(tmp_path):
    request = _addon_request_module()
    assert request.PROTOCOL_VERSION == service.PROTOCOL_VERSION

    class Settings:
        device = "cpu"

        def weights_for(self, domain):
            return f"fake:{domain}"

    params = request.generate_request(Settings(), "face", STROKES, mesh_resolution=96, smooth=7, decimate_faces=500)
    fake_pipeline.RECEIVED.clear()
    _service_generate({"id": 1, "cmd": "generate", **request.for_seed(params, 5, str(tmp_path))})
    (got,) = fake_pipeline.RECEIVED
    assert {k: got[k] for k in WALK} == WALK


def test_addon_batch_glb_flag_asks_the_engine_for_a_glb(tmp_path):
    request = _addon_request_module()

    class Settings:
        device = "cpu"

        def weights_for(self, domain):
            return f"fake:{domain}"

    plain = request.generate_request(Settings(), "face", STROKES, mesh_resolution=32, smooth=0, decimate_faces=0)
    with_glb = request.generate_request(Settings(), "face", STROKES, mesh_resolution=32, smooth=0, decimate_faces=0,
                                        glb=True)
    assert plain["options"]["formats"] == ["ply"] and with_glb["options"]["formats"] == ["ply", "glb"]
    fake_pipeline.RECEIVED.clear()
    _service_generate({"id": 1, "cmd": "generate", **request.for_seed(with_glb, 0, str(tmp_path))})
    assert fake_pipeline.RECEIVED[-1]["formats"] == ["ply", "glb"]
