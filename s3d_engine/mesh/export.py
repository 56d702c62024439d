"""Mesh writers: PLY (binary, sRGB uchar colours + a `label` vertex property), GLB (linear
COLOR_0 as glTF requires, `_LABEL` custom attribute, label names in `extras`) and OBJ (vertex
colours, labels in `#l` comment lines). All writes are atomic. Coordinates stay in EG3D world
space, which is glTF's too: y up, the face looks toward +z."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from ..io_utils import write_bytes_atomic
from .types import LabelledMesh

FORMATS = ("ply", "glb", "obj")


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, dtype=np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def ply_bytes(mesh: LabelledMesh) -> bytes:
    names = " ".join(mesh.label_names)
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        "comment S3D for Blender mesh: EG3D world coordinates (y up, face toward +z)\n"
        f"comment labels {names}\n"
        f"element vertex {len(mesh.vertices)}\n"
        "property float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\nproperty uchar label\n"
        f"element face {len(mesh.faces)}\nproperty list uchar int vertex_indices\nend_header\n"
    ).encode("ascii")
    vdt = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("r", "u1"), ("g", "u1"), ("b", "u1"), ("l", "u1")])
    verts = np.empty(len(mesh.vertices), dtype=vdt)
    verts["x"], verts["y"], verts["z"] = mesh.vertices.T
    verts["r"], verts["g"], verts["b"] = mesh.colors.T
    verts["l"] = mesh.labels
    fdt = np.dtype([("n", "u1"), ("i", "<i4", (3,))])
    faces = np.empty(len(mesh.faces), dtype=fdt)
    faces["n"] = 3
    faces["i"] = mesh.faces
    return header + verts.tobytes() + faces.tobytes()


def _pad(data: bytes, fill: bytes) -> bytes:
    return data + fill * ((4 - len(data) % 4) % 4)


def glb_bytes(mesh: LabelledMesh) -> bytes:
    v = len(mesh.vertices)
    linear = np.clip(np.round(srgb_to_linear(mesh.colors / 255.0) * 255.0), 0, 255).astype(np.uint8)
    rgba = np.concatenate([linear, np.full((v, 1), 255, np.uint8)], axis=1)
    blobs = [
        ("POSITION", mesh.vertices.astype("<f4").tobytes(), 5126, "VEC3", False),
        ("NORMAL", mesh.vertex_normals().astype("<f4").tobytes(), 5126, "VEC3", False),
        ("COLOR_0", rgba.tobytes(), 5121, "VEC4", True),
        ("_LABEL", mesh.labels.astype("<f4").tobytes(), 5126, "SCALAR", False),
    ]
    binary = b""
    views, accessors, attributes = [], [], {}
    for name, data, ctype, kind, normalized in blobs:
        views.append({"buffer": 0, "byteOffset": len(binary), "byteLength": len(data), "target": 34962})
        acc = {"bufferView": len(views) - 1, "componentType": ctype, "count": v, "type": kind}
        if normalized:
            acc["normalized"] = True
        if name == "POSITION":
            acc["min"] = mesh.vertices.min(0).astype(float).tolist() if v else [0.0] * 3
            acc["max"] = mesh.vertices.max(0).astype(float).tolist() if v else [0.0] * 3
        attributes[name] = len(accessors)
        accessors.append(acc)
        binary = _pad(binary + data, b"\0")
    index_data = mesh.faces.astype("<u4").tobytes()
    views.append({"buffer": 0, "byteOffset": len(binary), "byteLength": len(index_data), "target": 34963})
    accessors.append({"bufferView": len(views) - 1, "componentType": 5125, "count": int(mesh.faces.size), "type": "SCALAR"})
    binary = _pad(binary + index_data, b"\0")
    doc = {
        "asset": {"version": "2.0", "generator": "S3D for Blender"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": "s3d_head"}],
        "meshes": [{
            "name": "s3d_head",
            "primitives": [{"attributes": attributes, "indices": len(accessors) - 1, "mode": 4}],
            "extras": {"s3d_label_names": list(mesh.label_names)},
        }],
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": views,
        "accessors": accessors,
    }
    json_chunk = _pad(json.dumps(doc, separators=(",", ":")).encode("utf-8"), b" ")
    total = 12 + 8 + len(json_chunk) + 8 + len(binary)
    return (struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<I4s", len(json_chunk), b"JSON") + json_chunk
            + struct.pack("<I4s", len(binary), b"BIN\0") + binary)


def obj_bytes(mesh: LabelledMesh) -> bytes:
    lines = ["# S3D for Blender mesh: EG3D world coordinates (y up, face toward +z)",
             "# vertex colours are sRGB in [0,1]; '#l <label>' after each vertex gives its part index",
             "# labels: " + " ".join(f"{i}={n}" for i, n in enumerate(mesh.label_names))]
    rgb = mesh.colors / 255.0
    for p, c, lab in zip(mesh.vertices, rgb, mesh.labels):
        lines.append(f"v {p[0]:.6f} {p[1]:.6f} {p[2]:.6f} {c[0]:.4f} {c[1]:.4f} {c[2]:.4f}")
        lines.append(f"#l {int(lab)}")
    lines.extend(f"f {a + 1} {b + 1} {c + 1}" for a, b, c in mesh.faces)
    return ("\n".join(lines) + "\n").encode("ascii")


WRITERS = {"ply": ply_bytes, "glb": glb_bytes, "obj": obj_bytes}


def export_mesh(mesh: LabelledMesh, path: str | Path, fmt: str | None = None) -> Path:
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in WRITERS:
        raise ValueError(f"unknown mesh format {fmt!r}; expected one of {FORMATS}")
    return write_bytes_atomic(path, WRITERS[fmt](mesh))
