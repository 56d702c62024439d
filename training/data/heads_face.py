"""Procedural human heads with all 19 CelebAMask-HQ classes, as a labelled SDF.

Geometry (c-space centimetres, see face_params.py):
* skin: the MediaPipe canonical face (an SDF grid, warped per identity: chin length, jaw width,
  nose size, mouth opening) smoothly united with an ellipsoidal cranium;
* ears, neck, torso (cloth, with crew / V / open / turtleneck collars and chest skin), hair
  (offset shell of the head cut by a hairline, plus curtains or a bun depending on the style),
  hat, glasses, earrings and a necklace that follows the body surface.

Labels live in 3D: a surface point takes the label of the part whose SDF is smallest there
(argmin), and skin points are then painted with the facial feature regions (eyes, brows,
nose, lips, mouth) defined in the canonical face's frame, so that warps carry them along.
The same `evaluate` serves the renderer and the ground-truth mesh, so the two agree by
construction.
"""
from __future__ import annotations

import math

import numpy as np

from s3d_engine.labels import FACE_LABELS

from . import sdf as S
from .face_features import FeatureRegions
from .face_params import FaceParams
from .face_template import face_template

L = {name: i for i, name in enumerate(FACE_LABELS.names)}
BOX = 0.5 - 0.004


class FaceHead:
    """One procedural person. `sdf`/`evaluate` take world points (N, 3) float32."""

    kind = "face"
    relax = 0.9

    def __init__(self, params: FaceParams):
        self.p = params
        self.tpl = face_template()
        pr = params
        s = (pr.scale * np.asarray(pr.aspect)).astype(np.float32)
        self.s = s
        self.dist_scale = float(s.min())
        # world position of the c-space origin: eyes at y ~ 0.06, nose tip at z ~ 0.26
        self.origin = (np.array([0.0, 0.06 - 2.63 * pr.scale, 0.26 - 7.59 * pr.scale]) + np.asarray(pr.offset)).astype(np.float32)
        self.inv_s = (1.0 / s).astype(np.float32)
        self.cranium_c = S.vec(*pr.cranium_centre)
        self.cranium_r = S.vec(*pr.cranium_radii)
        self.chin_k = 1.0 + pr.chin_length / 6.4
        self.mouth_y = self._forward_y(-4.27)
        self.features = FeatureRegions(pr)
        self.ears = [self._ear_frame(side) for side in (-1.0, 1.0)]
        rng = np.random.default_rng(pr.noise_seed)
        self.noise = S.random_waves(rng, 6, 0.35, 1.0)
        self.fine_noise = S.random_waves(rng, 6, 2.5, 1.0)
        self.palette = self._palette()
        self._spec, self._shin = self._materials()

    # ---------------------------------------------------------------- coordinates
    def to_c(self, p: np.ndarray) -> np.ndarray:
        return (p - self.origin) * self.inv_s

    def _forward_y(self, y_template: float) -> float:
        """c-space y where template height `y_template` lands after the chin stretch."""
        y = y_template
        for _ in range(30):
            w = float(S.smoothstep(-2.0, -5.0, np.float32(y)))
            y = y_template + w * (y + 2.0) * (1.0 - 1.0 / self.chin_k)
        return y

    def face_coords(self, c: np.ndarray) -> np.ndarray:
        """Inverse warp c-space -> canonical template space (mouth, chin, jaw, nose)."""
        pr = self.p
        x, y, z = c[:, 0], c[:, 1], c[:, 2]
        if pr.mouth_open > 0:
            # the transition is wide enough (slope < 1) that the warp never folds
            drop = pr.mouth_open * S.smoothstep(self.mouth_y + 0.25, self.mouth_y - 0.25 - 1.6 * pr.mouth_open, y)
            drop = drop * (1.0 - S.smoothstep(4.0, 7.5, np.abs(x))) * S.smoothstep(-3.0, 0.5, z)
            y = y + drop
        w = S.smoothstep(-2.0, -5.0, y)
        y = y - w * (y + 2.0) * (1.0 - 1.0 / self.chin_k)
        x = x / (1.0 + pr.jaw_width * S.smoothstep(-1.0, -7.0, y))
        q = np.stack([x, y, z], -1)
        anchor = S.vec(0.0, -0.9, 5.3)
        rel = q - anchor
        f = 1.0 - S.smoothstep(1.6, 3.6, S.length(rel))
        target = anchor + rel * (1.0 / S.vec(*pr.nose_scale))
        return q + f[:, None] * (target - q)

    def _ear_frame(self, side: float) -> tuple[np.ndarray, np.ndarray, float]:
        pr = self.p
        centre = S.vec(side * (7.2 + 0.15 * pr.jaw_width), 0.9, -3.1)
        rot = S.rot_y(side * pr.ear_angle) @ S.rot_x(-0.2)
        return centre, rot, side

    # ---------------------------------------------------------------- parts (cm)
    def _skin(self, c: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Head skin distance, mouth-cavity distance (or None) and the template coordinates."""
        pr = self.p
        cf = self.face_coords(c)
        face = self.tpl.sample(cf)
        cavity = None
        if pr.mouth_open > 0:
            w = 2.1 * pr.mouth_width
            centre = S.vec(0.0, self.mouth_y - 0.5 * pr.mouth_open, 4.2)
            cavity = S.ellipsoid(c, centre, S.vec(w, 0.5 * pr.mouth_open + 0.12, 1.8))
            face = S.smax(face, -cavity, 0.12)
        cran = S.ellipsoid(c, self.cranium_c, self.cranium_r)
        return S.smin(cran, face, 1.2), cavity, cf

    def _ear(self, c: np.ndarray, frame) -> np.ndarray:
        centre, rot, side = frame
        q = S.to_local(c, centre, rot)
        q = np.stack([q[:, 0] * side, q[:, 1], q[:, 2]], -1)  # +x = outward
        k = self.p.ear_size
        ear = S.ellipsoid(q, S.vec(0.0, 0.0, 0.0), S.vec(0.75, 3.0 * k, 1.85 * k))
        concha = S.ellipsoid(q, S.vec(0.75, -0.1 * k, 0.25 * k), S.vec(0.55, 2.0 * k, 1.1 * k))
        return S.smax(ear, -concha, 0.25)

    def _body(self, c: np.ndarray) -> dict[str, np.ndarray]:
        pr = self.p
        out = {"neck": S.cylinder_y(c, S.vec(0.0, -15.0, -3.3), pr.neck_radius, 9.5)}
        centre = S.vec(0.0, pr.shoulder_height - 8.5, -4.2)
        radii = S.vec(19.5, 8.5, 10.5)
        cloth = S.ellipsoid(c, centre, radii)
        if pr.collar in ("vneck", "open"):
            slope = 1.3 if pr.collar == "vneck" else 0.6
            depth = 7.0 if pr.collar == "vneck" else 5.0
            x, y, z = c[:, 0], c[:, 1], c[:, 2]
            cut = np.maximum((pr.shoulder_height - depth + slope * np.abs(x) - y) * (1.0 / math.hypot(1, slope)), -1.5 - z)
            cloth = S.smax(cloth, -cut, 0.3)
            out["chest"] = S.ellipsoid(c, centre, radii - 0.6)
        if pr.collar == "turtleneck":
            top = -10.5 + 0.5 * pr.chin_length
            mid = 0.5 * (top + pr.shoulder_height - 2.0)
            tube = S.cylinder_y(c, S.vec(0.0, mid, -3.3), pr.neck_radius + 0.8, 0.5 * (top - pr.shoulder_height + 2.0))
            cloth = S.smin(cloth, tube, 1.0)
        out["cloth"] = cloth
        return out

    def _hair(self, c: np.ndarray, skin: np.ndarray) -> np.ndarray | None:
        pr = self.p
        style = pr.hair_style
        if style == "bald":
            return None
        x, y, z = c[:, 0], c[:, 1], c[:, 2]
        top = S.smoothstep(-2.0, 5.0, y)
        shell = skin - (0.45 + (pr.hair_thickness - 0.45) * top + pr.hair_volume * S.smoothstep(2.0, 12.0, y))
        hairline = pr.hairline + pr.hairline_curve * (x / 5.0) ** 2
        face_zone = np.maximum(np.maximum(y - hairline, -1.0 - z), np.abs(x) - 6.9)
        bare = face_zone
        if style in ("short", "bun", "bangs"):
            bare = np.minimum(bare, y + 1.0 - 0.1 * z)  # nape
            for centre, _, _ in self.ears:
                bare = np.minimum(bare, S.sphere(c, centre + S.vec(0.0, -0.3, 0.3), 2.7))
        elif style == "bob":
            bare = np.minimum(bare, y + 7.5)
        if style in ("long", "bob"):
            bottom = -7.0 if style == "bob" else -21.0 + 4.0 * math.sin(pr.noise_seed)
            # a rounded drape behind (a capsule squashed in z: scaled SDF times the scale keeps a bound)
            q = np.stack([x * (1 / 1.1), y, (z + 6.2) * (1 / 0.62)], -1)
            drape = S.round_cone(q, S.vec(0.0, 3.0, 0.0), S.vec(0.0, bottom + 6.0, 0.0), 8.4, 6.5) * 0.62
            locks = np.minimum(
                S.round_cone(c, S.vec(-7.0, 3.0, -0.8), S.vec(-7.9, bottom + 2.0, -0.2), 1.9, 1.2),
                S.round_cone(c, S.vec(7.0, 3.0, -0.8), S.vec(7.9, bottom + 2.0, -0.2), 1.9, 1.2))
            shell = S.smin(shell, S.smin(drape, locks, 1.0), 1.2)
        if style == "bun":
            shell = S.smin(shell, S.sphere(c, S.vec(0.0, 10.5, -8.0), 3.3), 0.8)
        return S.smax(shell, -bare, 0.2)

    def _hat(self, c: np.ndarray, skin: np.ndarray) -> np.ndarray:
        pr = self.p
        y, z = c[:, 1], c[:, 2]
        lift = pr.hair_thickness + pr.hair_volume + 0.9 if pr.hair_style != "bald" else 0.9
        cut = (pr.hat_height - pr.hat_tilt * z) - y
        hat = np.maximum(skin - lift, cut)
        if pr.hat == "cap":
            brim_c = S.vec(0.0, pr.hat_height - pr.hat_tilt * 6.0 + 0.2, 6.5)
            brim = np.maximum(S.ellipsoid(c, brim_c, S.vec(6.2, 0.35, 5.0)), 2.0 - z)
            hat = np.minimum(hat, brim)
        return hat

    def _glasses(self, c: np.ndarray) -> np.ndarray:
        pr = self.p
        out = None
        for side in (-1.0, 1.0):
            g = S.vec(side * (3.25 + pr.eye_spacing), 2.7, 5.8)
            q = c - g
            qs = np.stack([q[:, 0] * (1 / 1.28), q[:, 1], q[:, 2]], -1)
            rim = S.torus_xy(qs, 1.55, 0.2)
            if pr.glasses == "sunglasses":
                disc = np.maximum(np.sqrt(qs[:, 0] ** 2 + qs[:, 1] ** 2) - 1.55, np.abs(q[:, 2]) - 0.1)
                rim = np.minimum(rim, disc)
            temple = S.capsule(c, S.vec(side * 5.2, 3.0, 5.5), S.vec(side * 7.3, 2.9, -2.5), 0.17)
            part = np.minimum(rim, temple)
            out = part if out is None else np.minimum(out, part)
        bridge = S.capsule(c, S.vec(-1.3, 3.1, 6.1), S.vec(1.3, 3.1, 6.1), 0.18)
        return np.minimum(out, bridge)

    def _earrings(self, c: np.ndarray) -> np.ndarray:
        out = None
        for centre, _, side in self.ears:
            k = self.p.ear_size
            if self.p.earrings == "stud":
                d = S.sphere(c, centre + S.vec(side * 0.55, -1.9 * k, 0.2), 0.42)
            else:
                q = c - (centre + S.vec(side * 0.5, -3.0 * k, 0.1))
                ring = np.sqrt(q[:, 1] ** 2 + q[:, 2] ** 2) - 1.0
                d = np.sqrt(ring * ring + q[:, 0] ** 2) - 0.22
            out = d if out is None else np.minimum(out, d)
        return out

    def _necklace(self, c: np.ndarray, body: np.ndarray) -> np.ndarray:
        y, z = c[:, 1], c[:, 2]
        plane = (y - (self.p.necklace_height - 0.45 * (z + 3.3))) * (1.0 / math.hypot(1.0, 0.45))
        return np.sqrt((body + 0.05) ** 2 + plane * plane) - 0.3

    # ---------------------------------------------------------------- public
    def _parts(self, p: np.ndarray):
        c = self.to_c(p)
        skin, cavity, cf = self._skin(c)
        parts = [(skin, L["skin"])]
        parts += [(self._ear(c, self.ears[0]), L["l_ear"]), (self._ear(c, self.ears[1]), L["r_ear"])]
        body = self._body(c)
        parts.append((body["neck"], L["neck"]))
        parts.append((body["cloth"], L["cloth"]))
        if "chest" in body:
            parts.append((body["chest"], L["neck"]))
        hair = self._hair(c, skin)
        if hair is not None:
            parts.append((hair, L["hair"]))
        if self.p.hat:
            parts.append((self._hat(c, skin), L["hat"]))
        if self.p.glasses:
            parts.append((self._glasses(c), L["eye_g"]))
        if self.p.earrings:
            parts.append((self._earrings(c), L["ear_r"]))
        if self.p.necklace:
            skinbody = np.minimum(body["neck"], body.get("chest", body["cloth"]))
            parts.append((self._necklace(c, skinbody), L["neck_l"]))
        return c, cf, cavity, skin, parts

    def _combine(self, p: np.ndarray, parts) -> np.ndarray:
        d = S.smin(parts[0][0], parts[1][0], 0.5)
        d = S.smin(d, parts[2][0], 0.5)
        d = S.smin(d, parts[3][0], 1.8)
        for extra, _ in parts[4:]:
            d = np.minimum(d, extra)
        d = d * self.dist_scale
        return np.maximum(d, S.box(p, S.vec(0.0, 0.0, 0.0), S.vec(BOX, BOX, BOX)))

    def sdf(self, p: np.ndarray) -> np.ndarray:
        _, _, _, _, parts = self._parts(p)
        return self._combine(p, parts)

    def evaluate(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World SDF and class id per point (argmin part, then facial-feature paint on skin)."""
        c, cf, cavity, skin, parts = self._parts(p)
        d = self._combine(p, parts)
        dists = np.stack([x for x, _ in parts], 0)
        ids = np.array([lab for _, lab in parts], dtype=np.uint8)
        labels = ids[dists.argmin(0)]
        on_skin = np.nonzero(labels == L["skin"])[0]
        if on_skin.size:
            painted = self.features.paint(cf[on_skin], c[on_skin])
            if cavity is not None:
                inner = -cavity[on_skin] > skin[on_skin] - 0.02
                painted = np.where(inner, np.uint8(L["mouth"]), painted)
            labels[on_skin] = painted
        return d, labels

    def material(self, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._spec[labels], self._shin[labels]

    def _materials(self) -> tuple[np.ndarray, np.ndarray]:
        spec = np.full(19, 0.06, np.float32)
        shin = np.full(19, 16.0, np.float32)
        for name, k, n in (("eye_g", 0.6, 60), ("l_eye", 0.5, 80), ("r_eye", 0.5, 80), ("u_lip", 0.18, 30),
                           ("l_lip", 0.18, 30), ("hair", 0.12, 10), ("ear_r", 0.8, 50), ("neck_l", 0.8, 50),
                           ("cloth", 0.03, 6), ("hat", 0.04, 6), ("mouth", 0.2, 30)):
            spec[L[name]], shin[L[name]] = k, n
        return spec, shin

    def _palette(self) -> np.ndarray:
        pr = self.p
        skin = np.array(pr.skin)
        hair = np.array(pr.hair_color)
        pal = np.tile(skin, (19, 1))
        pal[L["nose"]] = skin * (1.03, 0.97, 0.95)
        pal[L["eye_g"]] = pr.glasses_color
        pal[L["l_eye"]] = pal[L["r_eye"]] = (0.62, 0.58, 0.55)
        pal[L["l_brow"]] = pal[L["r_brow"]] = 0.55 * hair + 0.45 * skin * 0.5
        pal[L["l_ear"]] = pal[L["r_ear"]] = skin * (1.02, 0.93, 0.9)
        pal[L["mouth"]] = (0.12, 0.015, 0.02)
        pal[L["u_lip"]] = pal[L["l_lip"]] = skin * np.array(pr.lip_tint)
        pal[L["hair"]] = hair
        pal[L["hat"]] = pr.hat_color
        pal[L["ear_r"]] = pal[L["neck_l"]] = pr.metal
        pal[L["neck"]] = skin * 0.9
        pal[L["cloth"]] = pr.cloth_color
        return pal.astype(np.float32)

    def albedo(self, p: np.ndarray, labels: np.ndarray, normals: np.ndarray) -> np.ndarray:
        """Per-class base colour x coloured noise, with stripes for hair and cloth, iris/pupil
        in the eyes, teeth in open mouths."""
        c = self.to_c(p)
        col = self.palette[labels]
        n1 = S.value_noise(c, self.noise)
        n2 = S.value_noise(c, self.fine_noise)
        col = col * (1.0 + 0.12 * n1[:, None] + 0.05 * n2[:, None])
        hair = labels == L["hair"]
        if hair.any():
            ch = c[hair]
            strands = np.sin(ch[:, 0] * 9.0 + ch[:, 2] * 3.0 + 2.0 * n2[hair]) * 0.5 + 0.5
            col[hair] = col[hair] * (0.65 + 0.55 * strands[:, None])
        cloth = labels == L["cloth"]
        if cloth.any() and self.p.cloth_pattern:
            cc = c[cloth]
            band = np.sin(cc[:, 1] * 1.6) > 0.3
            if self.p.cloth_pattern == 2:
                band = band ^ (np.sin(cc[:, 0] * 1.6) > 0.3)
            col[cloth] = np.where(band[:, None], col[cloth] * 0.45 + 0.25, col[cloth])
        eyes = (labels == L["l_eye"]) | (labels == L["r_eye"])
        if eyes.any():
            col[eyes] = self.features.eye_albedo(self.face_coords(c[eyes]), col[eyes], np.asarray(self.p.iris, np.float32))
        mouth = labels == L["mouth"]
        if mouth.any() and self.p.mouth_open > 0.35:
            teeth = c[mouth][:, 1] > self.mouth_y - 0.3
            col[mouth] = np.where(teeth[:, None], np.array([0.62, 0.58, 0.5], np.float32), col[mouth])
        return np.clip(col, 0.0, 1.0)
