"""Procedural training data for S3D for Blender: semantic 3D heads (faces with the 19
CelebAMask-HQ classes, cats with our 6 classes), rendered in EG3D camera conventions with full
ground truth (RGB, label map, depth, alpha, camera label, labelled mesh), S3D-style sketches,
and readers for the real datasets' formats. See docs/DATA.md.

Light to import: heavy modules (rendering, torch datasets) load on first use.
"""
from __future__ import annotations

__all__ = ["render_sample", "Sample", "make_head", "identity_seed", "split_of", "TEST_IDENTITY_OFFSET",
           "head_mesh", "rasterize_mesh", "make_sketch", "augment_sketch", "S3DFolderDataset", "Pix2Pix3DDataset"]

_LAZY = {
    "render_sample": "sample", "Sample": "sample", "make_head": "sample", "identity_seed": "sample",
    "split_of": "sample", "TEST_IDENTITY_OFFSET": "sample", "head_mesh": "gt_mesh", "rasterize_mesh": "gt_mesh",
    "make_sketch": "sketches", "augment_sketch": "augment", "S3DFolderDataset": "datasets",
    "Pix2Pix3DDataset": "datasets",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(name)
