"""`GenerateOptions`: every option a user can set for one generation, with its default, its
limits and its validation, in one place. The CLI, the worker protocol, the Blender add-on's
request and the batch all build one of these, and `S3DPipeline.__call__` takes it.

    opts = GenerateOptions(seed=3, mesh_resolution=256, smooth=10)
    opts = GenerateOptions.from_dict({"seed": 3, "mesh_resolution": 256})   # the wire form
    opts.to_dict()  # -> plain JSON types; from_dict(to_dict()) == opts

Validation runs in `__post_init__`, so an invalid object cannot exist: a bad value gives one
`OptionsError` line naming the option, its value and the allowed range, before any compute.
"""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

from . import limits
from .errors import OptionsError


_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d{1,2})?)$")


def _int(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise OptionsError(f"{name} must be a whole number, got {value!r}")
    if not lo <= value <= hi:
        raise OptionsError(f"{name} must lie in {lo}..{hi}, got {value}")
    return int(value)


def parse_formats(value: Any) -> tuple[str, ...]:
    """'glb,ply' or ['glb', 'ply'] -> ('glb', 'ply'), in order, without repeats; unknown or no
    formats are an error (an empty mesh request would otherwise succeed with no mesh)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise OptionsError(f"formats must be a list such as glb,ply, got {value!r}")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise OptionsError(f"formats must be names (glb, ply, obj), got {item!r}")
        name = item.strip().lower()
        if not name:
            continue
        if name not in limits.MESH_FORMATS:
            raise OptionsError(f"unknown mesh format {name!r}; choose from {', '.join(limits.MESH_FORMATS)}")
        if name not in out:
            out.append(name)
    if not out:
        raise OptionsError(f"no mesh format given; choose from {', '.join(limits.MESH_FORMATS)}")
    return tuple(out)


@dataclass(frozen=True)
class GenerateOptions:
    """Args:
        seed: appearance and fine-geometry seed (0..2^32-1): z ~ N(0, I) from this seed.
        mesh_resolution: marching-cubes grid per axis (16..512).
        smooth: Taubin smoothing iterations (0 = off, up to 200).
        decimate_faces: target face count (0 = keep all; else 100..5,000,000).
        formats: mesh files to write: any of glb, ply, obj.
        turntable_frames: orbit frames rendered after the mesh (0 = none, up to 120).
        render: render the front view + super-resolution after the mesh (the CLI's --no-render
            turns it off; the mesh never waits for it).
        mesh: extract a mesh at all (False: mask and renders only).
        truncation_psi: StyleGAN truncation towards w_avg (0..2; 1 = none).
        fit: 'frame' keeps the image framing, 'content' crops to the strokes, 'auto' picks.
        device: 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'.
        domain: 'face' or 'cat', checked against the weights; None takes the weights' domain.
    """

    seed: int = 0
    mesh_resolution: int = 128
    smooth: int = 0
    decimate_faces: int = 0
    formats: tuple[str, ...] = ("glb", "ply")
    turntable_frames: int = 0
    render: bool = True
    mesh: bool = True
    truncation_psi: float = 1.0
    fit: str = "auto"
    device: str = "auto"
    domain: str | None = None

    def __post_init__(self) -> None:
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 - frozen
        put("seed", _int("seed", self.seed, 0, limits.SEED_MAX))
        put("mesh_resolution", _int("mesh_resolution", self.mesh_resolution,
                                    limits.MESH_RESOLUTION_MIN, limits.MESH_RESOLUTION_MAX))
        if self.smooth is True or self.smooth is False:
            raise OptionsError(f"smooth is a number of iterations (0..{limits.SMOOTH_MAX}), got {self.smooth!r}")
        put("smooth", _int("smooth", self.smooth, 0, limits.SMOOTH_MAX))
        faces = _int("decimate_faces", self.decimate_faces, 0, limits.DECIMATE_MAX)
        if 0 < faces < limits.DECIMATE_MIN:
            raise OptionsError(f"decimate_faces must be 0 (off) or at least {limits.DECIMATE_MIN}, got {faces}")
        put("decimate_faces", faces)
        put("formats", parse_formats(self.formats))
        put("turntable_frames", _int("turntable_frames", self.turntable_frames, 0, limits.FRAMES_MAX))
        for flag in ("render", "mesh"):
            if not isinstance(getattr(self, flag), bool):
                raise OptionsError(f"{flag} must be true or false, got {getattr(self, flag)!r}")
        psi = self.truncation_psi
        if isinstance(psi, bool) or not isinstance(psi, (int, float)) or not math.isfinite(psi) \
                or not limits.TRUNCATION_MIN <= psi <= limits.TRUNCATION_MAX:
            raise OptionsError(f"truncation_psi must be a number in {limits.TRUNCATION_MIN:g}.."
                               f"{limits.TRUNCATION_MAX:g}, got {psi!r}")
        put("truncation_psi", float(psi))
        if self.fit not in limits.FIT_MODES:
            raise OptionsError(f"fit must be one of {', '.join(limits.FIT_MODES)}, got {self.fit!r}")
        if not isinstance(self.device, str) or not _DEVICE.match(self.device.strip().lower()):
            raise OptionsError(f"device must be auto, cpu, cuda, cuda:N or mps, got {self.device!r}")
        put("device", self.device.strip().lower())
        if self.domain is not None and self.domain not in limits.DOMAINS:
            raise OptionsError(f"domain must be one of {', '.join(limits.DOMAINS)}, got {self.domain!r}")

    # ------------------------------------------------------------------ wire form
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, one key per option."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["formats"] = list(self.formats)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "GenerateOptions":
        """Build from the wire form; unknown keys are an error (a typo must not be ignored)."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise OptionsError(f"options must be an object of option names, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise OptionsError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**dict(data))

    def replace(self, **changes: Any) -> "GenerateOptions":
        """A copy with some options changed (validated again)."""
        return GenerateOptions.from_dict({**self.to_dict(), **changes})
