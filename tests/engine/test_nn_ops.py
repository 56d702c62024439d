import numpy as np
import torch

from s3d_engine.nn.ops import conv2d_resample, modulated_conv2d, setup_filter, upfirdn2d, upsample2d


def naive_upfirdn(x, f, up, pad):
    """Direct definition: zero-insert, zero-pad, true 2-D convolution with f, per channel."""
    x = x.numpy()[0, 0]
    f = f.numpy()
    h, w = x.shape
    big = np.zeros((h * up, w * up))
    big[::up, ::up] = x
    big = np.pad(big, ((pad, pad), (pad, pad)))
    k = f.shape[0]
    out = np.zeros((big.shape[0] - k + 1, big.shape[1] - k + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (big[i:i + k, j:j + k] * f[::-1, ::-1]).sum()
    return out


def test_filter_is_normalised_binomial():
    f = setup_filter()
    assert f.shape == (4, 4) and torch.isclose(f.sum(), torch.tensor(1.0))
    assert torch.allclose(f[0], torch.tensor([1, 3, 3, 1]) / 64.0)


def test_upfirdn_matches_direct_definition():
    torch.manual_seed(0)
    x = torch.randn(1, 1, 5, 6)
    f = torch.rand(4, 4)
    ours = upfirdn2d(x, f, up=2, padding=(2, 2, 2, 2))[0, 0].numpy()
    assert np.allclose(ours, naive_upfirdn(x, f, 2, 2), atol=1e-5)


def test_upsample_preserves_constant_images():
    x = torch.ones(1, 3, 8, 8)
    y = upsample2d(x, setup_filter())
    assert y.shape == (1, 3, 16, 16)
    assert torch.allclose(y[:, :, 2:-2, 2:-2], torch.ones(1, 3, 12, 12), atol=1e-6)


def test_modulated_conv_equals_scaling_activations():
    """Fused grouped conv == scale inputs by styles, conv, scale outputs by demod coefficients."""
    torch.manual_seed(1)
    x = torch.randn(2, 4, 8, 8)
    w = torch.randn(5, 4, 3, 3)
    s = torch.rand(2, 4) + 0.5
    fused = modulated_conv2d(x, w, s, padding=1)
    ref = torch.nn.functional.conv2d(x * s[:, :, None, None], w, padding=1)
    d = ((w[None] * s[:, None, :, None, None]).square().sum([2, 3, 4]) + 1e-8).rsqrt()
    assert torch.allclose(fused, ref * d[:, :, None, None], atol=1e-5)


def test_downsampling_conv_halves_resolution():
    x = torch.randn(1, 2, 16, 16)
    y = conv2d_resample(x, torch.randn(3, 2, 3, 3), f=setup_filter(), down=2, padding=1)
    assert y.shape == (1, 3, 8, 8)
