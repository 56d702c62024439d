"""PLY reading (binary, ASCII, with and without numpy)."""
import struct

import pytest

from s3d.core import plyio

VERTS = [(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0)]
COLS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (10, 20, 30)]
LABELS = [1, 1, 2, 13]


def _flat(x):
    return list(x.ravel()) if hasattr(x, "ravel") else list(x)


def test_binary_roundtrip(tmp_path):
    path = tmp_path / "m.ply"
    plyio.write_ply(str(path), VERTS, [(0, 1, 2), (0, 2, 3)], COLS, LABELS)
    m = plyio.read_ply(str(path))
    assert m.num_vertices == 4 and m.num_faces == 2
    assert _flat(m.faces) == [0, 1, 2, 0, 2, 3]
    assert _flat(m.labels) == LABELS
    assert _flat(m.colors)[:3] == [255, 0, 0]
    assert _flat(m.vertices)[3:6] == [1.0, 0.0, 0.0]


def test_ascii_quads_are_triangulated():
    text = ("ply\nformat ascii 1.0\nelement vertex 4\nproperty float x\nproperty float y\nproperty float z\n"
            "element face 1\nproperty list uchar int vertex_indices\nend_header\n"
            "0 0 0\n1 0 0\n1 1 0\n0 1 0\n4 0 1 2 3\n").encode()
    m = plyio.parse_ply(text)
    assert m.num_faces == 2 and _flat(m.faces) == [0, 1, 2, 0, 2, 3]
    assert m.colors is None and m.labels is None


def test_big_endian_and_mixed_face_sizes():
    header = ("ply\nformat binary_big_endian 1.0\nelement vertex 4\nproperty float x\nproperty float y\n"
              "property float z\nelement face 2\nproperty list uchar int vertex_indices\nend_header\n").encode()
    body = b"".join(struct.pack(">3f", *v) for v in VERTS)
    body += struct.pack(">B3i", 3, 0, 1, 2) + struct.pack(">B4i", 4, 0, 1, 2, 3)
    m = plyio.parse_ply(header + body)
    assert m.num_faces == 3


def test_without_numpy(tmp_path, monkeypatch):
    path = tmp_path / "m.ply"
    plyio.write_ply(str(path), VERTS, [(0, 1, 2), (0, 2, 3)], COLS, LABELS)
    monkeypatch.setattr(plyio, "np", None)
    m = plyio.read_ply(str(path))
    assert isinstance(m.vertices, list) and m.faces == [0, 1, 2, 0, 2, 3]
    assert m.labels == LABELS and m.colors[:3] == [255, 0, 0]


@pytest.mark.parametrize("data, match", [
    (b"not a ply", "not a PLY"),
    (b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
     b"property float z\nend_header\n\x00\x00", "truncated"),
    (b"ply\nformat weird 1.0\nend_header\n", "unsupported"),
])
def test_bad_files_raise_readable_errors(data, match):
    with pytest.raises(plyio.PlyError, match=match):
        plyio.parse_ply(data)


def test_out_of_range_indices(tmp_path):
    path = tmp_path / "m.ply"
    plyio.write_ply(str(path), VERTS[:3], [(0, 1, 7)])
    with pytest.raises(plyio.PlyError, match="out of range"):
        plyio.read_ply(str(path))


def test_edge_topology_matches_the_faces():
    np = pytest.importorskip("numpy")
    faces = np.array([[0, 1, 2], [0, 2, 3]], dtype=np.int32)
    edges, corner_edge = plyio.edge_topology(faces, 4)
    assert sorted(map(tuple, edges.tolist())) == [(0, 1), (0, 2), (0, 3), (1, 2), (2, 3)]
    nxt = faces[:, [1, 2, 0]].ravel()
    for corner, e in enumerate(corner_edge):
        assert sorted(edges[e].tolist()) == sorted([faces.ravel()[corner], nxt[corner]])
