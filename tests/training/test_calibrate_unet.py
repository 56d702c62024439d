"""Logit adjustment (training/calibrate_unet.py): the offsets, the bias fold and the choice of
tau against values worked out by hand, and the command end to end on a tiny U-Net."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from s3d_engine.config import get_config
from s3d_engine.models.unet import UNetStyleDistil
from s3d_engine.weights import load_weights, save_weights
from training import calibrate_unet
from training.calibrate_unet import choose_tau, fold_offsets, logit_offsets


def test_logit_offsets_by_hand():
    w = torch.tensor([0.0, 1.0, math.e, math.e ** 2])
    # -tau log w: absent class (w = 0) untouched, log 1 = 0, log e = 1, log e^2 = 2
    assert logit_offsets(w, 0.5).tolist() == pytest.approx([0.0, 0.0, -0.5, -1.0])
    assert logit_offsets(w, 0.0).tolist() == pytest.approx([0.0, 0.0, 0.0, 0.0])


def test_fold_offsets_shifts_every_logit_by_its_class_offset():
    config = get_config("tiny")
    torch.manual_seed(0)
    U = UNetStyleDistil(config.unet, config.num_classes).eval()
    x = torch.rand(2, 1, config.unet.resolution, config.unet.resolution)
    with torch.no_grad():
        before, style_before = U(x)
    offsets = torch.linspace(-1.0, 1.0, config.num_classes)
    fold_offsets(U, offsets)
    with torch.no_grad():
        after, style_after = U(x)
    torch.testing.assert_close(after, before + offsets[None, :, None, None], atol=1e-5, rtol=0)
    torch.testing.assert_close(style_after, style_before)  # the style code is untouched


def test_choose_tau_undoes_a_known_over_prediction():
    # 2 classes, CE weights (1, e^2): offsets at tau are (0, -2 tau). Logit margins (class 1 minus
    # class 0): +1.5 on the true-0 pixels (over-predicted class 1), +3 on the true-1 pixels.
    # tau 0: margins (1.5, 3) -> every pixel class 1; tau 0.5: (0.5, 2) -> still;
    # tau 1: (-0.5, 1) -> all correct; tau 2: (-2.5, -1) -> every pixel class 0.
    labels = np.array([[[0, 0, 1, 1]]], np.uint8)
    logits = torch.zeros(1, 2, 1, 4)
    logits[0, 1, 0] = torch.tensor([1.5, 1.5, 3.0, 3.0])
    weights = torch.tensor([1.0, math.e ** 2])
    tau, rows = choose_tau(logits, labels, weights, (0.0, 0.5, 1.0, 2.0))
    assert tau == 1.0
    by_tau = {r["tau"]: r["miou"] for r in rows}
    # tau 0 and 0.5: class 0 IoU 0, class 1 IoU 2/4 -> mIoU 1/4; tau 2 the mirror image
    assert by_tau == pytest.approx({0.0: 0.25, 0.5: 0.25, 1.0: 1.0, 2.0: 0.25})


def test_choose_tau_prefers_the_smaller_tau_on_a_tie():
    labels = np.array([[[0, 1]]], np.uint8)
    logits = torch.tensor([[[[5.0, -5.0]], [[-5.0, 5.0]]]])  # right at every tau of the grid
    tau, _ = choose_tau(logits, labels, torch.tensor([1.0, 2.0]), (0.0, 0.5, 1.0))
    assert tau == 0.0


def test_calibrate_command_end_to_end(tmp_path, capsys):
    from training.make_dataset import main as make_dataset

    make_dataset(["--kind", "face", "--count", "4", "--test-count", "0", "--views-per-identity", "2",
                  "--out", str(tmp_path / "data"), "--res", "32", "--sheet", "0", "--workers", "1"])
    config = get_config("tiny")
    torch.manual_seed(0)
    U = UNetStyleDistil(config.unet, config.num_classes)
    src = save_weights(tmp_path / "unet.safetensors", {"unet": U}, config, training_command="train it")
    out = tmp_path / "calibrated.safetensors"
    assert calibrate_unet.main(["--unet", str(src), "--data", str(tmp_path / "data"), "--class-power", "0.5",
                                "--out", str(out), "--val-identities", "2", "--views", "1",
                                "--taus", "0", "1", "--threads", "1"]) == 0
    w = load_weights(out)
    adj = w.metadata["logit_adjustment"]
    assert adj["tau"] in (0.0, 1.0) and adj["validation_views"] == 2 and len(adj["validation"]) == 2
    assert w.metadata["training_command"].startswith("train it\npython -m training.calibrate_unet")
    expected = U.head.bias.detach() + logit_offsets(torch.tensor(adj["class_weights"]), adj["tau"])
    torch.testing.assert_close(w.state_dict("unet")["head.bias"], expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("change, message", [
    ({"--unet": "missing.safetensors"}, "does not exist"),
    ({"--class-power": "0"}, "needs no adjustment"),
    ({"--data": "nowhere"}, "no training split"),
])
def test_calibrate_rejects_bad_input_in_one_line(tmp_path, change, message):
    config = get_config("tiny")
    src = save_weights(tmp_path / "unet.safetensors", {"unet": UNetStyleDistil(config.unet, config.num_classes)}, config)
    (tmp_path / "data" / "meta" / "train").mkdir(parents=True)
    args = {"--unet": str(src), "--data": str(tmp_path / "data"), "--class-power": "0.5",
            "--out": str(tmp_path / "o.safetensors")}
    args.update({k: (str(tmp_path / v) if k != "--class-power" else v) for k, v in change.items()})
    with pytest.raises(SystemExit, match=message):
        calibrate_unet.main([x for kv in args.items() for x in kv])
