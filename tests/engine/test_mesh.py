"""Mesh extraction through the real tri-plane path on an analytic sphere field."""
import numpy as np
import pytest
import torch

from s3d_engine.mesh.extract import MeshOptions, extract_mesh
from s3d_engine.mesh.grid import density_grid, density_grid_naive
from s3d_engine.models.decoder import TriPlaneDecoder

RADIUS = 0.3
RES = 256


def sphere_field():
    """Planes + decoder with sigma = softplus(-(x^2 + y^2 + z^2)): monotone in r, so every
    level set is a sphere. (x, y) carries -(x^2 + y^2), (x, z) carries -z^2, (z, x) zero;
    the decoder's mean divides by 3, which fc0 undoes."""
    t = ((torch.arange(RES) * 2 + 1) / RES - 1) * 0.5
    planes = torch.zeros(1, 3, 4, RES, RES)
    planes[0, 0, 0] = -(t[None, :] ** 2 + t[:, None] ** 2)  # rows = y, cols = x
    planes[0, 1, 0] = -(t[:, None] ** 2).expand(RES, RES)  # rows = z
    dec = TriPlaneDecoder(n_features=4, hidden=4, output_dim=3)
    with torch.no_grad():
        for mlp in (dec.net, dec.net_semantic):
            fc0, _, fc1 = mlp
            fc0.weight.zero_(); fc0.bias.zero_(); fc1.weight.zero_(); fc1.bias.zero_()
            fc0.weight[0, 0] = 3.0 / fc0.weight_gain
            fc1.weight[0, 0] = 1.0 / fc1.weight_gain
        # semantic logits: a constant field, class 1 everywhere (its logit, output 1 + 1, beats class 0's);
        # anchor_field() below has labels that vary in space
        dec.net_semantic[2].bias[2] = 1.0
        dec.net[2].bias[1:4] = torch.tensor([2.0, 0.0, -2.0])  # constant colour
    return planes, dec


def test_lattice_grid_equals_naive_grid():
    planes, dec = sphere_field()
    a = density_grid(planes, dec, 33, 1.0)
    b = density_grid_naive(planes, dec, 33, 1.0)
    assert np.abs(a - b).max() < 1e-5


def test_marching_cubes_recovers_the_sphere_radius_with_outward_winding():
    planes, dec = sphere_field()
    level = float(torch.nn.functional.softplus(torch.tensor(-RADIUS ** 2)))
    mesh, report = extract_mesh(planes, dec, 2, ["background", "part"], 1.0, level, MeshOptions(resolution=96))
    assert not report.auto_level and report.level == pytest.approx(level)
    r = np.linalg.norm(mesh.vertices, axis=1)
    assert r.mean() == pytest.approx(RADIUS, rel=0.01) and r.std() < 0.004
    assert mesh.signed_volume() == pytest.approx(4 / 3 * np.pi * RADIUS ** 3, rel=0.03)  # positive = outward
    assert set(np.unique(mesh.labels)) == {1}
    assert np.allclose(mesh.colors, mesh.colors[0]) and mesh.colors[0, 0] > mesh.colors[0, 2]


def test_cleanup_and_decimation_keep_a_sphere():
    planes, dec = sphere_field()
    level = float(torch.nn.functional.softplus(torch.tensor(-RADIUS ** 2)))
    opts = MeshOptions(resolution=96, smooth_iterations=5, decimate_faces=2000)
    mesh, _ = extract_mesh(planes, dec, 2, ["background", "part"], 1.0, level, opts)
    assert len(mesh.faces) <= 2100
    assert np.linalg.norm(mesh.vertices, axis=1).mean() == pytest.approx(RADIUS, rel=0.02)
    assert len(mesh.labels) == len(mesh.vertices) == len(mesh.colors)


def test_untrained_field_falls_back_to_an_automatic_level():
    planes, dec = sphere_field()
    mesh, report = extract_mesh(planes, dec, 2, ["a", "b"], 1.0, 1e6, MeshOptions(resolution=32))
    assert report.auto_level and len(mesh.faces) > 0


def level_of(radius):
    return float(torch.nn.functional.softplus(torch.tensor(-radius ** 2)))


