import json

import pytest
import torch

from s3d_engine.cameras import domain_camera
from s3d_engine.config import get_config
from s3d_engine.models.generator import TriPlaneGenerator
from s3d_engine.models.unet import UNetStyleDistil


@pytest.mark.parametrize("domain, key", [("face", "seg2face"), ("cat", "seg2cat")])
def test_paper_state_dict_equals_reference_layout(data_dir, domain, key):
    reference = json.loads((data_dir / "pix2pix3d_G_ema_keys.json").read_text())[key]
    with torch.device("meta"):
        gen = TriPlaneGenerator(get_config("paper", domain))
    ours = {k: list(v.shape) for k, v in gen.state_dict().items()}
    assert ours == reference
    assert gen.num_ws == 14


@pytest.mark.parametrize("name", ["tiny", "small"])
@pytest.mark.parametrize("domain", ["face", "cat"])
def test_generator_shapes_and_dtypes(name, domain):
    cfg = get_config(name, domain)
    g = cfg.generator
    torch.manual_seed(0)
    gen = TriPlaneGenerator(cfg).eval()
    c = torch.from_numpy(domain_camera(domain))[None]
    mask = torch.randint(0, cfg.num_classes, (1, g.mask_resolution, g.mask_resolution))
    with torch.no_grad():
        ws = gen.mapping(torch.randn(1, g.z_dim), c, mask=mask)
        assert ws.shape == (1, 14, g.w_dim) and ws.dtype == torch.float32
        geometry = gen.backbone.mapping.geometry(mask)
        assert torch.equal(ws[:, :7], geometry)  # the first 7 ws are the encoder's (S3D's target)
        assert torch.allclose(ws[:, 7], ws[:, 13])  # the appearance w is repeated
        out = gen.synthesis(ws, c, neural_rendering_resolution=8 if name == "tiny" else 16)
    res = 8 if name == "tiny" else 16
    assert out["planes"].shape == (1, 3, g.plane_channels, 256, 256)
    assert out["image_raw"].shape == (1, 3, res, res)
    assert out["semantic_raw"].shape == (1, cfg.num_classes, res, res)
    assert out["image"].shape == (1, 3, g.output_resolution, g.output_resolution)
    assert out["semantic"].shape == (1, cfg.num_classes, g.output_resolution, g.output_resolution)
    assert out["image_depth"].shape == (1, 1, res, res)
    depth = out["image_depth"]
    assert (depth >= cfg.camera.ray_start - 1e-4).all() and (depth <= cfg.camera.ray_end + 0.05).all()
    assert all(torch.isfinite(v).all() for v in out.values())


def test_mapping_depends_on_mask_z_and_camera():
    cfg = get_config("tiny", "face")
    gen = TriPlaneGenerator(cfg).eval()
    c = torch.from_numpy(domain_camera("face"))[None]
    z = torch.randn(1, cfg.generator.z_dim)
    m1 = torch.zeros(1, 32, 32, dtype=torch.long)
    m2 = m1.clone()
    m2[:, 8:24, 8:24] = 1
    with torch.no_grad():
        a = gen.mapping(z, c, mask=m1)
        b = gen.mapping(z, c, mask=m2)
        d = gen.mapping(torch.randn_like(z), c, mask=m1)
    assert not torch.allclose(a[:, :7], b[:, :7]) and torch.allclose(a[:, 7:], b[:, 7:])
    assert torch.allclose(a[:, :7], d[:, :7]) and not torch.allclose(a[:, 7:], d[:, 7:])
    with pytest.raises(ValueError, match="0..18"):
        gen.backbone.mapping.geometry(torch.full((1, 32, 32), 19))


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_unet_shapes_and_style_code(name):
    cfg = get_config(name, "cat")
    unet = UNetStyleDistil(cfg.unet, cfg.num_classes).eval()
    r = cfg.unet.resolution
    with torch.no_grad():
        logits, style = unet(torch.rand(2, 1, r, r))
    assert logits.shape == (2, 6, r, r)
    assert style.shape == (2, cfg.generator.w_dim, 7)  # shaped like the generator's geometry ws, transposed
    with pytest.raises(ValueError, match="expects"):
        unet(torch.rand(1, 1, r // 2, r // 2))


def test_paper_unet_has_seven_levels_to_4x4():
    cfg = get_config("paper", "face")
    assert len(cfg.unet.channels) == 7 and cfg.unet.resolution // 2 ** 7 == 4 and cfg.unet.style_dim == 512
