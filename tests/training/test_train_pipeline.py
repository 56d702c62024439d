"""A few CPU training steps on the `tiny` configuration: the generator and U-Net losses go
down, the weights are finite, and the packaged file loads and runs in S3DPipeline."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from training import evaluate, train_generator, train_unet
from training.arrays import render_arrays
from training.field_samples import sample_field
from training.losses import dice_loss, render_loss
from training.package import package


@pytest.fixture(scope="module")
def arrays():
    return render_arrays("face", "train", identities=2, views=2, res=32)


def test_dice_and_render_loss_basics():
    logits = torch.full((1, 3, 4, 4), -10.0)
    logits[:, 1] = 10.0
    target = torch.ones(1, 4, 4, dtype=torch.long)
    assert dice_loss(logits, target) < 0.7  # only class 1 present: its Dice is ~1, others ~0
    feats = torch.zeros(1, 5, 2 * 19)
    target_d = {"rgb": torch.zeros(1, 5, 3), "labels": torch.zeros(1, 5, dtype=torch.long),
                "alpha": torch.zeros(1, 5), "t": torch.zeros(1, 5)}
    out = render_loss(feats, torch.zeros(1, 5, 1), torch.zeros(1, 5, 1), target_d, 19, 19, {})
    assert float(out["rgb"]) == 0.0 and float(out["sem"]) == 0.0 and float(out["alpha"]) < 1e-3


def test_cosine_factor_known_values():
    f = train_generator.cosine_factor
    assert f(0.0, 0.1) == 1.0 and f(1.0, 0.1) == pytest.approx(0.1) and f(0.5, 0.1) == pytest.approx(0.55)
    assert f(0.25, 0.0) == pytest.approx((1 + 2 ** -0.5) / 2)  # (1 + cos(pi/4)) / 2
    assert f(-1.0, 0.2) == 1.0 and f(3.0, 0.2) == pytest.approx(0.2)  # clipped to the budget
    assert f(0.7, 1.0) == 1.0  # --lr-final 1: constant


def test_train_tiny_and_load(arrays, tmp_path):
    gen_args = train_generator.parse_args([
        "--data", "-", "--out", str(tmp_path / "gen"), "--config", "tiny", "--steps", "16", "--rays", "128",
        "--depth-samples", "8", "--lr", "5e-3", "--sr-every", "4", "--log-every", "1", "--threads", "2",
        "--field", "--points", "1024", "--kl-weight", "1e-3"])
    field = sample_field("face", [int(arrays.identity[g[0]]) for g in arrays.groups()], n=2048)
    trainer = train_generator.run(gen_args, arrays, field)
    log = [json.loads(line) for line in (tmp_path / "gen" / "log.jsonl").read_text().splitlines()]
    assert all(r["grad_encoder"] > 0 for r in log)  # the label-map encoder is trained
    assert {"density", "label3d", "albedo", "kl"} <= set(log[-1])
    assert (tmp_path / "gen" / "final_encoder.safetensors").is_file()
    totals = [float(line.split('"total": ')[1].split(",")[0]) for line in (tmp_path / "gen" / "log.jsonl").read_text().splitlines()]
    assert all(np.isfinite(totals))
    assert np.mean(totals[-4:]) < np.mean(totals[:4])
    assert all(torch.isfinite(p).all() for p in trainer.G_ema.parameters())

    unet_args = train_unet.parse_args([
        "--data", "-", "--generator", str(tmp_path / "gen" / "final.safetensors"), "--out", str(tmp_path / "unet"),
        "--steps", "16", "--batch", "4", "--lr", "3e-3", "--log-every", "4", "--augment", "strong",
        "--class-power", "0.5"])
    train_unet.run(unet_args, arrays)
    rows = (tmp_path / "unet" / "log.jsonl").read_text().splitlines()
    first, last = (float(r.split('"total": ')[1].split(",")[0].rstrip("}")) for r in (rows[0], rows[-1]))
    assert last < first

    path = package(str(tmp_path / "gen" / "final.safetensors"), str(tmp_path / "unet" / "unet.safetensors"),
                   str(tmp_path / "face.safetensors"), mesh_level=3.0, training_command="test")
    from s3d_engine.pipeline import S3DPipeline

    pipe = S3DPipeline.from_pretrained(str(path), device="cpu")
    assert pipe.config.mesh_level == 3.0 and pipe.has_trained_unet
    sketch = arrays.sketch[0].astype(np.float32) / 255.0
    result = pipe(sketch, seed=0, mesh_resolution=32)
    assert result.mask.shape == (32, 32)
    assert result.mesh is not None and len(result.mesh.faces) > 0

    # the evaluation entry point on a held-out folder: JSON and the Markdown table
    from training.make_dataset import main as make_dataset

    make_dataset(["--kind", "face", "--count", "0", "--test-count", "2", "--views-per-identity", "1",
                  "--out", str(tmp_path / "data"), "--res", "32", "--sheet", "0", "--workers", "1"])
    out = tmp_path / "eval.json"
    assert evaluate.main(["--weights", str(path), "--data", str(tmp_path / "data"), "--test-identities", "2",
                          "--out", str(out), "--threads", "2"]) == 0
    res = json.loads(out.read_text())
    assert res["masks"]["views"] == 2 and {"gt_mask", "sketch", "other_identity"} <= set(res)
    assert len(res["gt_mask"]["sg_iou"]) == 19 and res["gt_mask"]["sg_miou"] == pytest.approx(
        np.mean([v for v in res["gt_mask"]["sg_iou"] if v is not None]))
    assert "F-score@2%" in out.with_suffix(".md").read_text()


def test_palette_z_carries_each_identity_code(arrays, tmp_path):
    args = train_generator.parse_args([
        "--data", "-", "--out", str(tmp_path / "gen"), "--config", "tiny", "--steps", "3", "--rays", "64",
        "--depth-samples", "8", "--sr-every", "0", "--log-every", "1", "--threads", "2",
        "--field", "--points", "512", "--palette-z", "--mapping-lr-scale", "10", "--lr-final", "0.1"])
    field = sample_field("face", [int(arrays.identity[g[0]]) for g in arrays.groups()], n=2048)
    trainer = train_generator.run(args, arrays, field)
    pal = trainer.palette
    assert pal is not None and pal.parts == ("skin", "hair", "cloth")
    b = trainer.batch()
    z, extra = trainer.sample_z(b)
    assert extra == {} and z.shape[1] == trainer.config.generator.z_dim
    log = (tmp_path / "gen" / "log.jsonl").read_text()
    assert "\"palette\": " in log  # the per-part colour loss is trained
    np.testing.assert_array_equal(z[:, :pal.dim].numpy(), pal.codes[b["field_row"].numpy()])
    # the last of 3 steps ran at progress 2/3: 0.1 + 0.9 * (1 + cos(2 pi / 3)) / 2 = 0.325 of each start rate
    lrs = [g["lr"] for g in trainer.opt.param_groups + trainer.opt_sr.param_groups]
    assert lrs == pytest.approx([2e-3 * 0.325, 2e-2 * 0.325, 1e-3 * 0.325])
    with pytest.raises(SystemExit, match="add --field"):
        train_generator.run(train_generator.parse_args(
            ["--data", "-", "--out", str(tmp_path / "g2"), "--config", "tiny", "--steps", "1", "--palette-z"]), arrays)


def test_sr_only_balances_the_semantic_head(arrays, tmp_path):
    args = train_generator.parse_args([
        "--data", "-", "--out", str(tmp_path / "sr"), "--config", "tiny", "--steps", "2", "--sr-only",
        "--log-every", "1", "--threads", "2", "--sr-class-power", "0.5", "--w-sr-dice", "1"])
    trainer = train_generator.run(args, arrays)
    w = trainer.sr_class_weights
    counts = np.bincount(arrays.labels.reshape(-1), minlength=w.shape[0])
    present = counts > 0
    assert (w[torch.from_numpy(~present)] == 0).all() and (w[torch.from_numpy(present)] > 0).all()
    rare, common = int(np.argmin(np.where(present, counts, counts.max() + 1))), int(np.argmax(counts))
    assert w[rare] > w[common]  # the rarest class present weighs more than the most common
    log = [json.loads(line) for line in (tmp_path / "sr" / "log.jsonl").read_text().splitlines()]
    assert {"sr_sem", "sr_dice"} <= set(log[-1])


def test_tiny_generator_follows_its_mask(arrays, tmp_path):
    """Conditioning sensitivity on tiny weights. Trained for 300 steps on two identities, each
    identity's GT mask gives a mesh nearer its own GT head than the other's (at 150 steps it did
    not yet), and the two meshes are at least half as far apart as the two GT heads: the mask,
    through the label-map encoder, is what picks the head."""
    from training.data.gt_mesh import head_mesh
    from training.data.sample import make_head
    from training.metrics import surface_chamfer_fscore

    gen_args = train_generator.parse_args([
        "--data", "-", "--out", str(tmp_path / "gen"), "--config", "tiny", "--steps", "300", "--rays", "256",
        "--depth-samples", "8", "--lr", "1e-2", "--sr-every", "0", "--log-every", "50", "--threads", "1",
        "--field", "--points", "4096", "--ema-halflife", "0"])
    identities = [int(arrays.identity[g[0]]) for g in arrays.groups()]
    G = train_generator.run(gen_args, arrays, sample_field("face", identities, n=4096)).G_ema.eval()
    preds, gts = [], []
    for g, ident in zip(arrays.groups(), identities):
        i = int(g[0])
        _, planes = evaluate.condition(G, arrays.labels[i], arrays.camera[i])
        v, f, _ = evaluate.predicted_mesh(G, planes, evaluate.field_grid(G, planes, 65), G.config.mesh_level)
        preds.append((evaluate.surface_sample(v, f)[:3000], (v, f)))
        gt = head_mesh(make_head("face", ident), res=64)
        gts.append((evaluate.surface_sample(gt.vertices, gt.faces)[:3000], (gt.vertices, gt.faces)))
    cd = lambda a, b: surface_chamfer_fscore(a[0], a[1], b[0], b[1], ())["chamfer"]  # noqa: E731
    assert cd(preds[0], gts[0]) < cd(preds[0], gts[1]) and cd(preds[1], gts[1]) < cd(preds[1], gts[0])
    assert cd(preds[0], preds[1]) > 0.5 * cd(gts[0], gts[1])  # measured 0.90 of it


def test_class_power_flags_reach_the_losses(arrays, tmp_path, monkeypatch):
    """--ray-class-power weights the ray semantic CE with the masks' class weights, and
    --label-class-power sets the 3D label CE's power (rarer near-surface classes weigh more)."""
    from training.losses import mask_class_weights

    seen = []
    real = train_generator.render_loss

    def spy(*args, **kwargs):
        seen.append(args[7] if len(args) > 7 else kwargs.get("class_weights"))
        return real(*args, **kwargs)

    monkeypatch.setattr(train_generator, "render_loss", spy)
    field = sample_field("face", [int(arrays.identity[g[0]]) for g in arrays.groups()], n=2048)
    trainers = {}
    for power in ("0.5", "1.0"):
        args = train_generator.parse_args([
            "--data", "-", "--out", str(tmp_path / power), "--config", "tiny", "--steps", "1", "--rays", "64",
            "--depth-samples", "8", "--sr-every", "0", "--threads", "1", "--field", "--points", "512",
            "--ray-class-power", "0.5", "--label-class-power", power])
        trainers[power] = train_generator.run(args, arrays, field)
    expected = mask_class_weights(arrays.labels, 19, 0.5)
    assert len(seen) == 2 and all(torch.equal(w, expected) for w in seen)
    low, high = trainers["0.5"].class_weights, trainers["1.0"].class_weights
    present = low > 0
    # a higher power spreads the weights: the rarest class gains on the most common one
    assert (high[present].max() / high[present].min()) > (low[present].max() / low[present].min())