def same_mesh(a, b, tol=1e-6):
    """Meshes equal up to vertex order and float rounding: each vertex of `a` has a distinct
    vertex of `b` within `tol`, and the faces, mapped through that matching, are the same set
    with the same winding."""
    from scipy.spatial import cKDTree

    (va, fa), (vb, fb) = a, b
    assert len(va) == len(vb) and len(fa) == len(fb), (len(va), len(vb), len(fa), len(fb))
    dist, match = cKDTree(vb).query(va)
    assert dist.max() < tol and len(np.unique(match)) == len(va)

    def canonical(f):  # rotate each triangle to start at its smallest index, keep the winding
        f = np.take_along_axis(np.concatenate([f, f], 1), f.argmin(1)[:, None] + np.arange(3), 1)
        return f[np.lexsort(f.T[::-1])]

    assert np.array_equal(canonical(match[fa]), canonical(fb))


def surface(planes, dec, level, resolution, **kw):
    from s3d_engine.mesh.extract import field_surface

    v, f, report = field_surface(planes, dec, 1.0, level, MeshOptions(resolution=resolution, **kw))
    return (v, f), report


def dense_straddling(grid, level):
    """Straddling cells of a dense grid with the border closed, as a dict cell -> corners."""
    from s3d_engine.mesh.sparse import close_border

    closed = close_border(torch.from_numpy(grid), level).numpy()
    windows = np.lib.stride_tricks.sliding_window_view(closed, (2, 2, 2))
    lo, hi = windows.min((-3, -2, -1)), windows.max((-3, -2, -1))
    cells = np.argwhere((lo <= level) & (hi >= level))
    return {tuple(c): windows[tuple(c)] for c in cells}


@pytest.mark.parametrize("resolution, coarse_cells, levels", [(65, 64, 1), (129, 32, 2), (129, 16, 3)])
def test_sparse_cells_are_the_dense_grids_straddling_cells_with_the_same_corners(resolution, coarse_cells, levels):
    from s3d_engine.mesh.grid import DensityLattice
    from s3d_engine.mesh.sparse import coarse_grid, surface_cells

    planes, dec = sphere_field()
    level = level_of(RADIUS)
    lattice = DensityLattice(planes, dec, resolution, 1.0)
    coarse, k = coarse_grid(lattice, coarse_cells)
    assert k == levels and coarse.shape[0] == (resolution - 1) // 2 ** k + 1
    found = surface_cells(lattice, coarse, k, level)
    dense = dense_straddling(density_grid(planes, dec, resolution, 1.0), level)
    assert len(found.cells) == len(dense) == len({tuple(c) for c in found.cells})
    for cell, corners in zip(found.cells, found.corners):
        assert np.array_equal(corners, dense[tuple(cell)])  # bit for bit: one density function
    assert found.evaluated == lattice.evaluated < 0.35 * resolution ** 3


def test_level_count_keeps_the_coarse_grid_at_least_coarse_cells_wide():
    from s3d_engine.mesh.sparse import level_count

    assert [level_count(c, 64) for c in (64, 96, 128, 256, 512)] == [1, 1, 1, 2, 3]
    assert level_count(256, 32) == 3 and level_count(255, 64) == 0 and level_count(100, 64) == 1


def test_block_set_finds_each_site_once_across_block_borders():
    from s3d_engine.mesh.sparse import BlockSet

    bag = BlockSet(20, 2, torch.device("cpu"))  # blocks of 4^3 sites, 5 per axis
    origins = torch.tensor([[2, 3, 17], [3, 0, 18], [2, 3, 17]]).t()  # (3, K); the last repeats the first
    index = bag.cubes(origins, 3)  # cubes cross block borders at 4 and run past the lattice (clipped at 19)
    assert index.shape == (3, 3, 3, 3)
    sites = bag.sites(index.reshape(-1)).reshape(3, 3, 3, 3, 3)
    r = torch.arange(3)
    assert torch.equal(sites[:, :, 0, 0, 0], torch.stack([2 + r, r.new_full((3,), 3), r.new_full((3,), 17)]))
    assert sites[2].max() == 19 and torch.equal(index[..., 0], index[..., 2])
    distinct = bag.unique(index)
    expected = {(2 + a, 3 + b, min(17 + c, 19)) for a in range(3) for b in range(3) for c in range(3)}
    expected |= {(3 + a, b, min(18 + c, 19)) for a in range(3) for b in range(3) for c in range(3)}
    assert {tuple(p) for p in bag.sites(distinct).t().tolist()} == expected and len(distinct) == len(expected)
    missing = bag.cubes(torch.tensor([[12], [12], [0]]), 1, create=False)
    assert missing.item() == -1 and bag.cubes(origins[:, :1], 1, create=False).item() == index[0, 0, 0, 0]


