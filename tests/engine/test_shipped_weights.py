"""Every file in weights/ loads with its hash checked, turns its example sketch into a labelled
head, and still scores what its sidecar says on the small fixed held-out set."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from s3d_engine.labels import label_set
from s3d_engine.pipeline import S3DPipeline
from s3d_engine.weights import load_weights

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "weights").glob("*.safetensors"))
# parts a head must show, by domain (names from s3d_engine.labels)
REQUIRED_PARTS = {"face": ("skin", "hair", "nose"), "cat": ("face", "ear", "nose")}


def test_weights_are_shipped():
    assert {p.stem for p in SHIPPED} >= {"face"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_example_sketch_gives_a_labelled_head(path):
    w = load_weights(path)  # refuses a file whose sha256 differs from the sidecar
    domain = w.config.domain
    pipe = S3DPipeline.from_pretrained(str(path), device="cpu")
    assert pipe.has_trained_unet
    result = pipe(str(ROOT / "examples" / f"{domain}_sketch.png"), seed=0, mesh_resolution=96, turntable_frames=0)
    labels = label_set(domain)
    mask_parts = set(np.unique(result.mask).tolist())
    mesh_parts = set(np.unique(result.mesh.labels).tolist())
    for name in REQUIRED_PARTS[domain]:
        assert labels.index(name) in mask_parts, f"{name} missing from the mask"
        assert labels.index(name) in mesh_parts, f"{name} missing from the mesh"
    extent = result.mesh.vertices.max(0) - result.mesh.vertices.min(0)
    assert 0.2 < extent.max() <= 1.0  # a head in the unit box, not a speck or the box itself


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_sidecar_metrics_reproduce(path):
    from training.evaluate import load_models, smoke_metrics

    w, G, U = load_models(str(path))
    stored = w.metadata["metrics"]["smoke"]
    now = smoke_metrics(G, U, w.config.mesh_level, stored["identities"])
    for block in ("gt_mask", "sketch"):
        for key in ("chamfer", "label_accuracy", "sg_miou"):
            assert now[block][key] == pytest.approx(stored[block][key], rel=0.05, abs=0.01), (block, key)
        assert now[block]["fscore"]["0.02"] == pytest.approx(stored[block]["fscore"]["0.02"], abs=0.02)
    assert now["mask_miou"] == pytest.approx(stored["mask_miou"], abs=0.02)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_different_masks_give_their_own_heads(path):
    """Conditioning sensitivity on the shipped weights: three held-out identities' GT masks give
    meshes that differ, and on average each is closer to its own GT head than to the others'."""
    from training.arrays import render_arrays
    from training.data.gt_mesh import head_mesh
    from training.data.sample import make_head
    from training.evaluate import condition, field_grid, load_models, predicted_mesh, surface_sample
    from training.metrics import surface_chamfer_fscore

    w, G, _ = load_models(str(path))
    n = 3
    test = render_arrays(w.config.domain, "test", n, 1, G.config.generator.mask_resolution)
    preds, gts = [], []
    for i in range(n):
        _, planes = condition(G, test.labels[i], test.camera[i])
        v, f, _ = predicted_mesh(G, planes, field_grid(G, planes), w.config.mesh_level)
        preds.append((surface_sample(v, f)[:5000], (v, f)))
        gt = head_mesh(make_head(w.config.domain, int(test.identity[i])), res=96)
        gts.append((surface_sample(gt.vertices, gt.faces)[:5000], (gt.vertices, gt.faces)))
    cd = lambda a, b: surface_chamfer_fscore(a[0], a[1], b[0], b[1], ())["chamfer"]  # noqa: E731
    own = np.mean([cd(preds[i], gts[i]) for i in range(n)])
    other = np.mean([cd(preds[i], gts[j]) for i in range(n) for j in range(n) if i != j])
    assert own < other, (own, other)  # cat at shipping: 0.0153 vs 0.0166
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    assert np.mean([cd(preds[i], preds[j]) for i, j in pairs]) > 0.3 * np.mean([cd(gts[i], gts[j]) for i, j in pairs])
