"""Random identity parameters for procedural human heads.

All lengths are in the canonical face's centimetres ("c-space": MediaPipe's canonical face
frame, y up, looking toward +z). `FaceHead` maps c-space to the EG3D world with one similarity
transform per identity, so every part keeps realistic human proportions.

Accessory and hair-style rates roughly follow CelebA attribute frequencies (eyeglasses ~7 %,
hats ~5 %, earrings ~19 %, necklaces ~12 %, bald ~2 %, bangs ~15 %), raised a little so that
every class shows up often enough to learn.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

HAIR_STYLES = ("short", "long", "bangs", "bun", "bald", "bob")
HAIR_STYLE_P = (0.30, 0.25, 0.15, 0.10, 0.05, 0.15)
COLLARS = ("crew", "vneck", "turtleneck", "open")

# linear-RGB anchor colours
SKIN_LIGHT = np.array([0.85, 0.56, 0.42])
SKIN_DARK = np.array([0.09, 0.045, 0.025])
HAIR_COLORS = {
    "black": (0.015, 0.012, 0.011), "dark_brown": (0.05, 0.028, 0.016), "brown": (0.16, 0.08, 0.035),
    "blonde": (0.62, 0.43, 0.2), "auburn": (0.3, 0.08, 0.03), "grey": (0.35, 0.34, 0.33),
    "white": (0.7, 0.68, 0.64), "dyed": (0.45, 0.1, 0.5),
}
HAIR_COLOR_P = (0.25, 0.25, 0.18, 0.12, 0.07, 0.06, 0.03, 0.04)
IRIS_COLORS = ((0.06, 0.025, 0.01), (0.14, 0.07, 0.02), (0.05, 0.15, 0.3), (0.06, 0.14, 0.06), (0.18, 0.2, 0.22))
METALS = ((0.8, 0.6, 0.2), (0.75, 0.75, 0.78), (0.9, 0.88, 0.85), (0.05, 0.05, 0.05))


@dataclass
class FaceParams:
    """Everything that makes one procedural person. Plain floats so it serialises to JSON."""

    # global placement
    scale: float = 0.0175  # world units per cm
    aspect: tuple[float, float, float] = (1.0, 1.0, 1.0)  # per-axis head scale
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)  # world translation jitter
    # skull and face shape
    cranium_radii: tuple[float, float, float] = (7.6, 10.3, 9.9)
    cranium_centre: tuple[float, float, float] = (0.0, 3.2, -4.4)
    jaw_width: float = 0.0  # relative widening (+) or narrowing (-) of the lower face
    chin_length: float = 0.0  # cm, lengthens the lower face
    nose_scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    # features (label regions, c-space)
    eye_size: float = 1.0
    eye_open: float = 1.0
    eye_tilt: float = 0.0  # cm rise of the outer corner
    eye_spacing: float = 0.0  # cm added to each eye's |x|
    iris_offset: tuple[float, float] = (0.0, 0.0)
    brow_raise: float = 0.0
    brow_thickness: float = 1.0
    brow_arch: float = 1.0
    mouth_width: float = 1.0
    upper_lip: float = 0.6  # cm thickness at the centre
    lower_lip: float = 0.75
    smile: float = 0.0  # cm rise of the corners
    mouth_open: float = 0.0  # cm jaw drop; 0 = closed
    mouth_slit: float = 0.1  # cm visible gap of a closed mouth
    ear_size: float = 1.0
    ear_angle: float = 0.3  # radians the ears stand out
    neck_radius: float = 5.3
    # hair and clothes
    hair_style: str = "short"
    hair_thickness: float = 0.9
    hair_volume: float = 0.8  # extra thickness on top
    hairline: float = 7.2  # c-space y of the hairline centre
    hairline_curve: float = 0.9
    collar: str = "crew"
    shoulder_height: float = -18.5
    # accessories
    glasses: str = ""  # "", "frames" or "sunglasses"
    hat: str = ""  # "", "beanie" or "cap"
    hat_height: float = 8.0
    hat_tilt: float = 0.15
    earrings: str = ""  # "", "stud" or "hoop"
    necklace: bool = False
    necklace_height: float = -15.5
    # colours (linear RGB)
    skin: tuple[float, float, float] = (0.6, 0.4, 0.3)
    lip_tint: tuple[float, float, float] = (1.0, 0.6, 0.6)
    hair_color: tuple[float, float, float] = (0.05, 0.03, 0.02)
    iris: tuple[float, float, float] = (0.1, 0.05, 0.02)
    cloth_color: tuple[float, float, float] = (0.2, 0.3, 0.5)
    cloth_pattern: int = 0  # 0 plain, 1 stripes, 2 checks
    hat_color: tuple[float, float, float] = (0.3, 0.1, 0.1)
    glasses_color: tuple[float, float, float] = (0.02, 0.02, 0.02)
    metal: tuple[float, float, float] = (0.8, 0.6, 0.2)
    noise_seed: int = 0
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _tuple(a) -> tuple[float, ...]:
    return tuple(float(x) for x in a)


def sample_face_params(rng: np.random.Generator) -> FaceParams:
    """Draw one identity. Independent uniform/normal draws; ranges chosen by eye on renders."""
    u = rng.uniform
    p = FaceParams()
    p.scale = 0.0165 * u(0.95, 1.05)
    p.aspect = _tuple(u(0.94, 1.06, 3))
    p.offset = _tuple(np.array([u(-0.01, 0.01), u(-0.015, 0.015), u(-0.015, 0.015)]))
    p.cranium_radii = _tuple(np.array([7.6, 10.3, 9.9]) * u(0.95, 1.05, 3))
    p.cranium_centre = (0.0, 3.2 + u(-0.5, 0.5), -4.4 + u(-0.6, 0.4))
    p.jaw_width = u(-0.1, 0.12)
    p.chin_length = u(-0.5, 0.9)
    p.nose_scale = _tuple(np.array([u(0.85, 1.25), u(0.88, 1.15), u(0.85, 1.25)]))
    p.eye_size = u(0.85, 1.15)
    p.eye_open = u(0.6, 1.35)
    p.eye_tilt = u(-0.15, 0.3)
    p.eye_spacing = u(-0.25, 0.25)
    p.iris_offset = (u(-0.25, 0.25), u(-0.08, 0.08))
    p.brow_raise = u(-0.25, 0.45)
    p.brow_thickness = u(0.7, 1.5)
    p.brow_arch = u(0.4, 1.4)
    p.mouth_width = u(0.85, 1.2)
    p.upper_lip = u(0.4, 0.85)
    p.lower_lip = u(0.55, 1.05)
    p.smile = u(-0.2, 0.5)
    if rng.random() < 0.4:
        p.mouth_open = u(0.25, 1.6)
        p.mouth_slit = 0.0
    else:
        p.mouth_open = 0.0
        p.mouth_slit = u(0.0, 0.22)
    p.ear_size = u(0.88, 1.15)
    p.ear_angle = u(0.15, 0.5)
    p.neck_radius = u(4.3, 5.1)
    p.hair_style = str(rng.choice(HAIR_STYLES, p=HAIR_STYLE_P))
    p.hair_thickness = u(0.5, 1.4)
    p.hair_volume = u(0.2, 1.6)
    p.hairline = u(6.6, 8.0) if p.hair_style != "bangs" else u(4.9, 5.8)
    p.hairline_curve = u(0.4, 1.4) if p.hair_style != "bangs" else u(0.0, 0.3)
    p.collar = str(rng.choice(COLLARS, p=(0.35, 0.3, 0.15, 0.2)))
    p.shoulder_height = u(-17.0, -14.0)
    if rng.random() < 0.12:
        p.glasses = "sunglasses" if rng.random() < 0.3 else "frames"
    if rng.random() < 0.09:
        p.hat = "cap" if rng.random() < 0.4 else "beanie"
        p.hat_height = u(6.5, 9.0)
        p.hat_tilt = u(0.0, 0.3)
    if rng.random() < 0.28:
        p.earrings = "hoop" if rng.random() < 0.4 else "stud"
    p.necklace = bool(rng.random() < 0.16)
    p.necklace_height = u(-14.0, -12.0)
    tone = u(0, 1) ** 1.3
    base = SKIN_LIGHT * (1 - tone) + SKIN_DARK * tone
    p.skin = _tuple(base * (1 + u(-0.08, 0.08, 3)))
    p.lip_tint = _tuple(np.array([1.0, u(0.45, 0.75), u(0.45, 0.8)]) * (u(0.75, 1.0)))
    if rng.random() < 0.15:  # lipstick
        p.lip_tint = _tuple(np.array([u(0.7, 1.4), u(0.05, 0.3), u(0.1, 0.4)]))
    names = list(HAIR_COLORS)
    hair = np.array(HAIR_COLORS[names[int(rng.choice(len(names), p=HAIR_COLOR_P))]])
    p.hair_color = _tuple(hair * u(0.75, 1.3, 3))
    p.iris = _tuple(np.array(IRIS_COLORS[int(rng.integers(len(IRIS_COLORS)))]) * u(0.8, 1.2))
    p.cloth_color = _tuple(rng.uniform(0.01, 0.8, 3) ** 1.5)
    p.cloth_pattern = int(rng.choice(3, p=(0.65, 0.2, 0.15)))
    p.hat_color = _tuple(rng.uniform(0.01, 0.7, 3) ** 1.5)
    p.glasses_color = _tuple(np.array(METALS[int(rng.integers(len(METALS)))]) * u(0.5, 1.0))
    p.metal = _tuple(METALS[int(rng.integers(3))])
    p.noise_seed = int(rng.integers(2**31 - 1))
    return p