def test_coarse_to_fine_and_dense_meshes_agree():
    planes, dec = sphere_field()
    level = level_of(RADIUS)
    a, ra = surface(planes, dec, level, 97)
    b, rb = surface(planes, dec, level, 97, coarse_to_fine=False)
    assert ra.evaluated_fraction < 0.3 and rb.evaluated_fraction == 1.0
    same_mesh(a, b)
    c, rc = surface(planes, dec, level, 257)  # two halvings from 65^3
    assert rc.resolution == 257 and rc.evaluated_fraction < 0.07  # 65^3 alone is 1.7 %
    r = np.linalg.norm(c[0], axis=1)
    assert r.mean() == pytest.approx(RADIUS, rel=0.002) and r.std() < 0.001


def test_a_surface_cut_by_the_box_is_closed_the_same_way():
    """Radius 0.6 in a unit box: the walls cut the sphere, the closed border caps it, and every
    edge of the coarse-to-fine mesh has two faces, as in the dense one."""
    planes, dec = sphere_field()
    level = level_of(0.6)
    a, _ = surface(planes, dec, level, 129)
    b, _ = surface(planes, dec, level, 129, coarse_to_fine=False)
    same_mesh(a, b)
    edges = np.sort(np.concatenate([a[1][:, [0, 1]], a[1][:, [1, 2]], a[1][:, [2, 0]]]), 1)
    assert (np.unique(edges, axis=0, return_counts=True)[1] == 2).all()
    assert 0.5 - 1 / 128 < np.abs(a[0]).max() < 0.5  # capped between the wall and the first layer inside


def test_extract_cells_equals_marching_cubes_on_the_whole_grid():
    """On a random field (every ambiguous Lewiner case), marching cubes over the straddling cells
    alone, packed and welded, gives the dense grid's mesh."""
    from s3d_engine.mesh.isosurface import extract_cells, extract_isosurface

    grid = np.random.default_rng(0).standard_normal((14, 14, 14)).astype(np.float32)
    cells = dense_straddling(grid, 0.1)
    keys = list(cells)
    order = np.random.default_rng(1).permutation(len(keys))  # any order of cells
    got = extract_cells(np.array(keys)[order], np.stack([cells[k] for k in keys])[order], 0.1, 14, 2.0)
    same_mesh(got, extract_isosurface(grid, 0.1, 2.0))
    assert extract_cells(np.zeros((0, 3), np.int64), np.zeros((0, 2, 2, 2), np.float32), 0.1, 14, 2.0)[1].shape == (0, 3)


def test_coarse_to_fine_mesh_equals_dense_on_the_shipped_face():
    """The test head: the face weights on the example sketch. Only a sliver the coarse grid cannot
    see (thinner than its spacing, against the box's top wall) differs, and `keep_largest` drops it."""
    from pathlib import Path

    from s3d_engine import S3DPipeline
    from s3d_engine.mesh.cleanup import largest_component
    from s3d_engine.sketch import normalize_sketch

    root = Path(__file__).resolve().parents[2]
    pipe = S3DPipeline.from_pretrained(str(root / "weights" / "face.safetensors"), device="cpu")
    with torch.no_grad():
        mask, _ = pipe.sketch_to_mask(normalize_sketch(root / "examples" / "face_sketch.png", pipe.config.unet.resolution))
        planes = pipe.generator.planes(pipe.mask_to_ws(mask, seed=0))
    dec, level = pipe.generator.decoder, pipe.config.mesh_level
    a, ra = surface(planes, dec, level, 129)
    b, _ = surface(planes, dec, level, 129, coarse_to_fine=False)
    assert ra.evaluated_fraction < 0.25 and len(a[0]) > 20000
    same_mesh(largest_component(*a), largest_component(*b))