def test_appearance_only_trains_the_z_mapping_alone(arrays, tmp_path):
    """--appearance-only moves the z + c mapping (embed, fc*) and nothing else: the label-map
    encoder, synthesis, decoder and SR keep their exact values, so the mask -> geometry path is
    untouched while the palette loss teaches the seed its colours."""
    args = train_generator.parse_args([
        "--data", "-", "--out", str(tmp_path / "app"), "--config", "tiny", "--steps", "3", "--rays", "64",
        "--depth-samples", "8", "--sr-every", "1", "--threads", "1", "--field", "--points", "512",
        "--palette-z", "--mapping-lr-scale", "100", "--ema-halflife", "0", "--appearance-only"])
    field = sample_field("face", [int(arrays.identity[g[0]]) for g in arrays.groups()], n=2048)
    torch.manual_seed(args.seed)
    before = {n: p.detach().clone() for n, p in train_generator.TriPlaneGenerator(
        train_generator.get_config("tiny", "face")).named_parameters()}  # what Trainer builds under seed 0
    trainer = train_generator.run(args, arrays, field)
    moved = {n for n, p in trainer.G.named_parameters() if not torch.equal(p, before[n])}
    mapping = "backbone.mapping."
    assert moved and all(n.startswith(mapping + "fc") or n.startswith(mapping + "embed.") for n in moved)
    assert any(n.startswith(mapping + "fc") for n in moved)
    with pytest.raises(SystemExit):
        train_generator.parse_args(["--data", "-", "--out", "x", "--appearance-only", "--sr-only"])
