"""training.evaluate's seed-diversity figure on a tiny random generator: positive when z reaches
the appearance, exactly 0 when the mapping's z columns are zeroed (the seed then changes
nothing), and normalised by the spread over the GT views."""
from __future__ import annotations

import pytest
import torch

from s3d_engine.config import get_config
from s3d_engine.models.generator import TriPlaneGenerator
from training import evaluate
from training.arrays import render_arrays


@pytest.fixture(scope="module")
def test_views():
    return render_arrays("face", "test", identities=3, views=1, res=32)


def test_seed_diversity_follows_z(test_views):
    torch.manual_seed(0)
    G = TriPlaneGenerator(get_config("tiny", "face")).eval()
    d = evaluate.seed_diversity(G, test_views, identities=2, seeds=3)
    assert d["seeds"] == 3 and d["identities"] == 2
    assert d["spread_people"] > 0.01  # three procedural people differ in colour
    assert d["spread_seeds"] > 0
    assert d["ratio"] == pytest.approx(d["spread_seeds"] / d["spread_people"])
    with torch.no_grad():
        G.backbone.mapping.fc0.weight[:, :G.config.generator.z_dim] = 0.0  # z no longer reaches w
    d0 = evaluate.seed_diversity(G, test_views, identities=2, seeds=3)
    assert d0["spread_seeds"] < 1e-9 and d0["ratio"] < 1e-8  # float rounding only
    assert d0["spread_people"] == d["spread_people"]  # the GT side does not depend on G


def test_markdown_table_shows_seed_diversity():
    table = evaluate.markdown_table({"seed_diversity": {"seeds": 6, "ratio": 0.4567}}, ("background",))
    assert "| seed diversity (colour spread over 6 seeds / over people) | 0.457 |" in table


def test_markdown_table_lists_the_per_class_sg_iou():
    table = evaluate.markdown_table({"gt_mask": {"sg_miou": 0.5, "sg_iou": [0.9, None, 0.25]}}, ("background", "skin", "nose"))
    assert "Per-class SG IoU (render from the GT mask vs the mask): background 0.90 · nose 0.25" in table
    assert "Per-class SG IoU" not in evaluate.markdown_table({"gt_mask": {"sg_miou": 0.5}}, ("background",))
