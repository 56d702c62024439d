"""The guards of sketch.py and results.py, reached from the front ends: the CLI and the worker
refuse to write over the user's drawing before any compute; a NaN label map is refused."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from s3d_engine import service
from s3d_engine.cli import main
from s3d_engine.errors import SketchError
from s3d_engine.pipeline import S3DPipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "addon"))
import fake_pipeline  # noqa: E402


def drawing(path: Path) -> bytes:
    img = np.full((64, 64), 255, np.uint8)
    img[20:44, 30] = 0
    Image.fromarray(img).save(path)
    return path.read_bytes()


@pytest.mark.parametrize("name", ["sketch.png", "front.png", "mask.png"])
def test_the_cli_never_writes_over_the_drawing(tmp_path, capsys, monkeypatch, name):
    original = drawing(tmp_path / name)
    monkeypatch.setattr(S3DPipeline, "from_pretrained", classmethod(lambda *a, **k: pytest.fail("loaded weights")))
    assert main(["generate", str(tmp_path / name), "-o", str(tmp_path), "--random-init", "tiny"]) == 2
    err = capsys.readouterr().err
    assert f"refusing to write {tmp_path / name} over the input" in err and err.count("\n") == 1
    assert (tmp_path / name).read_bytes() == original


def test_the_worker_never_writes_over_the_drawing(tmp_path):
    original = drawing(tmp_path / "sketch.png")
    cache = service.PipelineCache(lambda: fake_pipeline.FakePipeline)
    msg = {"id": 1, "cmd": "generate", "protocol": 2, "weights": "fake:face", "options": {},
           "sketch": {"image": str(tmp_path / "sketch.png")}, "out_dir": str(tmp_path)}
    with pytest.raises(Exception, match="over the input") as info:
        service.generate(cache, msg, lambda s, f: pytest.fail("started work"), lambda e: None)
    assert service.error_event(1, info.value)["message"].startswith("refusing to write")
    assert (tmp_path / "sketch.png").read_bytes() == original


def test_a_nan_label_map_is_refused_not_turned_into_background():
    pipe = S3DPipeline.from_pretrained("random:tiny:face", device="cpu")
    mask = np.ones((32, 32), np.float32)
    mask[3, 3] = np.nan
    with pytest.raises(SketchError, match="label map contains NaN or infinite values"):
        pipe(mask=mask, mesh=False)
    assert pipe(mask=np.ones((32, 32), np.float32), mesh=False, render=False).mask.max() == 1


@pytest.mark.parametrize("device, message", [
    ("mps", "device 'mps' was requested but Apple's Metal (MPS) is not available here"),
    ("cuda:7", "was requested but"),
])
def test_devices_this_machine_lacks_are_one_line(device, message, capsys, tmp_path):
    import torch

    if device == "mps" and torch.backends.mps.is_available() or device.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has the device")  # never on CI (no GPU, no Apple silicon)
    drawing(tmp_path / "a.png")
    assert main(["generate", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--random-init", "tiny",
                 "--device", device]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
