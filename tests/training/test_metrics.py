"""training/metrics.py against answers worked out by hand (in the comments), never by the code."""
from __future__ import annotations

import math

import numpy as np
import pytest

from training.metrics import (chamfer_fscore, colour_spread, label_accuracy, mask_iou, part_colours, point_distances, psnr,
                              surface_chamfer_fscore)

# ---- masks ----------------------------------------------------------------------------------------
GT = np.array([[0, 0, 1],
               [1, 1, 2],
               [2, 2, 2]])
PRED = np.array([[0, 1, 1],
                 [1, 2, 2],
                 [2, 2, 0]])


def test_mask_iou_3x3_by_hand():
    m = mask_iou(PRED, GT, num_classes=4)
    # class 0: gt {(0,0),(0,1)}, pred {(0,0),(2,2)}: inter 1, union 3
    # class 1: gt {(0,2),(1,0),(1,1)}, pred {(0,1),(0,2),(1,0)}: inter 2, union 4
    # class 2: gt {(1,2),(2,0),(2,1),(2,2)}, pred {(1,1),(1,2),(2,0),(2,1)}: inter 3, union 5
    # class 3: in neither map -> None, and left out of the mean
    assert m["iou"][0] == pytest.approx(1 / 3)
    assert m["iou"][1] == pytest.approx(1 / 2)
    assert m["iou"][2] == pytest.approx(3 / 5)
    assert m["iou"][3] is None and len(m["iou"]) == 4
    assert m["miou"] == pytest.approx((1 / 3 + 1 / 2 + 3 / 5) / 3)  # 43/90, not 43/120 (absent class as 0)
    # equal at (0,0),(0,2),(1,0),(1,2),(2,0),(2,1): 6 of 9
    assert m["pixel_accuracy"] == pytest.approx(6 / 9)
    # gt > 0 at 7 pixels, of which (0,2),(1,0),(1,2),(2,0),(2,1) are right: 5 of 7
    assert m["foreground_accuracy"] == pytest.approx(5 / 7)


@pytest.mark.filterwarnings("error")  # empty cases are handled, not left to numpy's "mean of empty slice"
def test_mask_iou_counts_a_class_seen_only_in_the_prediction():
    gt = np.array([[0, 0], [0, 0]])
    pred = np.array([[0, 0], [0, 1]])
    m = mask_iou(pred, gt, num_classes=3)
    # class 0: inter 3, union 4; class 1: only in pred, inter 0, union 1 -> 0; class 2: None
    assert m["iou"] == [pytest.approx(0.75), 0.0, None]
    assert m["miou"] == pytest.approx(0.375)  # not 0.75 (classes of the GT only)
    assert m["pixel_accuracy"] == pytest.approx(0.75)
    assert math.isnan(m["foreground_accuracy"])  # no foreground in the GT


def test_mask_iou_is_one_for_a_perfect_batch_and_checks_shapes():
    gt = np.stack([GT, PRED])
    m = mask_iou(gt.copy(), gt, 3)
    assert m["miou"] == 1.0 and m["pixel_accuracy"] == 1.0 and m["foreground_accuracy"] == 1.0
    assert m["iou"] == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="differ in shape"):
        mask_iou(GT[:2], GT, 3)


@pytest.mark.filterwarnings("error")
def test_mask_iou_without_any_counted_class_is_nan():
    seven = np.full((2, 2), 7)  # a label outside range(num_classes) in both maps
    m = mask_iou(seven, seven, 3)
    assert m["iou"] == [None, None, None] and math.isnan(m["miou"])
    assert m["pixel_accuracy"] == 1.0 and m["foreground_accuracy"] == 1.0


def test_mask_iou_accumulates_over_the_whole_set_not_per_image():
    gt = np.array([[[1, 0, 0]], [[1, 1, 0]]])  # images A and B, one row of 3 pixels each
    pred = np.array([[[1, 0, 0]], [[0, 0, 1]]])
    m = mask_iou(pred, gt, 2)
    # class 1: pred at A0, B2; gt at A0, B0, B1: inter 1, union 4 -> 1/4 over the set
    # (the mean of per-image IoUs would be (1/1 + 0/3) / 2 = 1/2)
    assert m["iou"][1] == pytest.approx(1 / 4)
    # class 0: pred at A1, A2, B0, B1; gt at A1, A2, B2: inter 2, union 5
    assert m["iou"][0] == pytest.approx(2 / 5)
    assert m["miou"] == pytest.approx((1 / 4 + 2 / 5) / 2)


