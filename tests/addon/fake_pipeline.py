"""A stand-in for S3DPipeline with the same interface, for worker/add-on tests that must be fast
or must misbehave on purpose. Selected in the worker with S3D_WORKER_PIPELINE=fake_pipeline:FakePipeline.

Weights names: "fake:<domain>[:option...]" with options
    slow=<seconds>   sleep per stage (cancel tests)
    crash            the process dies in the middle of a job (os._exit)
    error            raise SketchError
    noisy            print junk on stdout (the worker must keep stdout clean)
"""
from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from PIL import Image

from s3d_engine.errors import OptionsError, SketchError, WeightsError
from s3d_engine.labels import CAT_LABELS, FACE_LABELS

STAGES = ("mask", "planes", "mesh", "render")
RECEIVED: list = []  # every call's options, in this process (in-process tests read it)


class FakeMesh:
    def __init__(self, vertices, faces, colors, labels, label_names):
        self.vertices, self.faces, self.colors, self.labels, self.label_names = vertices, faces, colors, labels, label_names


class FakeResult:
    def __init__(self, mesh, mask, mask_rgb, front, timings, formats):
        self.mesh, self.mask, self.mask_rgb, self.front, self.timings = mesh, mask, mask_rgb, front, timings
        self.formats = formats

    def save(self, out_dir, reuse=None):  # S3DResult.save's signature; the fake always writes
        formats = self.formats
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        files = {}
        if "ply" in formats:
            files["ply"] = out / "mesh.ply"
            write_ply(files["ply"], self.mesh)
        for name, arr in (("mask", self.mask), ("mask_rgb", self.mask_rgb), ("front", self.front)):
            if arr is None:
                continue
            files[name] = out / f"{name}.png"
            Image.fromarray(arr).save(files[name])
        return files


def write_ply(path, mesh):
    v = np.asarray(mesh.vertices, np.float32)
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"element vertex {len(v)}\nproperty float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\nproperty uchar label\n"
        f"element face {len(mesh.faces)}\nproperty list uchar int vertex_indices\nend_header\n"
    )
    vdt = np.dtype([("p", "<f4", 3), ("c", "u1", 3), ("l", "u1")])
    va = np.empty(len(v), vdt)
    va["p"], va["c"], va["l"] = v, mesh.colors, mesh.labels
    fdt = np.dtype([("n", "u1"), ("i", "<i4", 3)])
    fa = np.empty(len(mesh.faces), fdt)
    fa["n"], fa["i"] = 3, mesh.faces
    tmp = Path(str(path) + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(header.encode("ascii"))
        fh.write(va.tobytes())
        fh.write(fa.tobytes())
    os.replace(tmp, path)


def sphere(rings: int = 12, segments: int = 24):
    verts = [(0.0, 0.4, 0.0)]
    for i in range(1, rings):
        theta = math.pi * i / rings
        for j in range(segments):
            phi = 2 * math.pi * j / segments
            verts.append((0.35 * math.sin(theta) * math.sin(phi), 0.4 * math.cos(theta), 0.35 * math.sin(theta) * math.cos(phi)))
    verts.append((0.0, -0.4, 0.0))
    faces = []
    for j in range(segments):
        faces.append((0, 1 + j, 1 + (j + 1) % segments))
    for i in range(rings - 2):
        a, b = 1 + i * segments, 1 + (i + 1) * segments
        for j in range(segments):
            k = (j + 1) % segments
            faces.append((a + j, b + j, b + k))
            faces.append((a + j, b + k, a + k))
    last = len(verts) - 1
    base = 1 + (rings - 2) * segments
    for j in range(segments):
        faces.append((base + j, last, base + (j + 1) % segments))
    return np.asarray(verts, np.float32), np.asarray(faces, np.int32)


class FakePipeline:
    def __init__(self, name: str, device: str):
        parts = name.split(":")
        if parts[0] != "fake":
            raise WeightsError(f"fake pipeline only loads 'fake:...' weights, not {name!r}")
        self.name, self.device = name, device
        self.domain = parts[1] if len(parts) > 1 and parts[1] in ("face", "cat") else "face"
        self.flags = {}
        for opt in parts[2:]:
            key, _, value = opt.partition("=")
            self.flags[key] = value
        self.labels = FACE_LABELS if self.domain == "face" else CAT_LABELS
        self.config = SimpleNamespace(domain=self.domain)
        self.calls = []  # the options each call received (the option-walk test reads them)

    @classmethod
    def from_pretrained(cls, name, device="auto"):
        time.sleep(float(os.environ.get("S3D_FAKE_LOAD_SECONDS", "0")))
        return cls(name, "cpu" if device == "auto" else device)

    def info(self):
        return {"version": "fake", "device": self.device, "config": "fake", "domain": self.domain, "weights": self.name}

    def options(self, opts):
        if opts.domain is not None and opts.domain != self.domain:
            raise OptionsError(f"fake weights are for {self.domain}, not {opts.domain}")
        return opts

    def __call__(self, sketch, opts, progress=None, on_mesh=None):
        self.options(opts)
        self.calls.append(opts)
        RECEIVED.append(opts.to_dict())
        seed, mesh_resolution = opts.seed, opts.mesh_resolution
        if "error" in self.flags:
            raise SketchError("fake error: the sketch is not a face")
        if isinstance(sketch, (str, os.PathLike)):
            if not os.path.exists(sketch):
                raise SketchError(f"sketch file not found: {sketch}")
        elif not len(sketch):
            raise SketchError("sketch is empty: no strokes given")
        if "noisy" in self.flags:
            print("junk on stdout from the pipeline")
            sys.stdout.write("more junk\n")
            os.write(1, b"raw fd 1 junk\n")
        delay = float(self.flags.get("slow") or 0.0)
        timings = {}
        for i, stage in enumerate(STAGES):
            if progress is not None:
                progress(stage, i / len(STAGES))
            t = time.perf_counter()
            if "crash" in self.flags and stage == "planes":
                os._exit(17)
            time.sleep(delay)
            timings[stage] = time.perf_counter() - t
        if progress is not None:
            progress("done", 1.0)
        rings = max(4, min(64, mesh_resolution // 8))
        v, f = sphere(rings, rings * 2)
        rng = np.random.default_rng(seed)
        v = v * (1.0 + 0.05 * rng.standard_normal())
        n = self.labels.num_classes
        labels = np.where(v[:, 1] > 0.2, min(13, n - 1), 1).astype(np.uint8)
        labels[(v[:, 2] > 0.3) & (np.abs(v[:, 1]) < 0.1)] = 2  # "nose" band
        colors = self.labels.palette_array()[labels]
        mask = np.zeros((64, 64), np.uint8)
        mask[16:48, 16:48] = 1
        mesh = FakeMesh(v, f, colors, labels, list(self.labels.names))
        if on_mesh is not None:
            on_mesh(FakeResult(mesh, mask, self.labels.colorize(mask), None, dict(timings), opts.formats))
        front = np.full((64, 64, 3), 128, np.uint8) if opts.render else None
        return FakeResult(mesh, mask, self.labels.colorize(mask), front, timings, opts.formats)
