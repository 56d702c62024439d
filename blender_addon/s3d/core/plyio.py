"""Minimal PLY reader (binary little/big endian and ASCII) for the engine's meshes. No bpy.

Reads vertex positions, optional red/green/blue colours and the per-vertex `label` property
that Blender's own PLY importers drop. Uses numpy when it is available (Blender 4.2+ bundles
it) and falls back to `struct` otherwise (Debian's Blender 3.4 has no numpy by default).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Optional

try:  # pragma: no cover - depends on the interpreter
    import numpy as np
except ImportError:  # pragma: no cover
    np = None  # type: ignore[assignment]

_TYPES = {
    "char": "b", "int8": "b", "uchar": "B", "uint8": "B", "short": "h", "int16": "h", "ushort": "H",
    "uint16": "H", "int": "i", "int32": "i", "uint": "I", "uint32": "I", "float": "f", "float32": "f",
    "double": "d", "float64": "d",
}


class PlyError(ValueError):
    pass


@dataclass
class PlyProperty:
    name: str
    type: str
    list_count_type: Optional[str] = None  # set for list properties


@dataclass
class PlyElement:
    name: str
    count: int
    properties: list[PlyProperty] = field(default_factory=list)


@dataclass
class PlyMesh:
    """Flat data ready for Blender's foreach_set: numpy arrays when numpy exists, else lists."""

    vertices: Any  # (V, 3) float32 / flat list of 3V floats
    faces: Any  # (F, 3) int32 triangles / flat list of 3F ints
    colors: Any = None  # (V, 3) uint8 / flat list of 3V ints
    labels: Any = None  # (V,) uint8 / list of V ints
    num_vertices: int = 0
    num_faces: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def parse_header(data: bytes) -> tuple[str, list[PlyElement], int]:
    end = data.find(b"end_header")
    if not data.startswith(b"ply") or end < 0:
        raise PlyError("not a PLY file (missing 'ply' magic or 'end_header')")
    nl = data.find(b"\n", end)
    body_start = nl + 1 if nl >= 0 else len(data)
    fmt = None
    elements: list[PlyElement] = []
    for raw in data[:end].decode("ascii", "replace").splitlines()[1:]:
        parts = raw.split()
        if not parts or parts[0] in ("comment", "obj_info"):
            continue
        if parts[0] == "format":
            fmt = parts[1]
        elif parts[0] == "element":
            elements.append(PlyElement(parts[1], int(parts[2])))
        elif parts[0] == "property":
            if not elements:
                raise PlyError("PLY property before any element")
            if parts[1] == "list":
                elements[-1].properties.append(PlyProperty(parts[4], parts[3], parts[2]))
            else:
                elements[-1].properties.append(PlyProperty(parts[2], parts[1]))
    if fmt not in ("binary_little_endian", "binary_big_endian", "ascii"):
        raise PlyError(f"unsupported PLY format {fmt!r}")
    return fmt, elements, body_start


def read_ply(path: str) -> PlyMesh:
    with open(path, "rb") as fh:
        data = fh.read()
    return parse_ply(data)


def parse_ply(data: bytes) -> PlyMesh:
    fmt, elements, offset = parse_header(data)
    if fmt == "ascii":
        return _parse_ascii(data[offset:], elements)
    endian = "<" if fmt == "binary_little_endian" else ">"
    columns: dict[str, dict[str, Any]] = {}
    for element in elements:
        values, offset = _read_element(data, offset, element, endian)
        columns[element.name] = values
    return _assemble(columns)


def _read_element(data: bytes, offset: int, element: PlyElement, endian: str) -> tuple[dict[str, Any], int]:
    props = element.properties
    has_list = any(p.list_count_type for p in props)
    try:
        codes = [_TYPES[p.type] for p in props]
        count_codes = [_TYPES[p.list_count_type] if p.list_count_type else None for p in props]
    except KeyError as exc:
        raise PlyError(f"unknown PLY property type {exc}") from None
    n = element.count
    if not has_list:
        fmt = endian + "".join(codes)
        size = struct.calcsize(fmt)
        end = offset + size * n
        if end > len(data):
            raise PlyError(f"PLY file is truncated in element {element.name!r}")
        if np is not None:
            dtype = np.dtype([(p.name, endian + c) for p, c in zip(props, codes)])
            arr = np.frombuffer(data, dtype=dtype, count=n, offset=offset)
            return {p.name: arr[p.name] for p in props}, end
        rows = list(struct.iter_unpack(fmt, data[offset:end]))
        return {p.name: [r[i] for r in rows] for i, p in enumerate(props)}, end
    # Single list property of a fixed length (all triangles) -> one fast read.
    if len(props) == 1 and np is not None and n > 0:
        count_code, item_code = count_codes[0], codes[0]
        first = struct.unpack_from(endian + count_code, data, offset)[0]
        dtype = np.dtype([("n", endian + count_code), ("v", endian + item_code, (first,))])
        if offset + dtype.itemsize * n <= len(data):
            arr = np.frombuffer(data, dtype=dtype, count=n, offset=offset)
            if np.all(arr["n"] == first):
                return {props[0].name: arr["v"]}, offset + dtype.itemsize * n
    out: dict[str, list] = {p.name: [] for p in props}
    for _ in range(n):
        for p, code, ccode in zip(props, codes, count_codes):
            if ccode:
                k = struct.unpack_from(endian + ccode, data, offset)[0]
                offset += struct.calcsize(ccode)
                item = struct.calcsize(code)
                out[p.name].append(struct.unpack_from(endian + code * k, data, offset))
                offset += item * k
            else:
                out[p.name].append(struct.unpack_from(endian + code, data, offset)[0])
                offset += struct.calcsize(code)
        if offset > len(data):
            raise PlyError(f"PLY file is truncated in element {element.name!r}")
    return out, offset


