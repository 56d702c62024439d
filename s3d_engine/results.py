"""The typed result of one generation, and how it is written to disk (atomically)."""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .io_utils import write_bytes_atomic, write_text_atomic
from .labels import LabelSet
from .mesh.export import export_mesh
from .mesh.types import LabelledMesh
from .options import GenerateOptions


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def gif_bytes(frames: list[np.ndarray], duration_ms: int = 80) -> bytes:
    buf = io.BytesIO()
    imgs = [Image.fromarray(f) for f in frames]
    imgs[0].save(buf, format="GIF", save_all=True, append_images=imgs[1:], duration=duration_ms, loop=0)
    return buf.getvalue()


@dataclass
class S3DResult:
    sketch: np.ndarray | None  # (R, R) float32 normalised sketch, None when a mask was given
    mask: np.ndarray  # (R, R) uint8 predicted part labels
    mask_rgb: np.ndarray  # (R, R, 3) uint8 palette colours
    front: np.ndarray | None  # (H, W, 3) uint8 super-resolved front view (None: not rendered)
    front_labels: np.ndarray | None  # (H, W) uint8 rendered semantic argmax at the front view
    views: list[np.ndarray]  # turntable frames (H, W, 3) uint8
    mesh: LabelledMesh | None
    seed: int
    labels: LabelSet
    timings: dict[str, float] = field(default_factory=dict)
    mesh_level: float | None = None
    auto_level: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    options: GenerateOptions | None = None  # what produced it (formats default from here)

    def save(self, out_dir: str | Path, formats: tuple[str, ...] | None = None, stem: str = "") -> dict[str, Path]:
        """Write mesh files, mask PNGs, the front view and a turntable GIF + strip; returns {kind: path}.
        `formats` defaults to the options' formats."""
        formats = formats or (self.options or GenerateOptions()).formats
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        prefix = f"{stem}_" if stem else ""
        files: dict[str, Path] = {}
        if self.mesh is not None:
            for fmt in formats:
                files[fmt] = export_mesh(self.mesh, out / f"{prefix}mesh.{fmt}", fmt)
        files["mask"] = write_bytes_atomic(out / f"{prefix}mask.png", png_bytes(self.mask))
        files["mask_rgb"] = write_bytes_atomic(out / f"{prefix}mask_rgb.png", png_bytes(self.mask_rgb))
        if self.front is not None:
            files["front"] = write_bytes_atomic(out / f"{prefix}front.png", png_bytes(self.front))
        if self.sketch is not None:
            sk = (np.clip(self.sketch, 0, 1) * 255 + 0.5).astype(np.uint8)
            files["sketch"] = write_bytes_atomic(out / f"{prefix}sketch.png", png_bytes(sk))
        if self.views:
            files["turntable"] = write_bytes_atomic(out / f"{prefix}turntable.gif", gif_bytes(self.views))
            files["strip"] = write_bytes_atomic(out / f"{prefix}turntable_strip.png", png_bytes(np.concatenate(self.views, axis=1)))
        summary = {
            "seed": self.seed, "domain": self.labels.domain, "timings": self.timings,
            "mesh": None if self.mesh is None else {
                "vertices": int(len(self.mesh.vertices)), "faces": int(len(self.mesh.faces)),
                "level": self.mesh_level, "auto_level": self.auto_level, "parts": self.mesh.label_counts()},
            "options": None if self.options is None else self.options.to_dict(),
            "engine": self.info, "files": {k: v.name for k, v in files.items()},
        }
        files["summary"] = write_text_atomic(out / f"{prefix}result.json", json.dumps(summary, indent=2) + "\n")
        return files