# ---- labels that vary in space --------------------------------------------------------------------
N_CLASSES, OUT_DIM = 19, 32


def anchors(n=N_CLASSES, radius=RADIUS, turn=0.3):
    """n points spread over the sphere (a Fibonacci spiral around y, turned by `turn` radians so
    that the set is not symmetric under x -> -x): anchor 0 is the highest, anchor n - 1 the lowest."""
    k = np.arange(n) + 0.5
    y = 1 - 2 * k / n
    phi = np.pi * (3 - np.sqrt(5)) * k + turn
    r = np.sqrt(1 - y * y)
    return radius * np.stack([r * np.cos(phi), y, r * np.sin(phi)], axis=1)


def nearest_anchor(points):
    d = ((np.asarray(points, np.float64)[:, None, :] - anchors()[None]) ** 2).sum(-1)
    return d.argmin(1)


class AnchorDecoder(TriPlaneDecoder):
    """The sphere's density, and semantic logits -|p - anchor_k|^2: the label is the nearest anchor.
    The point p is read back from plane channels that hold the coordinates (x, y on the (x, y)
    plane, z on the (x, z) plane). Semantic channels past the 19 classes carry a logit above every
    class's, so an argmax over the whole semantic block is wrong too."""

    def forward(self, sampled_features, ray_directions=None):
        out = super().forward(sampled_features)
        f = sampled_features
        p = torch.stack([f[:, 0, :, 1], f[:, 0, :, 2], f[:, 1, :, 2]], dim=-1)
        a = torch.as_tensor(anchors(), dtype=p.dtype)
        logits = -((p[:, :, None, :] - a) ** 2).sum(-1)
        extra = torch.ones(p.shape[:2] + (OUT_DIM - N_CLASSES,), dtype=p.dtype)
        return {"rgb": torch.cat([out["rgb"][..., :OUT_DIM], logits, extra], -1), "sigma": out["sigma"]}


def anchor_field():
    planes, _ = sphere_field()
    t = ((torch.arange(RES) * 2 + 1) / RES - 1) * 0.5  # world coordinate of each texel centre
    planes[0, 0, 1] = t[None, :].expand(RES, RES)  # (x, y) plane: columns = x
    planes[0, 0, 2] = t[:, None].expand(RES, RES)  # rows = y
    planes[0, 1, 2] = t[:, None].expand(RES, RES)  # (x, z) plane: rows = z
    dec = AnchorDecoder(n_features=4, hidden=4, output_dim=OUT_DIM)
    with torch.no_grad():
        for mlp in (dec.net, dec.net_semantic):
            fc0, _, fc1 = mlp
            fc0.weight.zero_(); fc0.bias.zero_(); fc1.weight.zero_(); fc1.bias.zero_()
        fc0, _, fc1 = dec.net_semantic
        fc0.weight[0, 0] = 3.0 / fc0.weight_gain  # density from channel 0 only, as in sphere_field
        fc1.weight[0, 0] = 1.0 / fc1.weight_gain
    return planes, dec


def test_labels_at_known_positions_cover_all_19_classes():
    from s3d_engine.mesh.attributes import vertex_attributes

    planes, dec = anchor_field()
    a = anchors()
    assert len(set(nearest_anchor(a * [-1, 1, 1]).tolist())) < N_CLASSES  # the field is not x-symmetric
    _, labels = vertex_attributes(planes, dec, a, N_CLASSES, 1.0)
    assert labels.tolist() == list(range(N_CLASSES))  # each anchor carries its own class
    _, labels = vertex_attributes(planes, dec, a[::-1].copy(), N_CLASSES, 1.0, chunk=4)  # across chunks
    assert labels.tolist() == list(range(N_CLASSES))[::-1]
    _, poles = vertex_attributes(planes, dec, np.array([[0, 0.3, 0], [0, -0.3, 0]]), N_CLASSES, 1.0)
    assert poles.tolist() == [0, 18]  # top and bottom of the sphere: the highest and lowest anchors


