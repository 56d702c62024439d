"""The U-Net losses (training/losses.py) against values worked out by hand.

Logits are chosen so that the softmax is simple: (ln 3, 0) -> (3/4, 1/4) and (0, 0) -> (1/2, 1/2).
"""
from __future__ import annotations

import math

import pytest
import torch

from training.losses import dice_loss, unet_loss

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
