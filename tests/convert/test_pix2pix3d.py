"""`s3d convert-pix2pix3d`: G_ema's layout, conversion, identical outputs, layout problems, CLI
(s3d_engine/convert/pix2pix3d.py)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from s3d_engine.cli import main as cli_main
from s3d_engine.config import get_config
from s3d_engine.convert import pix2pix3d as conv
from s3d_engine.errors import WeightsError
from s3d_engine.io_utils import sha256_file
from s3d_engine.models.generator import TriPlaneGenerator
from s3d_engine.weights import load_weights
from tests.convert import p2p3d_fixture as fx

REFERENCE = Path(__file__).resolve().parent.parent / "data" / "pix2pix3d_G_ema_keys.json"
CKPT_NAMES = {"face": "seg2face", "cat": "seg2cat"}


@pytest.fixture(scope="module")
def reference_layout() -> dict[str, dict[str, tuple[int, ...]]]:
    data = json.loads(REFERENCE.read_text())
    return {dom: {k: tuple(v) for k, v in data[name].items()} for dom, name in CKPT_NAMES.items()}


# ------------------------------------------------------------------------------------------------
# The paper layout (full shapes, cheap tensors)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("domain", ["face", "cat"])
def test_engine_paper_layout_matches_reference(domain, reference_layout):
    ours = conv.expected_layout(get_config("paper", domain))
    assert ours == reference_layout[domain]
    assert len(ours) == 286


@pytest.mark.parametrize("domain", ["face", "cat"])
def test_read_paper_checkpoint(tmp_path, domain, reference_layout):
    state = fx.cheap_full_size(reference_layout[domain], seed=3)
    path = fx.write_checkpoint(tmp_path / f"pix2pix3d_{CKPT_NAMES[domain]}.pkl", state)
    ck = conv.read_checkpoint(path)
    assert (ck.domain, ck.num_classes) == (domain, 19 if domain == "face" else 6)
    assert ck.class_name == "TriPlaneSemanticEntangleGenerator"
    assert {k: tuple(v.shape) for k, v in ck.state_dict.items()} == reference_layout[domain]
    assert "scratch" not in ck.state_dict  # non-persistent buffer skipped, as state_dict() does
    assert all(torch.equal(ck.state_dict[k], v) for k, v in state.items())
    assert ck.sha256 == sha256_file(path)
    assert ck.notes == [] and ck.rendering_kwargs["depth_resolution"] == 48


def test_convert_paper_face_via_cli_and_from_pretrained(tmp_path, reference_layout, capsys):
    """The real thing at full size: CLI conversion, metadata, and loading with from_pretrained."""
    from s3d_engine.pipeline import S3DPipeline

    state = fx.cheap_full_size(reference_layout["face"], seed=4)
    src = fx.write_checkpoint(tmp_path / "pix2pix3d_seg2face.pkl", state)
    assert cli_main(["convert-pix2pix3d", str(src), "-o", str(tmp_path / "out" / "seg2face.safetensors")]) == 0
    out = tmp_path / "out" / "seg2face.safetensors"
    assert "wrote" in capsys.readouterr().out
    weights = load_weights(out)
    meta = weights.metadata
    assert meta["source_file"] == src.name and meta["source_sha256"] == sha256_file(src)
    assert meta["domain"] == "face" and meta["config"]["name"] == "paper" and meta["source_num_classes"] == 19
    pipe = S3DPipeline.from_pretrained(out, device="cpu")
    loaded = pipe.generator.state_dict()
    for key in ("backbone.mapping.embed_mask.projector.weight", "decoder.net_semantic.2.bias",
                "backbone.synthesis.b256.torgb.weight", "superresolution_semantic.block1.torgb.bias",
                "backbone.mapping.w_avg", "backbone.synthesis.b4.conv1.noise_strength"):
        assert torch.equal(loaded[key], state[key]), key
    assert pipe.config.domain == "face" and pipe.config.num_classes == 19

    # Same outputs as the generator given the original state dict directly (the cheap paths of
    # the paper model: decoder field queries, the z + c mapping, a small raw render).
    from s3d_engine.cameras import domain_camera

    with torch.device("meta"):
        direct = TriPlaneGenerator(get_config("paper", "face"))
    direct.load_state_dict(state, assign=True)
    g = torch.Generator().manual_seed(7)
    planes, ws = torch.randn(1, 3, 32, 256, 256, generator=g), torch.randn(1, 14, 512, generator=g)
    points, z = torch.rand(1, 64, 3, generator=g) - 0.5, torch.randn(1, 512, generator=g)
    c = torch.from_numpy(domain_camera("face", 0.2))[None]
    outs = []
    for model in (pipe.generator.eval(), direct.eval()):
        with torch.no_grad():
            field = model.sample_mixed(points, planes=planes)
            render = model.render(planes, ws, c, resolution=4, generator=torch.Generator().manual_seed(1),
                                  super_resolve=False)
            outs.append([field["sigma"], field["rgb"], model.backbone.mapping.appearance(z, c),
                         render["image_raw"], render["semantic_raw"]])
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------------------
# Identical outputs (tiny configuration of the same architecture)
# ------------------------------------------------------------------------------------------------


def test_converted_generator_matches_direct_load(tmp_path, tiny_state):
    from s3d_engine.cameras import domain_camera
    from s3d_engine.pipeline import S3DPipeline

    cfg = get_config("tiny", "face")
    src = fx.write_checkpoint(tmp_path / "tiny.pkl", tiny_state)
    out = conv.convert_checkpoint(src, tmp_path, config=cfg)
    assert out == tmp_path / "tiny.safetensors"
    converted = S3DPipeline.from_pretrained(out, device="cpu").generator.eval()
    direct = TriPlaneGenerator(cfg).eval()
    direct.load_state_dict(tiny_state)

    g = torch.Generator().manual_seed(0)
    res = cfg.generator.mask_resolution
    mask = torch.randint(0, cfg.num_classes, (2, res, res), generator=g)
    z = torch.randn(2, cfg.generator.z_dim, generator=g)
    c = torch.from_numpy(np.stack([domain_camera("face"), domain_camera("face", 0.3, -0.1)]))
    points = torch.rand(2, 50, 3, generator=g) - 0.5
    results = []
    for model in (converted, direct):
        with torch.no_grad():
            ws = model.mapping(z, c, mask=mask)
            planes = model.planes(ws)
            field = model.sample_mixed(points, planes=planes)
            render = model.render(planes, ws, c, generator=torch.Generator().manual_seed(5))
        results.append({"ws": ws, "planes": planes, **{f"field_{k}": v for k, v in field.items()},
                        **{f"render_{k}": v for k, v in render.items()}})
    assert results[0].keys() == results[1].keys()
    for key in results[0]:
        assert torch.equal(results[0][key], results[1][key]), key


# ------------------------------------------------------------------------------------------------
# Layout problems
# ------------------------------------------------------------------------------------------------


def _tiny_ckpt(tmp_path, state, name="t.pkl"):
    return fx.write_checkpoint(tmp_path / name, state)


def test_missing_unexpected_and_misshaped_tensors(tmp_path, tiny_state):
    cfg = get_config("tiny", "face")
    broken = dict(tiny_state)
    broken.pop("decoder.net.0.bias")
    broken["backbone.synthesis.b8.conv0.weight"] = torch.zeros(1, 1, 3, 3)
    broken["backbone.extra.weight"] = torch.zeros(1)
    with pytest.raises(conv.LayoutMismatchError) as err:
        conv.read_checkpoint(_tiny_ckpt(tmp_path, broken), cfg)
    text = str(err.value)
    assert "decoder.net.0.bias" in text and "backbone.extra.weight" in text and "b8.conv0.weight" in text


def test_paper_check_refuses_a_scaled_down_file(tmp_path, tiny_state):
    with pytest.raises(conv.LayoutMismatchError, match="'paper' face"):
        conv.convert_checkpoint(_tiny_ckpt(tmp_path, tiny_state), tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


@pytest.mark.parametrize("classes,message", [(1, "edge"), (7, "7 semantic classes")])
def test_unsupported_class_counts(tmp_path, reference_layout, classes, message):
    shapes = dict(reference_layout["cat"])
    for key, shape in shapes.items():
        if key.endswith("fromrgb.weight"):
            shapes[key] = (shape[0], classes) + shape[2:]
        if key.startswith("superresolution_semantic") and ".torgb." in key and "affine" not in key:
            shapes[key] = (classes,) + shape[1:]
    path = fx.write_checkpoint(tmp_path / "odd.pkl", fx.cheap_full_size(shapes))
    with pytest.raises(conv.LayoutMismatchError, match=message):
        conv.read_checkpoint(path)


def test_inconsistent_class_counts(tmp_path, reference_layout):
    shapes = dict(reference_layout["face"])
    shapes["superresolution_semantic.block1.torgb.weight"] = (6, 128, 1, 1)
    path = fx.write_checkpoint(tmp_path / "mixed.pkl", fx.cheap_full_size(shapes))
    with pytest.raises(conv.LayoutMismatchError, match="inconsistent"):
        conv.read_checkpoint(path)


def test_non_finite_weights_are_refused(tmp_path, tiny_state):
    state = dict(tiny_state)
    state["decoder.net.0.weight"] = state["decoder.net.0.weight"].clone()
    state["decoder.net.0.weight"][0, 0] = float("nan")
    with pytest.raises(WeightsError, match="NaN"):
        conv.convert_checkpoint(_tiny_ckpt(tmp_path, state), tmp_path / "o.safetensors", config=get_config("tiny", "face"))


def test_snapshot_without_g_ema(tmp_path):
    path = tmp_path / "d_only.pkl"
    snap = fx.snapshot(None)
    snap.pop("G_ema")
    path.write_bytes(fx.dumps(snap))
    with pytest.raises(WeightsError, match="no 'G_ema'"):
        conv.read_checkpoint(path)


# ------------------------------------------------------------------------------------------------
# Output paths and the CLI
# ------------------------------------------------------------------------------------------------


def test_output_path_rules(tmp_path):
    src = tmp_path / "pix2pix3d_seg2cat.pkl"
    assert conv._output_path(src, tmp_path) == tmp_path / "pix2pix3d_seg2cat.safetensors"
    assert conv._output_path(src, tmp_path / "cat") == tmp_path / "cat.safetensors"
    with pytest.raises(WeightsError, match=".safetensors"):
        conv._output_path(src, tmp_path / "cat.pt")


def test_missing_file_cli_message(tmp_path, capsys):
    assert cli_main(["convert-pix2pix3d", str(tmp_path / "nope.pkl"), "-o", str(tmp_path / "o.safetensors")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
