"""pix2pix3D's sketch baseline: the sketch-conditioned mapping, its initialisation from a mask
generator, a tiny training run and the end-to-end evaluation of its output."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from s3d_engine.config import get_config
from s3d_engine.models.generator import TriPlaneGenerator
from s3d_engine.weights import save_weights
from training import sketch_baseline, train_generator
from training.arrays import render_arrays


@pytest.fixture(scope="module")
def arrays():
    return render_arrays("face", "train", identities=2, views=2, res=32)


def test_sketch_mapping_reads_one_channel_in_either_pixel_format():
    config = get_config("tiny", "face")
    G = sketch_baseline.sketch_generator(config).eval()
    enc = G.backbone.mapping.embed_mask
    first = getattr(enc, f"b{enc.img_resolution}").fromrgb.weight
    assert first.shape[1] == 1  # one input channel, not the 19 of the one-hot mask
    rng = np.random.default_rng(0)
    sketch = np.where(rng.random((2, 40, 40)) < 0.1, 0, 255).astype(np.uint8)
    with torch.no_grad():
        as_int = G.backbone.mapping.geometry(torch.from_numpy(sketch.astype(np.int64)))
        as_float = G.backbone.mapping.geometry(torch.from_numpy(sketch.astype(np.float32) / 255.0)[:, None])
    assert as_int.shape == (2, 7, config.generator.w_dim)
    torch.testing.assert_close(as_int, as_float)
    assert not torch.allclose(as_int[0], as_int[1])  # the sketch drives the geometry ws


def test_train_from_a_mask_generator_then_evaluate(arrays, tmp_path):
    config = get_config("tiny", "face")
    torch.manual_seed(0)
    mask_G = TriPlaneGenerator(config)
    save_weights(tmp_path / "mask_gen.safetensors", {"generator": mask_G}, config)
    args = train_generator.parse_args([
        "--data", "-", "--out", str(tmp_path / "gen"), "--config", "tiny", "--steps", "3", "--rays", "64",
        "--depth-samples", "8", "--sr-every", "2", "--log-every", "1", "--threads", "2",
        "--resume", str(tmp_path / "mask_gen.safetensors")])
    trainer = train_generator.run(args, arrays, trainer_class=sketch_baseline.SketchTrainer)
    # every tensor but the encoder's input layer comes from the mask generator
    assert trainer.transferred == len(mask_G.state_dict()) - 1
    b = trainer.batch()
    assert b["mask"].is_floating_point() and float(b["mask"].max()) <= 1.0  # a sketch, not labels
    log = [json.loads(line) for line in (tmp_path / "gen" / "log.jsonl").read_text().splitlines()]
    assert all(r["grad_encoder"] > 0 for r in log)  # the sketch encoder is trained

    G = sketch_baseline.load_sketch_generator(str(tmp_path / "gen" / "final.safetensors"))
    assert isinstance(G.backbone.mapping, sketch_baseline.SketchMapping)
    from training.make_dataset import main as make_dataset

    make_dataset(["--kind", "face", "--count", "0", "--test-count", "2", "--views-per-identity", "1",
                  "--out", str(tmp_path / "data"), "--res", "32", "--sheet", "0", "--workers", "1"])
    out = tmp_path / "baseline.json"
    assert sketch_baseline.main(["evaluate", "--weights", str(tmp_path / "gen" / "final.safetensors"),
                                 "--data", str(tmp_path / "data"), "--test-identities", "2", "--level", "0",
                                 "--out", str(out), "--threads", "2"]) == 0
    res = json.loads(out.read_text())
    assert set(res["sketch"]) >= {"identities", "failures"} and res["sketch"]["identities"] + res["sketch"]["failures"] == 2
    assert res["other_identity"]["pairs"] == 2


def test_bad_input_is_one_clear_line(tmp_path):
    config = get_config("tiny", "face")
    save_weights(tmp_path / "mask_gen.safetensors", {"generator": TriPlaneGenerator(config)}, config)
    with pytest.raises(SystemExit, match="not a sketch-conditioned generator"):
        sketch_baseline.load_sketch_generator(str(tmp_path / "mask_gen.safetensors"))
    with pytest.raises(SystemExit, match="usage"):
        sketch_baseline.main([])
    with pytest.raises(SystemExit, match="use --resume"):
        sketch_baseline.main(["train", "--data", "x", "--out", str(tmp_path / "o"), "--init-from", "y"])
