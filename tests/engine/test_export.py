"""Labels survive the engine's PLY, GLB and OBJ writers: each file is read back by a reader written
here from the format's specification (not the engine's code), by trimesh where it reads the
attribute, and the PLY also by the Blender add-on's own reader (blender_addon/s3d/plyio.py)."""
from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh

from s3d_engine.labels import FACE_LABELS
from s3d_engine.mesh.export import export_mesh
from s3d_engine.mesh.types import LabelledMesh
from s3d_engine.results import S3DResult

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "blender_addon") not in sys.path:
    sys.path.insert(0, str(ROOT / "blender_addon"))
from s3d.core import plyio  # noqa: E402  (the add-on's reader; it imports no bpy)

N = 6  # a 6 x 6 vertex grid: 36 vertices, 50 triangles


def known_mesh() -> LabelledMesh:
    """A wavy grid whose labels run through all 19 classes in a scrambled order (7 i + 3 mod 19),
    so no label is 0 where its neighbour is, and the colours differ per vertex."""
    i = np.arange(N * N)
    u, v = np.divmod(i, N)
    verts = np.stack([u * 0.1 - 0.25, v * 0.1 - 0.25, 0.05 * np.sin(u + 2 * v)], 1)
    faces = []
    for a in range(N - 1):
        for b in range(N - 1):
            k = a * N + b
            faces += [(k, k + N, k + 1), (k + 1, k + N, k + N + 1)]
    colors = np.stack([(i * 37) % 256, (i * 11 + 5) % 256, 255 - (i * 7) % 256], 1)
    labels = (7 * i + 3) % 19
    return LabelledMesh(verts, np.array(faces), colors, labels, list(FACE_LABELS.names))


MESH = known_mesh()


def test_the_known_mesh_uses_every_class():
    assert sorted(set(MESH.labels.tolist())) == list(range(19)) and MESH.labels[0] == 3


# ---- independent readers ----------------------------------------------------------------------------
PLY_TYPES = {"char": "i1", "uchar": "u1", "short": "<i2", "ushort": "<u2", "int": "<i4", "uint": "<u4",
             "float": "<f4", "double": "<f8"}


def read_ply(data: bytes) -> dict:
    """Binary little-endian PLY: the vertex element as named numpy columns, the faces as (F, 3)."""
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii").splitlines()
    assert header[0] == "ply" and header[1] == "format binary_little_endian 1.0"
    elements, current = {}, None
    for line in header[2:]:
        words = line.split()
        if words[0] == "element":
            current = words[1]
            elements[current] = {"count": int(words[2]), "props": []}
        elif words[0] == "property":
            elements[current]["props"].append(words[1:])
    vdtype = np.dtype([(p[1], PLY_TYPES[p[0]]) for p in elements["vertex"]["props"]])
    nv = elements["vertex"]["count"]
    vertex = np.frombuffer(data, vdtype, nv, end)
    assert elements["face"]["props"] == [["list", "uchar", "int", "vertex_indices"]]
    nf = elements["face"]["count"]
    fdtype = np.dtype([("n", "u1"), ("idx", "<i4", (3,))])
    face = np.frombuffer(data, fdtype, nf, end + vdtype.itemsize * nv)
    assert (face["n"] == 3).all() and end + vdtype.itemsize * nv + fdtype.itemsize * nf == len(data)
    return {"vertex": vertex, "faces": face["idx"], "header": header}


def read_glb(data: bytes) -> tuple[dict, dict]:
    """GLB 2.0: the JSON document and {attribute name: numpy array} of the first primitive."""
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    assert magic == b"glTF" and version == 2 and length == len(data)
    json_len, json_type = struct.unpack_from("<I4s", data, 12)
    assert json_type == b"JSON"
    doc = json.loads(data[20:20 + json_len])
    bin_len, bin_type = struct.unpack_from("<I4s", data, 20 + json_len)
    assert bin_type == b"BIN\x00"
    blob = data[28 + json_len:28 + json_len + bin_len]
    components = {5121: "u1", 5125: "<u4", 5126: "<f4"}
    widths = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}

    def accessor(index):
        acc = doc["accessors"][index]
        view = doc["bufferViews"][acc["bufferView"]]
        arr = np.frombuffer(blob, components[acc["componentType"]], acc["count"] * widths[acc["type"]],
                            view["byteOffset"] + acc.get("byteOffset", 0))
        return arr.reshape(acc["count"], -1) if widths[acc["type"]] > 1 else arr

    prim = doc["meshes"][0]["primitives"][0]
    arrays = {name: accessor(i) for name, i in prim["attributes"].items()}
    arrays["indices"] = accessor(prim["indices"]).reshape(-1, 3)
    return doc, arrays


def read_obj(text: str) -> dict:
    """OBJ with `v x y z r g b` lines, each followed by a `#l <label>` comment line, and `f` lines."""
    verts, colors, labels, faces = [], [], [], []
    previous = ""
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["v"]:
            verts.append([float(w) for w in words[1:4]])
            colors.append([float(w) for w in words[4:7]])
        elif words[:1] == ["#l"]:
            assert previous.startswith("v "), "a label line must follow its vertex"
            labels.append(int(words[1]))
        elif words[:1] == ["f"]:
            faces.append([int(w) - 1 for w in words[1:4]])
        previous = line
    return {"vertices": np.array(verts), "colors": np.array(colors), "labels": np.array(labels),
            "faces": np.array(faces)}


