"""Readers for the real datasets, on small fixtures written here in the real formats."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from s3d_engine.labels import FACE_LABELS
from training.data import loaders as Ld
from training.data.datasets import Pix2Pix3DDataset, S3DFolderDataset

SIZE = 32


def save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def part(shape_fn, channels: int = 3):
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    m = (shape_fn(yy, xx) * 255).astype(np.uint8)
    return np.repeat(m[..., None], 3, 2) if channels == 3 else m


@pytest.fixture
def celebamask(tmp_path):
    """Two CelebAMask-HQ ids (5 and 2001, i.e. folders 0 and 1), 3- and 1-channel parts."""
    root = tmp_path / "CelebAMask-HQ"
    for idx, channels in ((5, 3), (2001, 1)):
        save(root / "CelebA-HQ-img" / f"{idx}.jpg", np.full((64, 64, 3), 128, np.uint8))
        anno = root / "CelebAMask-HQ-mask-anno" / str(idx // 2000)
        save(anno / f"{idx:05d}_skin.png", part(lambda y, x: (y > 4) & (y < 28), channels))
        save(anno / f"{idx:05d}_hair.png", part(lambda y, x: y < 12, channels))  # overlaps skin: hair wins
        save(anno / f"{idx:05d}_nose.png", part(lambda y, x: (abs(y - 16) < 2) & (abs(x - 16) < 2), channels))
    (root / "CelebA-HQ-to-CelebA-mapping.txt").write_text("idx orig_idx orig_file\n5 100 000101.jpg\n2001 190000 190001.jpg\n")
    return root


def test_celebamask_merge_order_and_channels(celebamask):
    for idx in (5, 2001):
        m = Ld.merge_celebamask_parts(celebamask / "CelebAMask-HQ-mask-anno", idx, size=SIZE)
        assert m[8, 3] == FACE_LABELS.index("hair")  # skin and hair overlap: the later part wins
        assert m[20, 3] == FACE_LABELS.index("skin") and m[16, 16] == FACE_LABELS.index("nose")
        assert m[30, 3] == 0
    assert Ld.celebamask_part_path("a", 2001, "skin").as_posix() == "a/1/02001_skin.png"
    ds = Ld.CelebAMaskHQ(celebamask, size=SIZE)
    assert len(ds) == 2 and ds[0]["image"].shape == (SIZE, SIZE, 3) and ds[1]["index"] == 2001
    assert [i for i in Ld.CelebAMaskHQ(celebamask, size=SIZE, split="test").ids] == [2001]
    with pytest.raises(Ld.DatasetError, match="no part masks"):
        Ld.merge_celebamask_parts(celebamask / "CelebAMask-HQ-mask-anno", 7)


def test_celebamask_palette_round_trip_both_backgrounds():
    labels = np.arange(19, dtype=np.uint8).reshape(1, 19)
    white = FACE_LABELS.colorize(labels)
    black = white.copy()
    black[0, 0] = 0
    assert (FACE_LABELS.decolorize(white) == labels).all()
    assert (FACE_LABELS.decolorize(black, background=(0, 0, 0)) == labels).all()


def test_mmceleba_sketches_are_whitened_outside_the_head(celebamask, tmp_path):
    anno = celebamask / "CelebAMask-HQ-mask-anno" / "0"
    save(anno / "00009_nose.png", part(lambda y, x: (abs(y - 16) < 3) & (abs(x - 16) < 3)))
    save(tmp_path / "sketch" / "9.jpg", np.zeros((64, 64), np.uint8))  # all ink: what survives is kept
    ds = Ld.MMCelebAHQSketches(tmp_path / "sketch", celebamask, size=64)
    item = ds[0]
    assert item["index"] == 9 and item["sketch"].shape == (64, 64) and item["mask"].shape == (64, 64)
    assert item["sketch"][32, 32] < 0.1  # inside the parts: the sketch
    assert item["sketch"][32, 46] < 0.1  # within the 5x5 x 3 dilation (6 px at 32^2 = 12 px here)
    assert item["sketch"][60, 32] > 0.9 and item["sketch"][32, 60] > 0.9  # beyond it: white


def test_afhq_v1_and_v2(tmp_path):
    for name in ("flickr_cat_000002.jpg", "pixabay_cat_000001.jpg"):
        save(tmp_path / "v1" / "afhq" / "val" / "cat" / name, np.zeros((16, 16, 3), np.uint8))
    save(tmp_path / "v2" / "test" / "cat" / "a.png", np.zeros((16, 16, 3), np.uint8))
    assert [p.name for p in Ld.list_afhq(tmp_path / "v1", "val")] == ["flickr_cat_000002.jpg", "pixabay_cat_000001.jpg"]
    assert len(Ld.list_afhq(tmp_path / "v2", "val")) == 1  # v2 calls it test
    assert Ld.AFHQ(tmp_path / "v2", "test", size=8)[0]["image"].shape == (8, 8, 3)
    with pytest.raises(Ld.DatasetError, match="no AFHQ train/cat"):
        Ld.list_afhq(tmp_path / "v1", "train")


def p2p_fixture(tmp_path, zipped: bool, mask_names=None, with_json=True, bad_value=False):
    names = ["00000/img00000000.png", "00000/img00000001.png", "00000/img00000002.png"]
    mask_names = mask_names or names
    cam = list(np.arange(25, dtype=float))
    labels = {"labels": [[n.replace("/", "\\"), cam] for n in names]}  # Windows-made dataset.json
    img_dir, mask_dir = tmp_path / "img", tmp_path / "mask"
    for i, n in enumerate(names):
        save(img_dir / n, np.full((SIZE, SIZE, 3), i, np.uint8))
    for i, n in enumerate(mask_names):
        save(mask_dir / n, np.full((SIZE, SIZE), 25 if bad_value else i, np.uint8))
    if with_json:
        (img_dir / "dataset.json").write_text(json.dumps(labels))
    if not zipped:
        return img_dir, mask_dir
    out = []
    for folder in (img_dir, mask_dir):
        zpath = folder.with_suffix(".zip")
        with zipfile.ZipFile(zpath, "w") as zf:
            for p in sorted(folder.rglob("*")):
                if p.is_file():
                    zf.write(p, p.relative_to(folder).as_posix())
        out.append(zpath)
    return out


@pytest.mark.parametrize("zipped", [False, True])
def test_pix2pix3d_zip_and_folder(tmp_path, zipped):
    img, mask = p2p_fixture(tmp_path, zipped)
    ds = Pix2Pix3DDataset(img, mask)
    assert len(ds) == 3
    item = ds[2]
    assert item["image"].shape == (3, SIZE, SIZE) and int(item["image"][0, 0, 0]) == 2
    assert item["pose"].shape == (25,) and float(item["pose"][24]) == 24.0
    assert int(item["mask"][0, 0, 0]) == 2


def test_pix2pix3d_pairs_by_sorted_order_and_warns(tmp_path):
    masks = ["m0.png", "m1.png", "m2.png"]  # different names: pairing is still by sorted order
    img, mask = p2p_fixture(tmp_path, False, mask_names=masks)
    with pytest.warns(UserWarning, match="names disagree"):
        ds = Pix2Pix3DDataset(img, mask)
    assert int(ds[1]["mask"][0, 0, 0]) == 1


def test_pix2pix3d_bad_folders_give_clear_errors(tmp_path):
    img, mask = p2p_fixture(tmp_path / "a", False, with_json=False)
    with pytest.raises(Ld.DatasetError, match="no dataset.json.*got 0, expected 25"):
        Pix2Pix3DDataset(img, mask)
    img, mask = p2p_fixture(tmp_path / "b", False)
    (mask / "00000/img00000002.png").unlink()
    with pytest.raises(Ld.DatasetError, match="3 vs 2 files"):
        Pix2Pix3DDataset(img, mask)
    img, mask = p2p_fixture(tmp_path / "c", False, bad_value=True)
    with pytest.raises(Ld.DatasetError, match=r"mask values \[25\] out of range for 19 classes"):
        Pix2Pix3DDataset(img, mask)[0]
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "dataset.json").write_text(json.dumps({"labels": [["x.png", [1.0] * 16]]}))
    save(tmp_path / "d" / "x.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(Ld.DatasetError, match="16 values, expected 25"):
        Pix2Pix3DDataset(tmp_path / "d")


def test_s3d_folders_faces_and_cats(tmp_path):
    for i in range(3):
        save(tmp_path / "face/train/sketch" / f"{i:05d}.png", np.full((SIZE, SIZE), 255, np.uint8))
        save(tmp_path / "face/train/mask" / f"{i:05d}.png", np.full((SIZE, SIZE), i, np.uint8))
        save(tmp_path / "face/train/image" / f"{i:05d}.png", np.zeros((SIZE, SIZE, 3), np.uint8))
        save(tmp_path / "cat/test/afhqcat_edge_pidinet" / f"flickr_cat_{i}.png", np.full((SIZE, SIZE), 255, np.uint8))
        save(tmp_path / "cat/test/afhqcat_seg_6c_no_nose" / f"flickr_cat_{i}.png", np.full((SIZE, SIZE), i, np.uint8))
    face = S3DFolderDataset(tmp_path / "face", "train", augment="s3d", seed=1)
    assert len(face) == 3 and int(face[2]["mask"][0, 0]) == 2 and face[2]["image"].shape == (3, SIZE, SIZE)
    cat = S3DFolderDataset(tmp_path / "cat", "test", kind="cat", resolution=16)
    assert cat[1]["sketch"].shape == (1, 16, 16) and "image" not in cat[1]
    (tmp_path / "face/train/mask/00002.png").unlink()
    with pytest.raises(Ld.DatasetError, match="3 vs 2 files"):
        S3DFolderDataset(tmp_path / "face", "train")
    with pytest.raises(Ld.DatasetError, match="does not exist"):
        S3DFolderDataset(tmp_path / "face", "test")
    save(tmp_path / "face/train/mask/00002.png", np.full((SIZE, SIZE), 40, np.uint8))
    with pytest.raises(Ld.DatasetError, match="out of range"):
        S3DFolderDataset(tmp_path / "face", "train")[2]
