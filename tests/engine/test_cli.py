import json

import numpy as np
import pytest
from PIL import Image

from s3d_engine.cli import main
from s3d_engine.sketch import rasterize_strokes


def write_sketch(path):
    t = np.linspace(0, 2 * np.pi, 30)
    img = rasterize_strokes([np.stack([0.5 + 0.3 * np.cos(t), 0.5 + 0.4 * np.sin(t)], 1)], 64)
    Image.fromarray((img * 255).astype(np.uint8)).save(path)


def test_generate_writes_everything(tmp_path, capsys):
    write_sketch(tmp_path / "a.png")
    rc = main(["generate", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--random-init", "tiny",
               "--mesh-res", "32", "--frames", "2", "--device", "cpu"])
    assert rc == 0
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"mesh.glb", "mesh.ply", "mask.png", "front.png", "turntable.gif", "result.json"} <= names


def test_batch_resumes_and_reports_failures(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    write_sketch(src / "a.png")
    write_sketch(src / "b.png")
    (src / "broken.png").write_bytes(b"garbage")
    args = ["batch", str(src), str(tmp_path / "out"), "--random-init", "tiny", "--mesh-res", "32", "--frames", "0"]
    assert main(args) == 1  # one failure -> non-zero
    report = json.loads((tmp_path / "out" / "batch_report.json").read_text())
    assert report["done"] == 2 and list(report["failed"]) == ["broken.png"]
    assert "cannot read" in report["failed"]["broken.png"]
    (src / "broken.png").unlink()
    assert main(args) == 0
    assert "already done" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["generate", "missing.png", "-o", "x", "--random-init", "tiny"], "not found"),
    (["generate", "missing.png", "-o", "x", "--weights", "nope"], "no weights named"),
    (["batch", "no_such_dir", "out", "--random-init", "tiny"], "input folder not found"),
])
def test_bad_input_gives_one_line_errors(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_info_lists_paper_keys_as_json(capsys, data_dir):
    assert main(["info", "--config", "paper", "--domain", "cat", "--keys", "--json"]) == 0
    keys = json.loads(capsys.readouterr().out)
    reference = json.loads((data_dir / "pix2pix3d_G_ema_keys.json").read_text())["seg2cat"]
    assert keys == reference


def test_info_describes_a_weights_file(tmp_path, capsys):
    from s3d_engine.config import get_config
    from s3d_engine.models.generator import TriPlaneGenerator
    from s3d_engine.weights import save_weights

    cfg = get_config("tiny", "face")
    path = save_weights(tmp_path / "w.safetensors", {"generator": TriPlaneGenerator(cfg)}, cfg)
    assert main(["info", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["domain"] == "face" and data["config"] == "tiny" and data["components"] == ["generator"]
