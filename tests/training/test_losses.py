"""The U-Net losses (training/losses.py) against values worked out by hand.

Logits are chosen so that the softmax is simple: (ln 3, 0) -> (3/4, 1/4) and (0, 0) -> (1/2, 1/2).
"""
from __future__ import annotations

import math

import pytest
import torch

from training.losses import class_weights_from_counts, dice_loss, render_loss, sr_loss, unet_loss

L3 = math.log(3.0)


def two_images():
    """Batch of 2 images of 1x2 pixels, 2 classes. logits (B, C, H, W), target (B, H, W).

    image 0: pixel 0 -> probs (3/4, 1/4), target 0; pixel 1 -> (1/2, 1/2), target 1
    image 1: pixel 0 -> probs (1/4, 3/4), target 1; pixel 1 -> (1/2, 1/2), target 1
    """
    logits = torch.tensor([[[[L3, 0.0]], [[0.0, 0.0]]],
                           [[[0.0, 0.0]], [[L3, 0.0]]]], dtype=torch.float64)
    target = torch.tensor([[[0, 1]], [[1, 1]]])
    return logits, target


# Dice per (image, class) = 2 * inter / (sum of probs + sum of one-hot):
#   image 0, class 0: probs (3/4, 1/2), one-hot (1, 0): 2 * 3/4 / (5/4 + 1) = 2/3
#   image 0, class 1: probs (1/4, 1/2), one-hot (0, 1): 2 * 1/2 / (3/4 + 1) = 4/7
#   image 1, class 0: probs (1/4, 1/2), one-hot (0, 0): 0 / (3/4)          = 0
#   image 1, class 1: probs (3/4, 1/2), one-hot (1, 1): 2 * 5/4 / (5/4 + 2) = 10/13
DICE = 1 - (2 / 3 + 4 / 7 + 0 + 10 / 13) / 4
# CE = mean over the 4 pixels of -ln p(target): -ln 3/4, -ln 1/2, -ln 3/4, -ln 1/2
CE = (2 * math.log(4 / 3) + 2 * math.log(2)) / 4


def test_dice_loss_by_hand_on_one_image():
    logits, target = two_images()
    # image 0 alone: 1 - (2/3 + 4/7) / 2 = 8/21
    assert float(dice_loss(logits[:1], target[:1])) == pytest.approx(8 / 21, rel=1e-5)


def test_dice_loss_by_hand_is_a_mean_over_images_and_classes():
    logits, target = two_images()
    assert float(dice_loss(logits, target)) == pytest.approx(DICE, rel=1e-5)


def test_dice_loss_limits():
    target = torch.tensor([[[0, 1, 1]]])
    perfect = torch.nn.functional.one_hot(target, 2).permute(0, 3, 1, 2).double() * 60.0
    assert float(dice_loss(perfect, target)) == pytest.approx(0.0, abs=1e-6)
    assert float(dice_loss(-perfect, target)) == pytest.approx(1.0, abs=1e-6)  # every pixel wrong


def three_classes_one_absent():
    """Image 0 of two_images() plus a class 2 whose probability is exactly 0 (logit -1000) and which
    the target never uses: probs (3/4, 1/4, 0) and (1/2, 1/2, 0), target (0, 1)."""
    logits, target = two_images()
    absent = torch.full((1, 1, 1, 2), -1000.0, dtype=torch.float64)
    return torch.cat([logits[:1], absent], 1), target[:1]


def test_dice_loss_with_an_absent_class_and_the_smoothing_term():
    logits, target = three_classes_one_absent()
    # smooth = 1: Dice_c = (2 I + 1) / (U + 1)
    #   class 0: I = 3/4, U = 5/4 + 1 = 9/4 -> (5/2) / (13/4) = 10/13
    #   class 1: I = 1/2, U = 3/4 + 1 = 7/4 -> 2 / (11/4)     = 8/11
    #   class 2: I = 0,   U = 0            -> 1 / 1          = 1 (absent from both: perfect)
    assert float(dice_loss(logits, target, smooth=1.0)) == pytest.approx(1 - (10 / 13 + 8 / 11 + 1) / 3, rel=1e-9)
    # the default smooth (1e-6) barely moves classes 0 and 1, and still makes class 2's 0/0 a 1
    assert float(dice_loss(logits, target)) == pytest.approx(1 - (2 / 3 + 4 / 7 + 1) / 3, rel=1e-5)


