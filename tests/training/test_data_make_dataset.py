"""The dataset CLI: both layouts, determinism, resume, held-out split, statistics."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from training.data.datasets import Pix2Pix3DDataset, S3DFolderDataset
from training.data.sample import TEST_IDENTITY_OFFSET
from training.make_dataset import main

ARGS = ["--kind", "cat", "--count", "6", "--test-count", "2", "--res", "32", "--views-per-identity", "2",
        "--sheet", "4"]


def files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.png"))}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds") / "a"
    assert main(ARGS + ["--out", str(root), "--workers", "2", "--mesh-res", "32"]) == 0
    return root


def test_layouts(made):
    labels = json.loads((made / "pix2pix3d/train/images/dataset.json").read_text())["labels"]
    assert len(labels) == 6 and all(len(v) == 25 for _, v in labels)
    for name, _ in labels:
        for sub in ("images", "masks", "edges"):
            assert (made / "pix2pix3d/train" / sub / name).is_file()
    for split, n in (("train", 6), ("test", 2)):
        for sub in ("sketch", "mask", "image"):
            assert len(list((made / "s3d" / split / sub).glob("*.png"))) == n
    mask = np.asarray(Image.open(made / "s3d/train/mask/00000000.png"))
    assert mask.dtype == np.uint8 and mask.ndim == 2 and mask.max() < 6
    edge = np.asarray(Image.open(made / "pix2pix3d/train/edges/00000/img00000000.png"))
    assert edge.ndim == 2 and np.median(edge) == 255 and edge.min() < 128  # black strokes on white
    assert (made / "contact_sheet.png").is_file() and (made / "class_frequency.md").is_file()
    assert len(list((made / "meshes/train").glob("*.npz"))) == 3 and len(list((made / "meshes/test").glob("*.npz"))) == 1
    extra = np.load(made / "extra/train/00000001.npz")
    assert extra["depth"].shape == (32, 32) and ((extra["alpha"] > 0) == (extra["depth"] > 0)).all()


def test_held_out_split_uses_test_identities(made):
    train = [json.loads(p.read_text())["identity"] for p in (made / "meta/train").glob("*.json")]
    test = [json.loads(p.read_text())["identity"] for p in (made / "meta/test").glob("*.json")]
    assert max(train) < TEST_IDENTITY_OFFSET <= min(test)


def test_deterministic_across_worker_counts(made, tmp_path):
    assert main(ARGS + ["--out", str(tmp_path / "b"), "--workers", "1", "--mesh-res", "32"]) == 0
    assert files(made) == {k: v for k, v in files(tmp_path / "b").items()}


def test_resume_renders_only_what_is_missing(made, capsys):
    before = files(made)
    (made / "meta/train/00000003.json").unlink()
    (made / "s3d/train/image/00000003.png").unlink()
    assert main(ARGS + ["--out", str(made), "--workers", "2", "--mesh-res", "32"]) == 0
    assert "rendered 1 views" in capsys.readouterr().out
    assert files(made) == before
    assert not list(made.rglob(".*tmp*"))  # no temporary files left behind


def test_other_settings_are_refused(made):
    with pytest.raises(SystemExit, match="other settings"):
        main(ARGS[:-2] + ["--out", str(made), "--res", "48"])


def test_frequency_table_and_loaders_read_our_output(made):
    table = (made / "class_frequency.md").read_text()
    for name in ("background", "face", "eye", "ear", "nose", "mouth"):
        assert f"| {name} |" in table
    p2p = Pix2Pix3DDataset(made / "pix2pix3d/train/images", made / "pix2pix3d/train/masks", num_classes=6)
    item = p2p[1]
    assert item["image"].shape == (3, 32, 32) and item["pose"].shape == (25,) and item["mask"].shape == (1, 32, 32)
    s3d = S3DFolderDataset(made / "s3d", "test", kind="cat", augment="strong", seed=0)
    item = s3d[0]
    assert len(s3d) == 2 and item["sketch"].shape == (1, 32, 32) and item["mask"].max() < 6