# ---- the files ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("export")
    return {fmt: export_mesh(MESH, out / f"mesh.{fmt}") for fmt in ("ply", "glb", "obj")}


def test_ply_labels_colours_and_geometry(files):
    ply = read_ply(files["ply"].read_bytes())
    v = ply["vertex"]
    assert v.dtype.names == ("x", "y", "z", "red", "green", "blue", "label")
    assert v["label"].tolist() == MESH.labels.tolist()
    assert np.array_equal(np.stack([v["red"], v["green"], v["blue"]], 1), MESH.colors)
    assert np.allclose(np.stack([v["x"], v["y"], v["z"]], 1), MESH.vertices)
    assert np.array_equal(ply["faces"], MESH.faces)
    assert "comment labels " + " ".join(FACE_LABELS.names) in ply["header"]


def test_ply_labels_through_trimesh(files):
    mesh = trimesh.load(files["ply"], process=False)
    assert mesh.metadata["_ply_raw"]["vertex"]["data"]["label"].tolist() == MESH.labels.tolist()


def test_glb_labels_colours_and_geometry(files):
    doc, arrays = read_glb(files["glb"].read_bytes())
    assert arrays["_LABEL"].dtype == np.float32
    assert arrays["_LABEL"].tolist() == MESH.labels.astype(float).tolist()
    assert np.allclose(arrays["POSITION"], MESH.vertices) and np.array_equal(arrays["indices"], MESH.faces)
    rgba = arrays["COLOR_0"]
    assert (rgba[:, 3] == 255).all()
    # COLOR_0 is linear: sRGB byte s -> ((s/255 + 0.055) / 1.055)^2.4 (or s/255/12.92 at the dark end)
    s = MESH.colors / 255.0
    linear = np.where(s <= 0.04045, s / 12.92, ((s + 0.055) / 1.055) ** 2.4)
    assert np.abs(rgba[:, :3] / 255.0 - linear).max() <= 0.5 / 255 + 1e-9
    assert doc["meshes"][0]["extras"]["s3d_label_names"] == list(FACE_LABELS.names)
    normals = arrays["NORMAL"]
    assert np.allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-5)


def test_glb_labels_through_trimesh(files):
    scene = trimesh.load(files["glb"], process=False)
    mesh = next(iter(scene.geometry.values()))
    assert np.asarray(mesh.vertex_attributes["_LABEL"]).ravel().tolist() == MESH.labels.astype(float).tolist()


def test_obj_labels_colours_and_geometry(files):
    obj = read_obj(files["obj"].read_text())
    assert obj["labels"].tolist() == MESH.labels.tolist()
    assert np.allclose(obj["vertices"], MESH.vertices, atol=1e-6)
    assert np.allclose(obj["colors"], MESH.colors / 255.0, atol=1e-4)
    assert np.array_equal(obj["faces"], MESH.faces)
    assert "# labels: 0=background 1=skin" in files["obj"].read_text()


@pytest.mark.parametrize("numpy_available", [True, False])
def test_the_addon_reader_on_an_engine_ply(files, monkeypatch, numpy_available):
    if not numpy_available:  # Debian's Blender 3.4 has no numpy: the struct path
        monkeypatch.setattr(plyio, "np", None)
    m = plyio.read_ply(str(files["ply"]))
    assert m.num_vertices == len(MESH.vertices) and m.num_faces == len(MESH.faces)
    assert np.asarray(m.labels).ravel().tolist() == MESH.labels.tolist()
    assert np.asarray(m.colors).reshape(-1, 3).tolist() == MESH.colors.tolist()
    assert np.allclose(np.asarray(m.vertices, np.float64).reshape(-1, 3), MESH.vertices)
    assert np.asarray(m.faces).reshape(-1, 3).tolist() == MESH.faces.tolist()


def test_a_saved_result_carries_the_same_labels_in_every_format(tmp_path):
    blank = np.zeros((8, 8), np.uint8)
    result = S3DResult(sketch=None, mask=blank, mask_rgb=np.zeros((8, 8, 3), np.uint8),
                       front=np.zeros((8, 8, 3), np.uint8), front_labels=blank, views=[], mesh=MESH, seed=0,
                       labels=FACE_LABELS)
    out = result.save(tmp_path, formats=("ply", "glb", "obj"))
    assert read_ply(out["ply"].read_bytes())["vertex"]["label"].tolist() == MESH.labels.tolist()
    assert read_glb(out["glb"].read_bytes())[1]["_LABEL"].tolist() == MESH.labels.astype(float).tolist()
    assert read_obj(out["obj"].read_text())["labels"].tolist() == MESH.labels.tolist()
    assert plyio.read_ply(str(out["ply"])).labels.tolist() == MESH.labels.tolist()
    parts = json.loads(out["summary"].read_text())["mesh"]["parts"]
    assert parts["hair"] == int((MESH.labels == FACE_LABELS.index("hair")).sum()) and len(parts) == 19