def _parse_ascii(body: bytes, elements: list[PlyElement]) -> PlyMesh:
    tokens = body.decode("ascii", "replace").split()
    pos = 0
    columns: dict[str, dict[str, list]] = {}
    for element in elements:
        out: dict[str, list] = {p.name: [] for p in element.properties}
        for _ in range(element.count):
            for p in element.properties:
                if p.list_count_type:
                    k = int(tokens[pos])
                    out[p.name].append(tuple(float(t) for t in tokens[pos + 1:pos + 1 + k]))
                    pos += 1 + k
                else:
                    out[p.name].append(float(tokens[pos]))
                    pos += 1
        columns[element.name] = out
    return _assemble(columns)


def _assemble(columns: dict[str, dict[str, Any]]) -> PlyMesh:
    vert = columns.get("vertex")
    if vert is None or not all(k in vert for k in ("x", "y", "z")):
        raise PlyError("PLY has no vertex x/y/z")
    face = columns.get("face", {})
    face_lists = face.get("vertex_indices", face.get("vertex_index"))
    colors = None
    labels = vert.get("label")
    if np is not None:
        vertices = np.stack([np.asarray(vert[k], dtype=np.float32) for k in ("x", "y", "z")], axis=1)
        if all(k in vert for k in ("red", "green", "blue")):
            cols = [np.asarray(vert[k]) for k in ("red", "green", "blue")]
            if cols[0].dtype.kind == "f":
                cols = [np.clip(c * 255.0 + 0.5, 0, 255) for c in cols]
            colors = np.stack(cols, axis=1).astype(np.uint8)
        if labels is not None:
            labels = np.asarray(labels).astype(np.uint8)
        faces = _triangulate_np(face_lists)
        nv, nf = len(vertices), len(faces)
        if nf and (faces.min() < 0 or faces.max() >= nv):
            raise PlyError("PLY face indices out of range")
        return PlyMesh(vertices, faces, colors, labels, nv, nf)
    nv = len(vert["x"])
    vertices = [c for xyz in zip(vert["x"], vert["y"], vert["z"]) for c in xyz]
    if all(k in vert for k in ("red", "green", "blue")):
        colors = [int(c) for rgb in zip(vert["red"], vert["green"], vert["blue"]) for c in rgb]
    if labels is not None:
        labels = [int(v) for v in labels]
    faces: list[int] = []
    for poly in face_lists or []:
        poly = [int(i) for i in poly]
        for k in range(1, len(poly) - 1):
            faces.extend((poly[0], poly[k], poly[k + 1]))
    if faces and (min(faces) < 0 or max(faces) >= nv):
        raise PlyError("PLY face indices out of range")
    return PlyMesh(vertices, faces, colors, labels, nv, len(faces) // 3)


def _triangulate_np(face_lists):
    if face_lists is None:
        return np.zeros((0, 3), dtype=np.int32)
    if isinstance(face_lists, np.ndarray):
        arr = face_lists.astype(np.int32)
        if arr.ndim == 2 and arr.shape[1] == 3:
            return np.ascontiguousarray(arr)
        if arr.ndim == 2 and arr.shape[1] > 3:
            tris = [arr[:, [0, k, k + 1]] for k in range(1, arr.shape[1] - 1)]
            return np.ascontiguousarray(np.stack(tris, axis=1).reshape(-1, 3))
    tris: list[tuple[int, int, int]] = []
    for poly in face_lists:
        poly = [int(i) for i in poly]
        for k in range(1, len(poly) - 1):
            tris.append((poly[0], poly[k], poly[k + 1]))
    return np.asarray(tris, dtype=np.int32).reshape(-1, 3)


def edge_topology(faces, num_vertices: int):
    """Unique edges of a triangle mesh and, for every corner, the index of the edge that leaves it
    (corner i of a face joins its vertex i and i+1): what Blender's Mesh.update(calc_edges=True)
    computes, done here with numpy so it can run off Blender's UI thread. None without numpy."""
    if np is None or not hasattr(faces, "shape") or len(faces) == 0:
        return None
    f = np.asarray(faces, dtype=np.int64)
    a = f.ravel()
    b = f[:, [1, 2, 0]].ravel()
    key = np.minimum(a, b) * num_vertices + np.maximum(a, b)
    uniq, corner_edge = np.unique(key, return_inverse=True)
    edges = np.stack([uniq // num_vertices, uniq % num_vertices], axis=1).astype(np.int32)
    return edges, corner_edge.astype(np.int32).ravel()


def write_ply(path: str, vertices, faces, colors=None, labels=None) -> None:
    """Binary little-endian PLY writer (used by tests and the fake pipeline)."""
    verts = [tuple(float(c) for c in v) for v in vertices]
    tris = [tuple(int(i) for i in f) for f in faces]
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {len(verts)}",
              "property float x", "property float y", "property float z"]
    if colors is not None:
        header += ["property uchar red", "property uchar green", "property uchar blue"]
    if labels is not None:
        header += ["property uchar label"]
    header += [f"element face {len(tris)}", "property list uchar int vertex_indices", "end_header"]
    out = bytearray(("\n".join(header) + "\n").encode("ascii"))
    for i, v in enumerate(verts):
        out += struct.pack("<3f", *v)
        if colors is not None:
            out += struct.pack("<3B", *(int(c) for c in colors[i]))
        if labels is not None:
            out += struct.pack("<B", int(labels[i]))
    for f in tris:
        out += struct.pack("<B3i", 3, *f)
    with open(path, "wb") as fh:
        fh.write(bytes(out))