def test_unet_loss_terms_and_total_by_hand():
    logits, target = two_images()
    out = unet_loss(logits, torch.zeros(2, 3, 7), target, None)
    assert float(out["ce"]) == pytest.approx(CE, rel=1e-6)
    assert float(out["dice"]) == pytest.approx(DICE, rel=1e-5)
    assert float(out["total"]) == pytest.approx(CE + DICE, rel=1e-5)
    assert "mse" not in out


def test_unet_loss_adds_the_weighted_style_mse():
    logits, target = two_images()
    style = torch.zeros(2, 3, 7, dtype=torch.float64)
    style_target = torch.full((2, 3, 7), 0.5, dtype=torch.float64)  # squared error 0.25 everywhere
    out = unet_loss(logits, style, target, style_target, mse_weight=2.0)
    assert float(out["mse"]) == pytest.approx(0.25)
    assert float(out["total"]) == pytest.approx(CE + DICE + 2.0 * 0.25, rel=1e-5)


def test_unet_loss_default_mse_weight_is_one():
    logits, target = two_images()
    style = torch.zeros(2, 3, 7, dtype=torch.float64)
    out = unet_loss(logits, style, target, style + 0.5)
    assert float(out["total"]) == pytest.approx(CE + DICE + 0.25, rel=1e-5)


def test_unet_loss_class_weighted_cross_entropy():
    logits, target = two_images()
    # targets 0, 1, 1, 1 with -ln p = ln 4/3, ln 2, ln 4/3, ln 2; weights (1, 3):
    # sum(w_t * -ln p) / sum(w_t) = (1 ln 4/3 + 3 ln 2 + 3 ln 4/3 + 3 ln 2) / 10
    weights = torch.tensor([1.0, 3.0], dtype=torch.float64)
    out = unet_loss(logits, torch.zeros(2, 3, 7), target, None, class_weights=weights)
    assert float(out["ce"]) == pytest.approx((4 * math.log(4 / 3) + 6 * math.log(2)) / 10, rel=1e-6)
    assert float(out["total"]) == pytest.approx(float(out["ce"]) + DICE, rel=1e-5)


def test_sr_loss_terms_by_hand():
    logits, target = two_images()
    image = torch.zeros(2, 3, 1, 2, dtype=torch.float64)
    rgb = torch.full((2, 3, 1, 2), -0.25, dtype=torch.float64)  # L1 0.25 everywhere
    out = sr_loss(image, logits, rgb, target)
    assert float(out["sr_rgb"]) == pytest.approx(0.25)
    assert float(out["sr_sem"]) == pytest.approx(CE, rel=1e-6)
    assert float(out["total"]) == pytest.approx(0.25 + CE, rel=1e-6)
    assert "sr_dice" not in out  # plain CE unless a Dice weight is given


def test_sr_loss_balances_the_semantic_head():
    logits, target = two_images()
    image = rgb = torch.zeros(2, 3, 1, 2, dtype=torch.float64)
    weights = torch.tensor([1.0, 3.0], dtype=torch.float64)
    out = sr_loss(image, logits, rgb, target, class_weights=weights, dice_weight=0.5)
    weighted_ce = (4 * math.log(4 / 3) + 6 * math.log(2)) / 10  # as in the U-Net's weighted CE above
    assert float(out["sr_sem"]) == pytest.approx(weighted_ce, rel=1e-6)
    assert float(out["sr_dice"]) == pytest.approx(DICE, rel=1e-5)
    assert float(out["total"]) == pytest.approx(weighted_ce + 0.5 * DICE, rel=1e-5)


