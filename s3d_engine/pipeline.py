"""`S3DPipeline`: sketch -> mask (S3D U-Net) -> ws (pix2pix3D mapping) -> tri-plane -> renders
and a labelled mesh. One object that owns the models and runs them, diffusers-style:

    pipe = S3DPipeline.from_pretrained("face")          # or a path, or "random:small:cat"
    result = pipe("sketch.png", seed=3)
    result.save("out/")
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from . import __version__
from .cameras import domain_camera, orbit_cameras
from .config import ModelConfig, get_config
from .device import half_precision, resolve_device
from .errors import S3DError, WeightsError
from .labels import LabelSet, label_set
from .mesh.extract import MeshOptions, extract_mesh
from .mesh.types import LabelledMesh
from .models.generator import TriPlaneGenerator
from .models.unet import UNetStyleDistil
from .results import S3DResult
from .sketch import SketchInput, normalize_sketch
from .weights import Weights, load_into, load_weights

WEIGHTS_DIR = Path(os.environ.get("S3D_WEIGHTS_DIR", Path(__file__).resolve().parent.parent / "weights"))
ProgressFn = Callable[[str, float], None]


class Cancelled(S3DError):
    """Raised (by a progress callback) to stop a generation between stages."""


def resolve_weights(name_or_path: str | os.PathLike) -> Path:
    """A shipped name ('face', 'cat', or any file stem in weights/) or a path to a .safetensors file."""
    text = str(name_or_path)
    path = Path(text)
    if path.suffix == ".safetensors" or os.sep in text or path.exists():
        if path.is_dir():
            raise WeightsError(f"{path} is a folder; pass a .safetensors file")
        return path
    candidate = WEIGHTS_DIR / f"{text}.safetensors"
    if candidate.exists():
        return candidate
    shipped = sorted(p.stem for p in WEIGHTS_DIR.glob("*.safetensors")) if WEIGHTS_DIR.exists() else []
    raise WeightsError(f"no weights named {text!r} in {WEIGHTS_DIR} (found: {', '.join(shipped) or 'none'}); "
                       f"pass a .safetensors path or 'random:<config>:<domain>' for random initialisation")


class S3DPipeline:
    def __init__(self, config: ModelConfig, unet: UNetStyleDistil, generator: TriPlaneGenerator,
                 device: torch.device, source: str, has_trained_unet: bool = True, half: bool = True) -> None:
        self.config, self.unet, self.generator, self.device = config, unet.eval(), generator.eval(), device
        self.source, self.has_trained_unet, self.half = source, has_trained_unet, half
        self.labels: LabelSet = label_set(config.domain)

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_config(cls, config: ModelConfig, device: str | torch.device = "auto", seed: int = 0) -> "S3DPipeline":
        """Randomly initialised models (deterministic by seed): every code path runs before training."""
        dev = resolve_device(device)
        torch.manual_seed(seed)
        unet = UNetStyleDistil(config.unet, config.num_classes)
        gen = TriPlaneGenerator(config)
        return cls(config, unet.to(dev), gen.to(dev), dev, source=f"random:{config.name}:{config.domain}")

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, device: str | torch.device = "auto") -> "S3DPipeline":
        text = str(name_or_path)
        if text.startswith("random:"):
            parts = text.split(":")
            if len(parts) != 3:
                raise WeightsError(f"random weights are named 'random:<config>:<domain>', got {text!r}")
            return cls.from_config(get_config(parts[1], parts[2]), device)
        weights = load_weights(resolve_weights(name_or_path))
        return cls.from_weights(weights, device)

    @classmethod
    def from_weights(cls, weights: Weights, device: str | torch.device = "auto") -> "S3DPipeline":
        dev = resolve_device(device)
        config = weights.config
        gen = TriPlaneGenerator(config)
        load_into(gen, weights.state_dict("generator"), f"{weights.path.name} [generator]")
        unet = UNetStyleDistil(config.unet, config.num_classes)
        has_unet = "unet" in weights.tensors
        if has_unet:
            load_into(unet, weights.state_dict("unet"), f"{weights.path.name} [unet]")
        return cls(config, unet.to(dev), gen.to(dev), dev, source=str(weights.path), has_trained_unet=has_unet)

    def info(self) -> dict[str, Any]:
        return {
            "version": __version__, "device": str(self.device), "config": self.config.name,
            "domain": self.config.domain, "weights": self.source, "num_classes": self.config.num_classes,
            "sketch_resolution": self.config.unet.resolution, "has_trained_unet": self.has_trained_unet,
            "torch": torch.__version__,
        }

    # ---------------------------------------------------------------- stages
    @torch.no_grad()
    def sketch_to_mask(self, sketch: np.ndarray) -> tuple[np.ndarray, torch.Tensor]:
        """Normalised sketch (R, R) in [0, 1] -> label map (R, R) uint8 and style code (1, w_dim, 7)."""
        x = torch.from_numpy(np.ascontiguousarray(sketch, dtype=np.float32))[None, None].to(self.device)
        with half_precision(self.device, self.half):
            logits, style = self.unet(x)
        return logits.argmax(1)[0].to(torch.uint8).cpu().numpy(), style.float()

    @torch.no_grad()
    def mask_to_ws(self, mask: np.ndarray, seed: int, truncation_psi: float = 1.0) -> torch.Tensor:
        g = self.config.generator
        z = torch.randn(1, g.z_dim, generator=torch.Generator().manual_seed(int(seed))).to(self.device)
        c = torch.from_numpy(domain_camera(self.config.domain))[None].to(self.device)
        m = torch.from_numpy(np.ascontiguousarray(mask)).long()[None].to(self.device)
        return self.generator.mapping(z, c, mask=m, truncation_psi=truncation_psi)

    @torch.no_grad()
    def render_views(self, planes: torch.Tensor, ws: torch.Tensor, cameras: np.ndarray, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Super-resolved RGB and argmax labels for each camera label (K, 25)."""
        rng = torch.Generator(device=self.device).manual_seed(int(seed))
        images, labels = [], []
        for cam in cameras:
            c = torch.from_numpy(cam)[None].to(self.device)
            out = self.generator.render(planes, ws, c, generator=rng, half_sr=self.half)
            img = ((out["image"][0].float().clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8).permute(1, 2, 0)
            images.append(img.cpu().numpy())
            labels.append(out["semantic"][0].argmax(0).to(torch.uint8).cpu().numpy())
        return images, labels

    # ---------------------------------------------------------------- the call
    def __call__(self, sketch: SketchInput | None = None, seed: int = 0, mesh_resolution: int = 128,
                 smooth: bool | int = False, decimate_faces: int = 0, turntable_frames: int = 0,
                 mask: np.ndarray | None = None, mesh: bool = True, mesh_level: float | None = None,
                 truncation_psi: float = 1.0, fit: str = "auto", progress: ProgressFn | None = None) -> S3DResult:
        """Generate a head from a sketch (file path, PIL image, array or stroke list), or directly
        from a label map via `mask=`. `progress(stage, fraction)` may raise to cancel."""
        timings: dict[str, float] = {}
        report = progress or (lambda stage, fraction: None)

        def stage(name: str, fraction: float) -> float:
            report(name, fraction)
            return time.perf_counter()

        res = self.config.unet.resolution
        t = stage("sketch", 0.0)
        if mask is None:
            if sketch is None:
                raise S3DError("give a sketch, or a label map through mask=")
            norm = normalize_sketch(sketch, res, fit=fit)
            timings["sketch"] = time.perf_counter() - t
            t = stage("mask", 0.1)
            label_map, _ = self.sketch_to_mask(norm)
            timings["unet"] = time.perf_counter() - t
        else:
            label_map = self._check_mask(mask)
            norm = None
        t = stage("planes", 0.25)
        with torch.no_grad():  # fp32, as pix2pix3D runs its backbone (num_fp16_res = 0)
            ws = self.mask_to_ws(label_map, seed, truncation_psi)
            planes = self.generator.planes(ws)
        timings["mapping_synthesis"] = time.perf_counter() - t
        t = stage("render", 0.4)
        cams = domain_camera(self.config.domain)[None]
        if turntable_frames > 0:
            cams = np.concatenate([cams, orbit_cameras(self.config.domain, turntable_frames)])
        images, view_labels = self.render_views(planes, ws, cams, seed)
        timings["render"] = time.perf_counter() - t
        labelled: LabelledMesh | None = None
        level = None
        auto_level = False
        if mesh:
            stage("mesh", 0.6)
            iterations = 10 if smooth is True else int(smooth or 0)
            opts = MeshOptions(resolution=mesh_resolution, level=mesh_level, smooth_iterations=iterations,
                               decimate_faces=decimate_faces)
            labelled, rep = extract_mesh(planes, self.generator.decoder, self.config.num_classes,
                                         list(self.labels.names), self.config.camera.box_warp,
                                         self.config.mesh_level, opts)
            timings.update(rep.timings)
            level, auto_level = rep.level, rep.auto_level
        report("done", 1.0)
        return S3DResult(
            sketch=norm, mask=label_map, mask_rgb=self.labels.colorize(label_map), front=images[0],
            front_labels=view_labels[0], views=images[1:], mesh=labelled, seed=seed, labels=self.labels,
            timings=timings, mesh_level=level, auto_level=auto_level, info=self.info())

    def _check_mask(self, mask: np.ndarray) -> np.ndarray:
        m = np.asarray(mask)
        if m.ndim != 2:
            raise S3DError(f"a label map must be 2-D, got shape {m.shape}")
        if m.size == 0 or m.min() < 0 or m.max() >= self.config.num_classes:
            raise S3DError(f"label values must lie in 0..{self.config.num_classes - 1}")
        r = self.config.generator.mask_resolution
        if m.shape != (r, r):
            from PIL import Image

            m = np.asarray(Image.fromarray(m.astype(np.uint8)).resize((r, r), Image.Resampling.NEAREST))
        return m.astype(np.uint8)
