"""Procedural cat heads with our 6 classes (background, face, eye, ear, nose, mouth).

Built in world units around AFHQ's framing (pivot (0, 0, -0.06), the head fills most of the
frame, ear tips near the top): cranium + cheeks + muzzle + whisker pads + chin (smooth union,
label face), almond eyeballs in carved sockets (eye), flattened tapered cones with a carved
inner ear (ear), a small rounded nose (nose), and a mouth painted under the nose (philtrum and
the two lip curves), optionally opened into a cavity (mouth). The chest below the head is
labelled face: it is fur, and the 6-class set has no body class.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from s3d_engine.labels import CAT_LABELS

from . import sdf as S

L = {name: i for i, name in enumerate(CAT_LABELS.names)}
BOX = 0.5 - 0.004
FUR = {
    "orange": (0.55, 0.25, 0.06), "cream": (0.7, 0.55, 0.35), "grey": (0.25, 0.25, 0.26),
    "black": (0.015, 0.014, 0.014), "white": (0.8, 0.78, 0.74), "brown": (0.22, 0.13, 0.06),
}
EYE_COLORS = ((0.6, 0.45, 0.02), (0.25, 0.5, 0.05), (0.1, 0.3, 0.6), (0.55, 0.25, 0.03))


@dataclass
class CatParams:
    scale: float = 1.0
    aspect: tuple[float, float, float] = (1.0, 1.0, 1.0)
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    cheek_width: float = 1.0
    muzzle_size: float = 1.0
    eye_size: float = 1.0
    eye_open: float = 1.0
    eye_tilt: float = 0.1
    ear_size: float = 1.0
    ear_spread: float = 0.0
    ear_tilt: float = 0.0
    nose_size: float = 1.0
    mouth_open: float = 0.0
    fur: tuple[float, float, float] = (0.5, 0.3, 0.1)
    fur2: tuple[float, float, float] = (0.8, 0.8, 0.8)
    pattern: int = 0  # 0 plain, 1 tabby stripes, 2 patches, 3 white muzzle/chest, 4 dark points
    eye_color: tuple[float, float, float] = (0.6, 0.45, 0.02)
    pupil: float = 0.3
    nose_color: tuple[float, float, float] = (0.6, 0.25, 0.25)
    noise_seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def sample_cat_params(rng: np.random.Generator) -> CatParams:
    u = rng.uniform
    p = CatParams()
    p.scale = u(0.9, 1.08)
    p.aspect = tuple(float(a) for a in u(0.93, 1.07, 3))
    p.offset = (u(-0.015, 0.015), u(-0.02, 0.02), u(-0.02, 0.02))
    p.cheek_width = u(0.85, 1.2)
    p.muzzle_size = u(0.85, 1.2)
    p.eye_size = u(0.85, 1.2)
    p.eye_open = u(0.55, 1.15)
    p.eye_tilt = u(-0.05, 0.3)
    p.ear_size = u(0.8, 1.25)
    p.ear_spread = u(-0.03, 0.04)
    p.ear_tilt = u(-0.25, 0.25)
    p.nose_size = u(0.8, 1.25)
    p.mouth_open = u(0.4, 1.0) if rng.random() < 0.15 else 0.0
    names = list(FUR)
    p.fur = tuple(float(x) for x in np.array(FUR[names[int(rng.integers(len(names)))]]) * u(0.8, 1.2, 3))
    p.fur2 = tuple(float(x) for x in np.array(FUR[names[int(rng.integers(len(names)))]]) * u(0.8, 1.2, 3))
    p.pattern = int(rng.choice(5, p=(0.25, 0.3, 0.15, 0.2, 0.1)))
    p.eye_color = tuple(float(x) for x in np.array(EYE_COLORS[int(rng.integers(len(EYE_COLORS)))]) * u(0.8, 1.2))
    p.pupil = u(0.12, 0.7)
    p.nose_color = (u(0.4, 0.75), u(0.12, 0.3), u(0.12, 0.3)) if rng.random() < 0.7 else (0.03, 0.02, 0.02)
    p.noise_seed = int(rng.integers(2**31 - 1))
    return p


class CatHead:
    kind = "cat"
    relax = 0.9

    def __init__(self, params: CatParams):
        self.p = pr = params
        self.s = (pr.scale * np.asarray(pr.aspect)).astype(np.float32)
        self.inv_s = (1.0 / self.s).astype(np.float32)
        self.dist_scale = float(self.s.min())
        self.origin = (np.array([0.0, -0.02, -0.06]) + np.asarray(pr.offset)).astype(np.float32)
        rng = np.random.default_rng(pr.noise_seed)
        self.noise = S.random_waves(rng, 6, 6.0, 1.0)
        self.fine_noise = S.random_waves(rng, 6, 40.0, 1.0)
        self.eyes = [S.vec(side * 0.095 * (0.95 + 0.05 * pr.eye_size), 0.025, 0.118) for side in (-1.0, 1.0)]
        self.eye_r = S.vec(0.05 * pr.eye_size, 0.038 * pr.eye_size * pr.eye_open, 0.03)
        self.eye_centres = np.stack(self.eyes)
        self.nose = S.vec(0.0, -0.05, 0.2 + 0.01 * (pr.muzzle_size - 1.0))

    def to_local(self, p: np.ndarray) -> np.ndarray:
        return (p - self.origin) * self.inv_s

    # Small parts are evaluated only near them: outside a group's sphere the group's distance
    # is replaced by the distance to the sphere (a valid lower bound), which changes nothing in
    # the smooth unions (their blend widths are below the margin) and saves ~40 % of the work.
    FACE_GROUP = (S.vec(0.0, -0.05, 0.1), 0.2)
    EAR_GROUP = (S.vec(0.18, 0.24, -0.07), 0.25)
    MARGIN = 0.06

    @staticmethod
    def _near(q: np.ndarray, group) -> tuple[np.ndarray, np.ndarray]:
        centre, radius = group
        dist = S.length(q - centre) - radius
        return np.nonzero(dist < CatHead.MARGIN)[0], dist

    def _parts(self, p: np.ndarray):
        pr = self.p
        q = self.to_local(p)
        qm = np.stack([np.abs(q[:, 0]), q[:, 1], q[:, 2]], -1)  # mirrored: one evaluation per pair
        head = S.ellipsoid(q, S.vec(0.0, 0.03, -0.08), S.vec(0.245, 0.205, 0.215))
        cw = pr.cheek_width
        cheeks = S.ellipsoid(qm, S.vec(0.09 * cw, -0.07, 0.0), S.vec(0.15 * cw, 0.12, 0.14))
        head = S.smin(head, cheeks, 0.05)
        chest = S.ellipsoid(q, S.vec(0.0, -0.36, -0.16), S.vec(0.23, 0.21, 0.2))
        head = S.smin(head, chest, 0.06)
        # muzzle, pads, chin, mouth cavity, eye sockets, eyes, nose
        sel, bound = self._near(q, self.FACE_GROUP)
        eye_d, nose, cavity = bound.copy(), bound.copy(), (bound.copy() if pr.mouth_open > 0 else None)
        if sel.size:
            qs, qms, hs = q[sel], qm[sel], head[sel]
            m = pr.muzzle_size
            muzzle = S.ellipsoid(qs, S.vec(0.0, -0.085, 0.11), S.vec(0.095 * m, 0.062 * m, 0.085))
            pads = S.sphere(qms, S.vec(0.042 * m, -0.095, 0.155), 0.048 * m)
            chin = S.ellipsoid(qs, S.vec(0.0, -0.145, 0.09), S.vec(0.048, 0.035, 0.05))
            hs = S.smin(hs, S.smin(muzzle, S.smin(pads, chin, 0.02), 0.03), 0.04)
            if cavity is not None:
                cav = S.ellipsoid(qs, S.vec(0.0, -0.135, 0.14), S.vec(0.045, 0.028 * pr.mouth_open + 0.006, 0.06))
                hs = S.smax(hs, -cav, 0.01)
                cavity[sel] = cav
            e = self.eyes[1]
            hs = S.smax(hs, -S.ellipsoid(qms, e + S.vec(0.0, 0.0, 0.02), self.eye_r * 1.12), 0.012)
            eye_d[sel] = S.ellipsoid(qms, e, self.eye_r)
            nose[sel] = S.ellipsoid(qs, self.nose, S.vec(0.026, 0.017, 0.02) * pr.nose_size)
            head[sel] = hs
        # ears (mirrored)
        sel, bound = self._near(qm, self.EAR_GROUP)
        ears = bound.copy()
        if sel.size:
            qms = qm[sel]
            base = S.vec(0.135 + pr.ear_spread, 0.13, -0.07)
            tip = base + S.vec(0.06 + 0.4 * pr.ear_spread + 0.03 * pr.ear_tilt, 0.19 * pr.ear_size, -0.01)
            flat = np.stack([qms[:, 0], qms[:, 1], (qms[:, 2] + 0.07) * (1 / 0.45) - 0.07], -1)
            ear = S.round_cone(flat, base, tip, 0.075 * pr.ear_size, 0.012) * 0.45
            inner_tip = tip + S.vec(-0.012, -0.03, 0.0)
            flat_in = np.stack([qms[:, 0], qms[:, 1], (qms[:, 2] + 0.035) * (1 / 0.35) - 0.07], -1)
            inner = S.round_cone(flat_in, base + S.vec(0.0, 0.03, 0.0), inner_tip, 0.05 * pr.ear_size, 0.006) * 0.35
            ears[sel] = S.smax(ear, -inner, 0.01)
        return q, head, cavity, [(head, L["face"]), (ears, L["ear"]), (eye_d, L["eye"]), (nose, L["nose"])]

    def _combine(self, p: np.ndarray, parts) -> np.ndarray:
        d = S.smin(parts[0][0], parts[1][0], 0.025)
        d = np.minimum(np.minimum(d, parts[2][0]), S.smin(d, parts[3][0], 0.008))
        d = d * self.dist_scale
        return np.maximum(d, S.box(p, S.vec(0.0, 0.0, 0.0), S.vec(BOX, BOX, BOX)))

    def sdf(self, p: np.ndarray) -> np.ndarray:
        return self._combine(p, self._parts(p)[3])

    def _mouth_region(self, q: np.ndarray) -> np.ndarray:
        x, y, z = q[:, 0], q[:, 1], q[:, 2]
        ax = np.abs(x)
        front = z > 0.08
        philtrum = (ax < 0.006) & (y < self.nose[1] - 0.012) & (y > -0.118)
        curve = -0.118 - 0.35 * (ax - 0.028) ** 2 + 0.012 * np.exp(-((ax - 0.03) * (1 / 0.012)) ** 2)
        lips = (ax < 0.058) & (np.abs(y - curve) < 0.0065)
        return front & (philtrum | lips)

    def evaluate(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q, head, cavity, parts = self._parts(p)
        d = self._combine(p, parts)
        dists = np.stack([x for x, _ in parts], 0)
        ids = np.array([lab for _, lab in parts], dtype=np.uint8)
        labels = ids[dists.argmin(0)]
        face = labels == L["face"]
        mouth = face & self._mouth_region(q)
        if cavity is not None:
            mouth = mouth | (face & (-cavity > head - 0.003) & (q[:, 1] < -0.09))
        labels[mouth] = L["mouth"]
        return d, labels

    _SPEC = np.array([0.0, 0.05, 0.7, 0.04, 0.3, 0.2], np.float32)
    _SHIN = np.array([1.0, 8.0, 90.0, 8.0, 40.0, 20.0], np.float32)

    def material(self, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._SPEC[labels], self._SHIN[labels]

    def albedo(self, p: np.ndarray, labels: np.ndarray, normals: np.ndarray) -> np.ndarray:
        pr = self.p
        q = self.to_local(p)
        x, y, z = q[:, 0], q[:, 1], q[:, 2]
        fur, fur2 = np.asarray(pr.fur, np.float32), np.asarray(pr.fur2, np.float32)
        n1 = S.value_noise(q, self.noise)
        n2 = S.value_noise(q, self.fine_noise)
        col = np.tile(fur, (len(q), 1))
        if pr.pattern == 1:
            stripes = (np.sin(y * 60.0 + 4.0 * n1 + 10.0 * np.abs(x)) > 0.25)[:, None]
            col = col * (1 - 0.55 * stripes)
        elif pr.pattern == 2:
            col = np.where((n1 > 0.2)[:, None], fur2, col)
        elif pr.pattern == 3:
            white = ((y < -0.06) & (z > 0.0)) | (y < -0.2)
            col = np.where(white[:, None], np.array([0.8, 0.78, 0.74], np.float32), col)
        elif pr.pattern == 4:
            dark = S.smoothstep(0.09, 0.03, S.length(q - S.vec(0.0, -0.09, 0.16))) + S.smoothstep(0.16, 0.25, y)
            col = col * (1 - 0.85 * np.clip(dark, 0, 1)[:, None])
        col = col * (1.0 + 0.15 * n1[:, None] + 0.12 * n2[:, None])
        inner = (labels == L["ear"]) & (z > -0.06)
        col = np.where(inner[:, None], np.array([0.6, 0.3, 0.3], np.float32), col)
        eye = labels == L["eye"]
        if eye.any():
            qe = q[eye]
            rel = qe - self.eye_centres[(qe[:, 0] >= 0).astype(np.int64)]
            iris = np.asarray(pr.eye_color, np.float32) * (0.8 + 0.3 * np.cos(np.sqrt(rel[:, 0] ** 2 + rel[:, 1] ** 2) * 300.0))[:, None]
            half = pr.pupil * 0.03 * np.sqrt(np.maximum(1 - (rel[:, 1] / self.eye_r[1]) ** 2, 0))
            col[eye] = np.where((np.abs(rel[:, 0]) < half)[:, None], np.float32(0.01), iris)
        col = np.where((labels == L["nose"])[:, None], np.asarray(pr.nose_color, np.float32), col)
        col = np.where((labels == L["mouth"])[:, None], np.array([0.08, 0.02, 0.02], np.float32), col)
        return np.clip(col, 0.0, 1.0).astype(np.float32)