def test_mesh_labels_follow_a_field_that_varies_in_space():
    planes, dec = anchor_field()
    level = float(torch.nn.functional.softplus(torch.tensor(-RADIUS ** 2)))
    names = [f"part{i}" for i in range(N_CLASSES)]
    mesh, _ = extract_mesh(planes, dec, N_CLASSES, names, 1.0, level, MeshOptions(resolution=64))
    expected = nearest_anchor(mesh.vertices)
    assert (mesh.labels == expected).mean() > 0.995
    assert set(np.unique(mesh.labels).tolist()) == set(range(N_CLASSES))
    right = mesh.vertices[:, 0] > 0.1
    assert (mesh.labels[right] == expected[right]).all() and right.sum() > 100


class PassThroughDecoder(TriPlaneDecoder):
    """The real decoder behind its own forward: vertex_attributes then queries it the generic way."""

    def forward(self, sampled_features, ray_directions=None):
        return super().forward(sampled_features, ray_directions)


def test_fused_vertex_query_matches_the_decoder():
    from s3d_engine.mesh.attributes import vertex_attributes

    torch.manual_seed(0)
    planes = 3 * torch.randn(1, 3, 8, 16, 16)
    fused = TriPlaneDecoder(n_features=8, hidden=16, output_dim=24)
    generic = PassThroughDecoder(n_features=8, hidden=16, output_dim=24)
    with torch.no_grad():
        for p in fused.parameters():
            p.copy_(3 * torch.randn_like(p))  # biases too: many classes and shades in play
    generic.load_state_dict(fused.state_dict())
    v = np.random.default_rng(0).uniform(-0.5, 0.5, (3000, 3))
    rgb, labels = vertex_attributes(planes, fused, v, 19, 1.0, chunk=1000)
    rgb_ref, labels_ref = vertex_attributes(planes, generic, v, 19, 1.0)
    assert np.abs(rgb.astype(int) - rgb_ref).max() <= 1  # float rounding may cross a byte boundary
    assert (rgb != rgb_ref).mean() < 0.01
    assert (labels == labels_ref).mean() > 0.999
    assert len(np.unique(labels_ref)) >= 10 and rgb_ref.std() > 20  # a field that varies


class ConstantDecoder:
    """Stand-in decoder: the same colour features (before clamping) and logits at every point."""

    output_dim = 4

    def __init__(self, colour, label=2):
        self.colour, self.label = torch.tensor(colour), label

    def __call__(self, sampled_features):
        n, _, m, _ = sampled_features.shape
        rgb = torch.zeros(n, m, 2 * self.output_dim)
        rgb[..., :3] = self.colour
        rgb[..., self.output_dim + self.label] = 1.0
        return {"rgb": rgb}


@pytest.mark.parametrize("colour, expected", [
    ((-0.5, 0.2, 1.5), (0, 51, 255)),  # clamped to [0, 1]; 0.2 * 255 + 0.5 = 51.5 -> 51
    ((1.0, 0.5, 0.0), (255, 128, 0)),  # 0.5 * 255 + 0.5 = 128.0 -> 128
])
def test_vertex_colours_are_clamped_and_rounded_to_srgb_bytes(colour, expected):
    from s3d_engine.mesh.attributes import vertex_attributes

    planes = torch.zeros(1, 3, 4, 8, 8)
    rgb, labels = vertex_attributes(planes, ConstantDecoder(colour), np.zeros((5, 3)), 3, 1.0)
    assert rgb.dtype == np.uint8 and rgb.shape == (5, 3)
    assert (rgb == expected).all(), rgb[0]
    assert labels.dtype == np.uint8 and labels.tolist() == [2] * 5


def test_vertex_attributes_of_no_vertices():
    from s3d_engine.mesh.attributes import vertex_attributes

    rgb, labels = vertex_attributes(torch.zeros(1, 3, 4, 8, 8), ConstantDecoder((0, 0, 0)), np.zeros((0, 3)), 3, 1.0)
    assert rgb.shape == (0, 3) and rgb.dtype == np.uint8
    assert labels.shape == (0,) and labels.dtype == np.uint8