def test_class_weights_from_counts_by_hand():
    # counts (0, 1, 3): freq (0, 1/4, 3/4); freq^-1/2 = (-, 2, 2/sqrt 3); absent class -> 0;
    # frequency-weighted mean 2 * 1/4 + 2/sqrt(3) * 3/4 = 1/2 + sqrt(3)/2
    w = class_weights_from_counts(torch.tensor([0, 1, 3]))
    mean = 0.5 + math.sqrt(3) / 2
    assert w.dtype == torch.float32
    assert w.tolist() == pytest.approx([0.0, 2 / mean, 2 / math.sqrt(3) / mean], rel=1e-6)
    # power 1, counts (1, 1000): raw weights 1001 and 1.001, weighted mean 1 + 1 = 2 -> 500.5 and
    # 0.5005, the first capped at 10
    w = class_weights_from_counts(torch.tensor([1, 1000]), power=1.0)
    assert w.tolist() == pytest.approx([10.0, 0.5005], rel=1e-6)
    w = class_weights_from_counts(torch.tensor([1, 1000]), power=1.0, cap=1000.0)
    assert w.tolist() == pytest.approx([500.5, 0.5005], rel=1e-6)
    assert class_weights_from_counts(torch.zeros(3)).tolist() == [0.0, 0.0, 0.0]  # nothing counted yet
    assert class_weights_from_counts(torch.tensor([0, 1])).tolist() == [0.0, 1.0]  # one pixel of one class


def test_part_colour_loss_by_hand():
    from training.losses import part_colour_loss

    # one sample, 4 points: two skin (label 1) near the surface, one skin far away, one hair (2)
    feats = torch.zeros(1, 4, 6)
    feats[0, 0, :3] = torch.tensor([0.2, 0.4, 0.6])
    feats[0, 1, :3] = torch.tensor([0.4, 0.4, 0.2])  # skin mean: (0.3, 0.4, 0.4)
    feats[0, 2, :3] = torch.tensor([9.0, 9.0, 9.0])  # far from the surface: ignored
    feats[0, 3, :3] = torch.tensor([0.1, 0.1, 0.1])
    sdf = torch.tensor([[0.0, 0.01, 0.5, -0.01]])
    labels = torch.tensor([[1, 1, 1, 2]])
    colours = torch.tensor([[[0.3, 0.5, 0.4], [0.1, 0.1, 0.4], [0.0, 0.0, 0.0]]])  # skin, hair, cloth (absent)
    loss = part_colour_loss(feats, sdf, labels, torch.tensor([1, 2, 7]), colours, band=0.02)
    # skin |(0.3,0.4,0.4)-(0.3,0.5,0.4)| = (0, 0.1, 0); hair |(0.1,0.1,0.1)-(0.1,0.1,0.4)| = (0, 0, 0.3)
    assert float(loss) == pytest.approx((0.1 + 0.3) / 6, abs=1e-6)
    none = part_colour_loss(feats, sdf, labels, torch.tensor([7]), colours[:, 2:], band=0.02)
    assert float(none) == 0.0
    feats.requires_grad_(True)
    part_colour_loss(feats, sdf, labels, torch.tensor([1, 2]), colours[:, :2], band=0.02).backward()
    assert feats.grad[0, 2].abs().sum() == 0 and feats.grad[0, 0, :3].abs().sum() > 0


def test_render_loss_class_weights_make_a_weighted_mean_of_the_ray_ce():
    """Three rays, 2 classes: ray 0 (label 0) has CE ln 2 (logits 0, 0); ray 1 (label 1) has CE
    ln(1 + 1/3) (logits 0, ln 3); ray 2 is background (alpha 0) and never counts.
    Plain: (ln 2 + ln 4/3) / 2. Weights (1, 3): (ln 2 + 3 ln 4/3) / 4."""
    feats = torch.zeros(1, 3, 4, dtype=torch.float64)  # output_dim 2: [colour (2) | semantic (2)]; only "sem" is read
    feats[0, 1, 3] = L3
    feats[0, 2, 2] = 50.0  # a background ray with a huge CE: must be masked out
    target = {"rgb": torch.zeros(1, 3, 3), "labels": torch.tensor([[0, 1, 1]]), "alpha": torch.tensor([[1.0, 1.0, 0.0]]),
              "t": torch.zeros(1, 3)}
    args = (torch.zeros(1, 3, 1), torch.full((1, 3, 1), 0.5), target, 2, 2, {})
    plain = render_loss(feats, *args)["sem"]
    assert float(plain) == pytest.approx((math.log(2) + math.log(4 / 3)) / 2)
    weighted = render_loss(feats, *args, class_weights=torch.tensor([1.0, 3.0]))["sem"]
    assert float(weighted) == pytest.approx((math.log(2) + 3 * math.log(4 / 3)) / 4)
