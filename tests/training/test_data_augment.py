"""Sketch augmentation: S3D's erode/dilate and the stronger optional set."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from training.data import augment as A


def sketch():
    s = np.ones((64, 64), np.float32)
    s[20:44, 31:33] = 0.0
    s[31:33, 10:54] = 0.0
    return s


def test_s3d_erode_dilate_matches_its_definition():
    """At S3D's 512^2 it is exactly a 3x3 grey erosion or dilation with p = 0.5."""
    s = np.ones((512, 512), np.float32)
    s[100:400, 250:256] = 0.0
    outcomes = set()
    for seed in range(40):
        out = A.s3d_erode_dilate(s, np.random.default_rng(seed))
        if np.array_equal(out, s):
            outcomes.add("same")
        elif np.array_equal(out, ndimage.grey_erosion(s, size=(3, 3), mode="nearest")):
            outcomes.add("erode")
            assert (out < 0.5).sum() > (s < 0.5).sum()  # erosion thickens black strokes
        elif np.array_equal(out, ndimage.grey_dilation(s, size=(3, 3), mode="nearest")):
            outcomes.add("dilate")
            assert (out < 0.5).sum() < (s < 0.5).sum()
        else:
            raise AssertionError("unexpected output")
    assert outcomes == {"same", "erode", "dilate"}


def test_s3d_erode_dilate_keeps_its_physical_size_at_128():
    s = sketch()  # 2 px strokes at 64^2
    ink = (1 - s).sum()
    results = [(1 - A.s3d_erode_dilate(s, np.random.default_rng(seed), p=1.0)).sum() for seed in range(12)]
    assert min(results) > 0.6 * ink and max(results) < 1.6 * ink  # thinner or thicker, never erased
    assert min(results) < ink < max(results)


def test_strong_augmentation_keeps_range_and_some_ink():
    s = sketch()
    for seed in range(10):
        out = A.augment_sketch(s, np.random.default_rng(seed), strong=True)
        assert out.shape == s.shape and out.dtype == np.float32
        assert 0.0 <= out.min() and out.max() <= 1.0
        assert (out < 0.5).sum() > 0.3 * (s < 0.5).sum()


def test_stroke_dropout_and_thickness():
    s = sketch()
    ink = (s < 0.5).sum()
    dropped = A.stroke_dropout(s, np.random.default_rng(0), fraction=0.5, piece_px=8)
    assert (dropped < 0.5).sum() < ink
    assert (A.thickness(s, 2) < 0.5).sum() > (A.thickness(s, 1) < 0.5).sum() > ink
    assert (A.thickness(s, -1) < 0.5).sum() < ink


def test_part_dropout_erases_one_part():
    s = sketch()
    labels = np.zeros_like(s, dtype=np.uint8)
    labels[:, :32] = 13
    out = A.part_dropout(s, labels, np.random.default_rng(0), (13,))
    assert (out[:, :31] == 1).all() and (out[:, 34:] == s[:, 34:]).all()


def test_pair_augmentation_keeps_alignment():
    s = sketch()
    mask = (s < 0.5).astype(np.uint8) * 7
    out_s, out_m = A.augment_pair(s, mask, np.random.default_rng(3))
    assert set(np.unique(out_m)) <= {0, 7}
    # strokes still sit on the (warped) mask, up to the 3x3 erode/dilate
    on = out_m[ndimage.binary_erosion(out_s < 0.5)] == 7
    assert on.mean() > 0.8
