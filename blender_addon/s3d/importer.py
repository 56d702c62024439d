"""Build a Blender object from an engine result (bpy glue, kept small).

`MeshImport.steps()` is a generator that does the work in short slices (mesh data, topology,
colours, parts, object); the modal operator runs one slice per timer tick so the UI never
stalls, and the synchronous path simply exhausts it. Only new datablocks are created and
only the new object is linked: nothing else in the file is modified, and since the import
runs inside an operator with the UNDO flag it is one undo step.
"""
from __future__ import annotations

import os
from typing import Any, Iterator, Optional, Sequence

import bpy

from .core import projection
from .core.plyio import PlyMesh

try:
    import numpy as np
except ImportError:  # Debian's Blender 3.4 without python3-numpy
    np = None  # type: ignore[assignment]

COLOR_ATTRIBUTE = "Col"  # what Blender's own PLY importer names it
LABEL_ATTRIBUTE = "s3d_label"


def srgb_to_linear(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


_LUT = [srgb_to_linear(i / 255.0) for i in range(256)]


def face_labels(labels: Any, faces: Any, num_faces: int) -> Any:
    """Per-face part: the label shared by at least two of the three corners, else the first."""
    if labels is None:
        return None
    if np is not None and hasattr(faces, "shape"):
        lf = np.asarray(labels)[faces]
        a, b, c = lf[:, 0], lf[:, 1], lf[:, 2]
        return np.where((a == b) | (a == c), a, np.where(b == c, b, a)).astype(np.int32)
    out = []
    for i in range(num_faces):
        a, b, c = labels[faces[3 * i]], labels[faces[3 * i + 1]], labels[faces[3 * i + 2]]
        out.append(a if (a == b or a == c) else (b if b == c else a))
    return out


def _flat(arr: Any) -> Any:
    return arr.ravel() if hasattr(arr, "ravel") else arr


def _has_op(module: Any, name: str) -> bool:
    return name in dir(module)


def part_material(domain: str, part: str, color: Sequence[int]) -> Any:
    """One material per part ("S3D face: hair"), shared by every import: the viewport colour is
    the part's palette colour, and the shader shows the generated vertex colours."""
    name = f"S3D {domain}: {part}"
    mat = bpy.data.materials.get(name)
    if mat is not None and mat.get("s3d_part") == part:
        return mat
    mat = bpy.data.materials.new(name)
    mat["s3d_part"] = part
    mat["s3d_domain"] = domain
    mat.diffuse_color = (_LUT[int(color[0])], _LUT[int(color[1])], _LUT[int(color[2])], 1.0)
    _vertex_colour_shader(mat)
    return mat


def vertex_colour_material() -> Any:
    name = "S3D vertex colours"
    mat = bpy.data.materials.get(name)
    if mat is not None and mat.get("s3d_part") == "*":
        return mat
    mat = bpy.data.materials.new(name)
    mat["s3d_part"] = "*"
    _vertex_colour_shader(mat)
    return mat


def _vertex_colour_shader(mat: Any) -> None:
    try:
        if mat.node_tree is None or bpy.app.version < (5, 0, 0):
            mat.use_nodes = True  # always on (and deprecated) in 5.0
        nodes, links = mat.node_tree.nodes, mat.node_tree.links
        bsdf = next((n for n in nodes if n.type == "BSDF_PRINCIPLED"), None)
        if bsdf is None:
            bsdf = nodes.new("ShaderNodeBsdfPrincipled")
        attr = nodes.new("ShaderNodeVertexColor")
        attr.layer_name = COLOR_ATTRIBUTE
        attr.location = (bsdf.location[0] - 300, bsdf.location[1])
        links.new(attr.outputs["Color"], bsdf.inputs["Base Color"])
        rough = bsdf.inputs.get("Roughness")
        if rough is not None:
            rough.default_value = 0.6
    except Exception as exc:  # noqa: BLE001 - a plain material still works
        print(f"S3D: could not set up the vertex colour shader: {exc}")


def load_image(path: Optional[str], name: str) -> Optional[Any]:
    if not path or not os.path.isfile(path):
        return None
    img = bpy.data.images.load(path, check_existing=False)
    img.name = name
    try:
        img.pack()
    except Exception:  # noqa: BLE001 - keep the file reference then
        pass
    return img


class MeshImport:
    """Turns one PLY result into one object, in slices (see the module docstring)."""

    def __init__(self, mesh: PlyMesh, name: str, collection: Any, *, label_names: Sequence[str] = (),
                 palette: Sequence[Sequence[int]] = (), domain: str = "face", parts_as_materials: bool = True,
                 matrix_world: Optional[list[list[float]]] = None, images: Optional[dict[str, str]] = None,
                 props: Optional[dict[str, Any]] = None, view_layer: Any = None, select: bool = True) -> None:
        self.ply = mesh
        self.name = name
        self.collection = collection
        self.label_names = list(label_names)
        self.palette = [tuple(c) for c in palette]
        self.domain = domain
        self.parts_as_materials = parts_as_materials
        self.matrix_world = matrix_world or projection.identity()
        self.images = images or {}
        self.props = props or {}
        self.view_layer = view_layer
        self.select = select
        self.mesh: Any = None
        self.object: Any = None  # set once the object is in the scene
        self.unlinked_object: Any = None
        self.image_names: dict[str, str] = {}

    @classmethod
    def from_result(cls, mesh: PlyMesh, result: dict[str, Any], name: str, collection: Any, *,
                    images: Optional[dict[str, str]] = None, **kwargs: Any) -> "MeshImport":
        """The import of one engine result (a worker `result` event, or a batch marker that
        stores the same fields): parts, palette and domain come from the result itself."""
        return cls(mesh, name, collection, label_names=result.get("label_names") or [],
                   palette=result.get("palette") or [], domain=result.get("domain") or "face",
                   images=images if images is not None else (result.get("files") or {}), **kwargs)

    def run(self) -> Any:
        for _ in self.steps():
            pass
        return self.object

    def steps(self) -> Iterator[str]:
        ply = self.ply
        nv, nf = ply.num_vertices, ply.num_faces
        me = bpy.data.meshes.new(self.name)
        self.mesh = me
        verts = projection.eg3d_to_local(ply.vertices)
        me.vertices.add(nv)
        pos = me.attributes.get("position")
        if pos is not None and pos.data_type == "FLOAT_VECTOR":
            pos.data.foreach_set("vector", _flat(verts))
        else:
            me.vertices.foreach_set("co", _flat(verts))
        me.loops.add(3 * nf)
        corner = me.attributes.get(".corner_vert")
        if corner is not None:
            corner.data.foreach_set("value", _flat(ply.faces))
        else:
            me.loops.foreach_set("vertex_index", _flat(ply.faces))
        # The mesh belongs to no object until the last slice, so nothing draws or evaluates it
        # while it is half built; the slices just keep each step short.
        yield "corners"
        me.polygons.add(nf)
        if np is not None:
            me.polygons.foreach_set("loop_start", np.arange(0, 3 * nf, 3, dtype=np.int32))
            if bpy.app.version < (4, 0, 0):
                me.polygons.foreach_set("loop_total", np.full(nf, 3, dtype=np.int32))
        else:
            me.polygons.foreach_set("loop_start", list(range(0, 3 * nf, 3)))
            if bpy.app.version < (4, 0, 0):
                me.polygons.foreach_set("loop_total", [3] * nf)
        yield "faces"
        edges, corner_edge = ply.extra.get("edges"), ply.extra.get("corner_edge")
        corner_attr = me.attributes.get(".corner_edge")
        if edges is not None and corner_attr is not None:
            # Blender 4.x: edges precomputed off the UI thread (plyio.edge_topology) instead of the
            # much slower update(calc_edges=True)
            me.edges.add(len(edges))
            edge_attr = me.attributes.get(".edge_verts")
            if edge_attr is not None:
                edge_attr.data.foreach_set("value", edges.ravel())
            else:
                me.edges.foreach_set("vertices", edges.ravel())
            corner_attr.data.foreach_set("value", corner_edge)
            me.update()
        else:
            me.update(calc_edges=True)
        if hasattr(me, "shade_smooth"):
            me.shade_smooth()
        else:
            me.polygons.foreach_set("use_smooth", [True] * nf)
        yield "mesh"
        if ply.colors is not None:
            self._colors(me, ply)
        if ply.labels is not None:
            lab = me.attributes.new(LABEL_ATTRIBUTE, "INT", "POINT")
            lab.data.foreach_set("value", ply.labels.astype(np.int32) if np is not None else list(ply.labels))
        yield "colors"
        obj = bpy.data.objects.new(self.name, me)
        self.unlinked_object = obj
        self._parts(me, obj, ply)
        yield "parts"
        for kind in ("mask_rgb", "front"):  # one image per slice: reading and packing a PNG takes a while
            img = load_image(self.images.get(kind), f"{obj.name} {'mask' if kind == 'mask_rgb' else kind}")
            if img is not None:
                self.image_names[kind] = img.name
                obj[f"s3d_{kind}_image"] = img  # an ID property: the object keeps the image saved
                yield f"image {kind}"
        obj.matrix_world = self._matrix()
        for key, value in self.props.items():
            obj[key] = value
        self.collection.objects.link(obj)
        self.object = obj
        self.unlinked_object = None
        if self.select and self.view_layer is not None:
            try:
                obj.select_set(True, view_layer=self.view_layer)
                self.view_layer.objects.active = obj
            except (RuntimeError, TypeError):
                pass
        yield "object"

    def discard(self) -> None:
        """Remove what an unfinished import created (cancel)."""
        if self.object is not None:
            return
        if self.unlinked_object is not None:
            for kind in ("mask_rgb", "front"):
                img = self.unlinked_object.get(f"s3d_{kind}_image")
                if img is not None:
                    bpy.data.images.remove(img)
            bpy.data.objects.remove(self.unlinked_object)
            self.unlinked_object = None
        if self.mesh is not None and self.mesh.users == 0:
            bpy.data.meshes.remove(self.mesh)
            self.mesh = None

    def _matrix(self) -> Any:
        from mathutils import Matrix

        return Matrix(self.matrix_world)

    def _colors(self, me: Any, ply: PlyMesh) -> None:
        if hasattr(me, "color_attributes"):
            attr = me.color_attributes.new(COLOR_ATTRIBUTE, "FLOAT_COLOR", "POINT")
        else:  # Blender < 3.2
            attr = me.attributes.new(COLOR_ATTRIBUTE, "FLOAT_COLOR", "POINT")
        if np is not None:
            lut = np.asarray(_LUT, dtype=np.float32)
            rgba = np.ones((ply.num_vertices, 4), dtype=np.float32)
            rgba[:, :3] = lut[np.asarray(ply.colors)]
            attr.data.foreach_set("color", rgba.ravel())
        else:
            cols = ply.colors
            flat = []
            for i in range(ply.num_vertices):
                flat += (_LUT[cols[3 * i]], _LUT[cols[3 * i + 1]], _LUT[cols[3 * i + 2]], 1.0)
            attr.data.foreach_set("color", flat)
        try:
            me.color_attributes.active_color = attr
            me.color_attributes.render_color_index = me.color_attributes.active_color_index
        except (AttributeError, TypeError):
            pass

    def part_name(self, label: int) -> str:
        if 0 <= label < len(self.label_names):
            return self.label_names[label]
        return f"part_{label}"

    def part_color(self, label: int) -> tuple:
        if 0 <= label < len(self.palette):
            return self.palette[label]
        return (200, 200, 200)

    def _parts(self, me: Any, obj: Any, ply: PlyMesh) -> None:
        if ply.labels is None:
            me.materials.append(vertex_colour_material())
            return
        present = sorted({int(v) for v in (np.unique(ply.labels) if np is not None else set(ply.labels))})
        if self.parts_as_materials:
            slot = {}
            for i, label in enumerate(present):
                me.materials.append(part_material(self.domain, self.part_name(label), self.part_color(label)))
                slot[label] = i
            fl = face_labels(ply.labels, ply.faces, ply.num_faces)
            if np is not None:
                lut = np.zeros(max(present) + 1, dtype=np.int32)
                for label, i in slot.items():
                    lut[label] = i
                index = lut[fl]
            else:
                index = [slot[int(v)] for v in fl]
            attr = me.attributes.get("material_index") or me.attributes.new("material_index", "INT", "FACE")
            attr.data.foreach_set("value", index)
        else:
            me.materials.append(vertex_colour_material())
            for label in present:
                group = obj.vertex_groups.new(name=self.part_name(label))
                if np is not None:
                    idx = np.nonzero(np.asarray(ply.labels) == label)[0].tolist()
                else:
                    idx = [i for i, v in enumerate(ply.labels) if int(v) == label]
                group.add(idx, 1.0, "REPLACE")