# ---- point sets -----------------------------------------------------------------------------------
def test_chamfer_is_symmetric_mean_of_both_directions_on_a_subset():
    gt = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
    pred = gt[:2]  # a subset: pred -> gt is 0 everywhere, gt -> pred is 0, 0, 1, 1
    out = chamfer_fscore(pred, gt, thresholds=(0.5,))
    assert out["chamfer"] == pytest.approx(0.5 * (0.0 + 0.5))
    assert out["nearest"].tolist() == [0, 1]
    assert out["precision"]["0.5"] == 1.0 and out["recall"]["0.5"] == 0.5
    assert out["fscore"]["0.5"] == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    swapped = chamfer_fscore(gt, pred, thresholds=(0.5,))
    assert swapped["chamfer"] == pytest.approx(0.25)
    assert swapped["precision"]["0.5"] == 0.5 and swapped["recall"]["0.5"] == 1.0
    d_pred, nearest, d_gt = point_distances(pred, gt)
    assert d_pred.tolist() == [0.0, 0.0] and d_gt.tolist() == [0.0, 0.0, 1.0, 1.0]


# gt along the x axis; pred beside it at heights 0.005, 0.015, 0.03 over the first three gt points
F_GT = np.array([[0.0, 0, 0], [0.1, 0, 0], [0.2, 0, 0], [0.3, 0, 0]])
F_PRED = np.array([[0.0, 0.005, 0], [0.1, 0.015, 0], [0.2, 0.03, 0]])
FAR = math.sqrt(0.1 ** 2 + 0.03 ** 2)  # gt (0.3, 0, 0) to pred (0.2, 0.03, 0)


def test_fscore_precision_and_recall_counted_by_hand():
    out = chamfer_fscore(F_PRED, F_GT, thresholds=(0.01, 0.02))
    # d(pred -> gt) = 0.005, 0.015, 0.03; d(gt -> pred) = 0.005, 0.015, 0.03, FAR (~0.1044)
    assert out["chamfer"] == pytest.approx(0.5 * ((0.005 + 0.015 + 0.03) / 3 + (0.005 + 0.015 + 0.03 + FAR) / 4))
    assert out["precision"] == {"0.01": pytest.approx(1 / 3), "0.02": pytest.approx(2 / 3)}
    assert out["recall"] == {"0.01": pytest.approx(1 / 4), "0.02": pytest.approx(2 / 4)}
    # F = 2PR / (P + R): (1/3, 1/4) -> 2/7; (2/3, 1/2) -> 4/7
    assert out["fscore"]["0.01"] == pytest.approx(2 / 7)
    assert out["fscore"]["0.02"] == pytest.approx(4 / 7)
    assert out["nearest"].tolist() == [0, 1, 2]


def test_fscore_threshold_is_strict_and_zero_without_matches():
    gt = np.zeros((1, 3))
    pred = np.array([[0.5, 0, 0], [0.25, 0, 0]])  # distances 0.5 and 0.25 exactly (powers of two)
    out = chamfer_fscore(pred, gt, thresholds=(0.5,))
    assert out["precision"]["0.5"] == 0.5  # 0.5 is not < 0.5
    assert out["recall"]["0.5"] == 1.0  # gt -> pred: 0.25
    none = chamfer_fscore(pred, gt, thresholds=(0.125,))
    assert none["precision"]["0.125"] == 0.0 and none["recall"]["0.125"] == 0.0
    assert none["fscore"]["0.125"] == 0.0
    assert chamfer_fscore(pred, gt)["fscore"].keys() == {"0.01", "0.02"}  # default: 1 % and 2 % of the box
    # and the other direction: gt points at 0.5 and 0.25 from the one pred point
    out = chamfer_fscore(np.zeros((1, 3)), np.array([[0.5, 0, 0], [0.25, 0, 0]]), thresholds=(0.5,))
    assert out["precision"]["0.5"] == 1.0 and out["recall"]["0.5"] == 0.5
    with pytest.raises(ValueError, match="non-empty"):
        point_distances(np.zeros((0, 3)), gt)


def sphere(radius: float, subdivisions: int = 4):
    trimesh = pytest.importorskip("trimesh")
    m = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return np.asarray(m.vertices), np.asarray(m.faces), float(m.area)


def samples(v, f, n, seed):
    from training.field_samples import surface_points
    return surface_points(v, f, n, np.random.default_rng(seed))


def test_surface_chamfer_of_a_surface_with_itself_is_zero_where_samples_carry_a_floor():
    """Two independent samplings of one sphere: to the surface, Chamfer 0 and F-score 1; sample to
    sample, the floor of a planar Poisson process, 1 / (2 sqrt(N / A)) per direction."""
    v, f, area = sphere(0.3)
    n = 4000
    a, b = samples(v, f, n, 0), samples(v, f, n, 1)
    out = surface_chamfer_fscore(a, (v, f), b, (v, f), thresholds=(0.001,))
    assert out["chamfer"] == pytest.approx(0.0, abs=1e-7)
    assert out["fscore"]["0.001"] == 1.0
    floor = 0.5 * math.sqrt(area / n)  # ~0.0042 for A = 4 pi 0.3^2, N = 4000
    assert chamfer_fscore(a, b, ())["chamfer"] == pytest.approx(floor, rel=0.1)


def test_surface_chamfer_of_concentric_spheres_is_their_gap():
    v1, f1, _ = sphere(0.3)
    v2, f2, _ = sphere(0.32)
    out = surface_chamfer_fscore(samples(v1, f1, 3000, 0), (v1, f1), samples(v2, f2, 3000, 1), (v2, f2),
                                 thresholds=(0.019, 0.021))
    # faceting: an icosphere of 2562 vertices sags < 2e-4 between its vertices
    assert out["chamfer"] == pytest.approx(0.02, abs=3e-4)
    assert out["fscore"] == {"0.019": 0.0, "0.021": 1.0}
    # and the directions are kept apart: a gt half as big is missed by half its samples' recall
    half = (v2[:, 2] > 0)
    keep = half[f2].all(axis=1)
    cap_pts = samples(v2, f2[keep], 2000, 2)
    one_way = surface_chamfer_fscore(cap_pts, (v2, f2[keep]), samples(v1, f1, 2000, 3), (v1, f1), thresholds=(0.021,))
    assert one_way["precision"]["0.021"] == 1.0 and 0.3 < one_way["recall"]["0.021"] < 0.7


def test_label_accuracy_through_the_nearest_gt_vertex():
    # pred labels 1, 2, 3 against gt labels at nearest = 0, 2, 2 -> 1, 3, 3: two of three agree
    assert label_accuracy(np.array([1, 2, 3]), np.array([1, 5, 3, 9]), np.array([0, 2, 2])) == pytest.approx(2 / 3)
    assert label_accuracy(np.array([5, 9]), np.array([1, 5, 3, 9]), np.array([1, 3])) == 1.0
    with pytest.raises(ValueError, match="2 labels for 1 nearest"):
        label_accuracy(np.array([1, 2]), np.array([1, 2]), np.array([0]))


# ---- images ---------------------------------------------------------------------------------------
def test_psnr_of_a_constant_offset():
    a = np.full((4, 5, 3), 0.25)
    assert psnr(a, a + 0.1) == pytest.approx(20.0)  # MSE 0.01 -> 10 log10(1 / 0.01)
    assert psnr(a + 0.5, a) == pytest.approx(10 * math.log10(4))  # MSE 0.25
    assert psnr(a, a + 0.1, peak=2.0) == pytest.approx(10 * math.log10(400))  # 4 / 0.01
    b = a.copy()
    b[0, 0, 0] += 0.6  # one of 60 values off by 0.6: MSE 0.006
    assert psnr(a, b) == pytest.approx(10 * math.log10(1 / 0.006))
    assert psnr(a, a) == math.inf
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(a, a[:2])


def test_psnr_of_uint8_images_does_not_wrap_around():
    a = np.zeros((4, 4), np.uint8)
    b = np.full((4, 4), 10, np.uint8)  # 0 - 10 would wrap to 246 in uint8 arithmetic
    assert psnr(a, b, peak=255.0) == pytest.approx(10 * math.log10(255 ** 2 / 100))


# ---- colours ----------------------------------------------------------------------------------------
def test_part_colours_by_hand():
    labels = np.array([[1, 1],
                       [2, 0]])
    rgb = np.zeros((2, 2, 3))
    rgb[0, 0], rgb[0, 1] = (0.2, 0.4, 0.6), (0.4, 0.4, 0.0)  # part 1: mean (0.3, 0.4, 0.3)
    rgb[1, 0] = (1.0, 0.0, 0.5)  # part 2: itself
    rgb[1, 1] = (9.0, 9.0, 9.0)  # background: not a part asked for
    out = part_colours(rgb, labels, [2, 1, 5])
    np.testing.assert_allclose(out[0], [1.0, 0.0, 0.5])
    np.testing.assert_allclose(out[1], [0.3, 0.4, 0.3])
    assert np.isnan(out[2]).all()  # part 5 has no pixel
    with pytest.raises(ValueError, match="differ in size"):
        part_colours(rgb, labels[:1], [1])


def test_colour_spread_by_hand():
    # one part, channel R takes 0 and 1 (population std 0.5), G and B constant (0): mean 1/6
    c = np.array([[[0.0, 0.2, 0.2]], [[1.0, 0.2, 0.2]]])
    assert colour_spread(c) == pytest.approx(0.5 / 3)
    # a second part seen in only one image is ignored; NaN rows are skipped
    c2 = np.concatenate([c, np.array([[[np.nan] * 3], [[0.9, 0.1, 0.3]]])], axis=1)
    assert colour_spread(c2) == pytest.approx(0.5 / 3)
    c3 = np.concatenate([c, np.array([[[np.nan] * 3]])], axis=0)  # a third image without the part
    assert colour_spread(c3) == pytest.approx(0.5 / 3)
    assert colour_spread(np.ones((5, 1, 3))) == 0.0  # identical colours
    assert math.isnan(colour_spread(np.ones((1, 2, 3))))  # one image: no spread to measure
