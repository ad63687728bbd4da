"""The road kind: a forward-looking camera on a car, with traffic to detect and track.

A pinhole camera 1.3 m above a flat road looks down the road; a ground point ``X``
metres right of the road's centre line and ``Z`` metres ahead projects to
``x = x_vp + f (X + c Z^2 - X_cam) / Z`` and ``y = y_h + f h_cam / Z``, with a curvature
``c``, the horizon row ``y_h`` (pitch jitter) and vanishing column ``x_vp`` (yaw drift).
The ego car drives in the second lane from the right (right-hand traffic); the lane
markings and the roadside trees stream past with its speed.

Objects (classes in :data:`ROAD_CLASSES`, drawn with the imbalanced
:data:`ROAD_CLASS_FREQUENCIES`): cars, trucks and motorcycles in the four lanes (each lane
at its own speed, oncoming traffic on the left), bicycles on the shoulders, pedestrians
walking along the sidewalks. Each object is tracked while it is drawn (inside the view
and at least a few pixels tall): one tube per continuous stretch, its own track id.
Masks are the visible pixels (nearer objects and roadside trees removed), boxes the
tight bounds of the full drawn object inside the frame (amodal).

A traffic jam (``jam_prob``) stops the ego car and all traffic for a while: long
redundant stretches. Rare conditions: night (dark scene, lit head- and tail-lights),
rain (streaks, blur, desaturation) and fog (thicker towards the horizon).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vidal.data.synth._config import ROAD_CLASS_FREQUENCIES, ROAD_CLASSES, SynthConfig
from vidal.data.synth._figure import PART_SHADES, figure_palette, figure_polygons, neutral_pose
from vidal.data.synth._render import (
    fill,
    fill_any,
    mask_boxes,
    runs,
    smooth_noise,
    smooth_walk,
    texture,
)
from vidal.errors import ConfigError

H_CAM = 1.3  # camera height, metres
LANES = (-5.25, -1.75, 1.75, 5.25)  # lane centres; negative X: oncoming traffic
EGO_LANE = 1.75
MIN_PX = 4.0  # objects shorter than this (pixels) are not drawn


@dataclass
class RoadTrack:
    """One tracked object stretch: class, inclusive frame span, per-frame masks.

    Attributes:
        label: index into :data:`ROAD_CLASSES`.
        first, last: inclusive span.
        amodal (ndarray[T, H, W]): bool, all drawn pixels of the object per frame.
        visible (ndarray[T, H, W]): bool, drawn pixels nothing nearer covers.
    """

    label: int
    first: int
    last: int
    amodal: np.ndarray
    visible: np.ndarray


@dataclass
class _Thing:
    """Something standing on the road plane: a tracked object (``label >= 0``) or scenery.

    Attributes:
        label: class index, or -1 for unannotated scenery (trees, poles).
        x: lateral position, metres right of the road's centre line.
        z (ndarray[T]): distance ahead of the camera per frame, metres.
        znear, zfar: drawn only while ``znear < z < zfar``.
        parts: convex polygons in metres above the ground point (y up).
        shades: shade index of each part (into ``lut``).
        lut (ndarray[S, 3]): colour of each shade, lighting applied.
        figure (ndarray[T, P, n, 2] | None): a pedestrian's pixel polygons per frame,
            used instead of ``parts``.
    """

    label: int
    x: float
    z: np.ndarray
    znear: float
    zfar: float
    parts: list[np.ndarray]
    shades: list[int]
    lut: np.ndarray
    figure: np.ndarray | None = None


def _rect(x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)


def _ell(cx: float, cy: float, rx: float, ry: float, n: int = 12) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], -1).astype(np.float32)


def _trap(y0: float, hw0: float, y1: float, hw1: float) -> np.ndarray:
    return np.array([[-hw0, y0], [hw0, y0], [hw1, y1], [-hw1, y1]], np.float32)


def _raster(
    polys: list[np.ndarray], shades: list[int], h: int, w: int
) -> tuple[int, int, np.ndarray] | None:
    """Rasterise convex polygons (pixels) into the smallest crop of an ``h x w`` frame.

    Returns:
        ``(y0, x0, shade map ndarray[h', w'] uint8)`` of the crop, or ``None`` when the
        polygons miss the frame. The pixels are those a full-frame drawing would set.
    """
    pts = np.concatenate(polys)
    x0, y0 = max(int(np.floor(pts[:, 0].min())) - 1, 0), max(int(np.floor(pts[:, 1].min())) - 1, 0)
    x1, y1 = min(int(np.ceil(pts[:, 0].max())) + 2, w), min(int(np.ceil(pts[:, 1].max())) + 2, h)
    if x1 <= x0 or y1 <= y0:
        return None
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    off = np.array([x0, y0], np.float32)
    for p, s in zip(polys, shades, strict=False):
        fill(canvas, p - off, s)
    return y0, x0, canvas


# roadside scenery, metres with y up like the vehicle parts
_TRUNK, _CROWN, _POLE = _rect(-0.2, 0.2, 0, 2.5), _ell(0, 3.6, 1.6, 1.6), _rect(-0.08, 0.08, 0, 6.0)

# Object shade indices: 1 tyres, 2 paint, 3 glass, 4 lights, 5 plate/trim, 6 dark paint,
# 7 clothes, 8 helmet, 9 trousers, 10 skin.
_LIGHT = 4


def _vehicle_parts(
    label: str, rng: np.random.Generator, *, front: bool
) -> tuple[list[np.ndarray], list[int], float]:
    """Parts of a vehicle seen from behind (or the front), in metres above its ground point.

    Returns:
        (convex polygons ndarray[n, 2] with y up, their shade indices, height in metres).
    """
    parts: list[np.ndarray] = []
    shades: list[int] = []

    def add(poly: np.ndarray, shade: int) -> None:
        parts.append(poly)
        shades.append(shade)

    if label == "car":
        w, h = rng.uniform(1.65, 1.9), rng.uniform(1.35, 1.6)
        for s in (-1, 1):
            add(_rect(s * 0.48 * w, s * 0.3 * w, 0.0, 0.3), 1)
        add(_rect(-0.5 * w, 0.5 * w, 0.15, 0.6 * h), 2)
        add(_trap(0.58 * h, 0.47 * w, h, 0.36 * w), 2)
        add(_trap(0.62 * h, 0.41 * w, 0.93 * h, 0.32 * w), 3)
        for s in (-1, 1):
            add(_rect(s * 0.46 * w, s * 0.32 * w, 0.42 * h, 0.52 * h), _LIGHT)
        add(_rect(-0.12 * w, 0.12 * w, 0.22 * h, 0.3 * h), 5)
    elif label == "truck":
        w, h = rng.uniform(2.35, 2.55), rng.uniform(3.0, 3.6)
        for s in (-1, 1):
            add(_rect(s * 0.48 * w, s * 0.28 * w, 0.0, 0.45), 1)
        add(_rect(-0.5 * w, 0.5 * w, 0.35, h), 2)
        if front:
            add(_rect(-0.44 * w, 0.44 * w, 0.5 * h, 0.72 * h), 3)
            add(_rect(-0.35 * w, 0.35 * w, 0.2 * h, 0.3 * h), 5)  # grille
        else:
            add(_rect(-0.46 * w, -0.01 * w, 0.38, 0.96 * h), 6)
            add(_rect(0.01 * w, 0.46 * w, 0.38, 0.96 * h), 6)
        for s in (-1, 1):
            add(_rect(s * 0.47 * w, s * 0.36 * w, 0.4, 0.55), _LIGHT)
    elif label == "motorcycle":
        h = rng.uniform(1.4, 1.55)
        add(_ell(0.0, 0.31, 0.07, 0.31), 1)
        add(_ell(0.0, 0.58, 0.22, 0.17), 2)
        add(_ell(0.0, 0.98, 0.21, 0.3), 7)
        add(_rect(-0.36, 0.36, 0.86, 0.94), 7)  # arms to the handlebar
        add(_ell(0.0, h - 0.14, 0.14, 0.15), 8)
        add(_rect(-0.06, 0.06, 0.48, 0.56), _LIGHT)
    elif label == "bicycle":
        h = rng.uniform(1.6, 1.8)
        add(_ell(0.0, 0.34, 0.035, 0.34), 1)
        for s in (-1, 1):
            add(_ell(s * 0.09, 0.6, 0.05, 0.3), 9)
        add(_ell(0.0, 1.12, 0.19, 0.3), 7)
        add(_ell(0.0, h - 0.11, 0.11, 0.12), 10)
    else:
        raise ConfigError(f"no vehicle shape for {label!r}; known: car, truck, motorcycle, bicycle")
    return parts, shades, float(h)


def _palette(rng: np.random.Generator, *, front: bool) -> np.ndarray:
    """Colours of the object shades, ndarray[11, 3] float32."""
    pal = np.zeros((11, 3), np.float32)
    paint = rng.uniform(20, 235, 3) if rng.random() < 0.7 else np.full(3, rng.uniform(25, 235))
    pal[1] = (22, 22, 24)
    pal[2] = paint
    pal[3] = rng.uniform(30, 70) + np.array([0, 5, 15])
    pal[4] = (235, 235, 210) if front else (210, 30, 25)
    pal[5] = (200, 200, 195)
    pal[6] = 0.8 * paint
    pal[7] = rng.uniform(15, 240, 3)
    pal[8] = rng.uniform(15, 240, 3)
    pal[9] = rng.uniform(15, 180, 3)
    pal[10] = np.array([224, 172, 130]) * rng.uniform(0.4, 1.0)
    return pal


def _jam_profile(t: int, rng: np.random.Generator) -> np.ndarray:
    """Traffic speed factor ndarray[T] in [0, 1]: drive, brake, stand still, drive on."""
    stop = int(rng.integers(int(0.3 * t), int(0.5 * t) + 1))
    brake = int(rng.integers(0, t - stop))
    s = np.ones(t, np.float32)
    s[brake : brake + stop] = 0
    k = 6
    return np.convolve(np.pad(s, k, mode="edge"), np.ones(k, np.float32) / k, mode="same")[k:-k]


@dataclass(frozen=True, eq=False)
class _Camera:
    """The ego car's drive and its camera over one video.

    Attributes:
        width, height: frame size in pixels.
        dt: seconds per frame.
        focal: focal length in pixels.
        jam: whether traffic stops for a while.
        flow (ndarray[T]): traffic speed factor in ``[0, 1]`` (0 while the jam stands).
        v_ego: the ego car's cruising speed, metres per second.
        odo (ndarray[T]): metres driven.
        y_h (ndarray[T]): horizon row (pitch jitter).
        x_vp (ndarray[T]): vanishing column (yaw drift).
        x_cam (ndarray[T]): the camera's lateral position, metres.
        curve: road curvature ``c``.
    """

    width: int
    height: int
    dt: float
    focal: float
    jam: bool
    flow: np.ndarray
    v_ego: float
    odo: np.ndarray
    y_h: np.ndarray
    x_vp: np.ndarray
    x_cam: np.ndarray
    curve: float

    @property
    def num_frames(self) -> int:
        return len(self.flow)

    def project(
        self, x: np.ndarray | float, y: np.ndarray | float, z: np.ndarray | float, i: int
    ) -> np.ndarray:
        """Ground-relative metres (X right, Y up, Z ahead) -> pixels at frame i, [..., 2]."""
        z = np.maximum(z, 0.05)
        u = self.x_vp[i] + self.focal * (x + self.curve * z * z - self.x_cam[i]) / z
        v = self.y_h[i] + self.focal * (H_CAM - y) / z
        return np.stack([u, v], -1).astype(np.float32)


def _camera(config: SynthConfig, rng: np.random.Generator) -> _Camera:
    """Draw the video's length, the ego car's speed profile and the camera's path."""
    w, h = config.width, config.height
    t = int(rng.integers(config.min_frames, config.max_frames + 1))
    dt = 1.0 / config.fps
    f = 0.9 * w
    jam = rng.random() < config.jam_prob
    flow = (
        _jam_profile(t, rng) if jam else (1 + 0.05 * np.sin(np.arange(t) / 15)).astype(np.float32)
    )
    v_ego = rng.uniform(6, 14)
    odo = np.concatenate([[0.0], np.cumsum(v_ego * flow * dt)[:-1]])  # metres driven, [T]
    shake = 0.1 + 0.9 * flow  # the camera vibrates less while the car stands
    y_h = rng.uniform(0.34, 0.44) * h + smooth_walk(
        rng, t, sigma=0.12 * h / 96, smooth=4, scale=shake
    )  # [T]
    yaw = rng.uniform(0.0, 0.04) * np.sin(
        2 * np.pi * odo / rng.uniform(80, 250) + rng.uniform(0, 6.3)
    )
    x_vp = (
        w / 2 + f * (yaw - yaw[0]) + smooth_walk(rng, t, sigma=0.1, smooth=4, scale=shake)
    ).astype(np.float32)
    x_cam = EGO_LANE + 0.15 * np.sin(2 * np.pi * odo / rng.uniform(40, 100))
    curve = rng.uniform(-1, 1) * 0.0015
    return _Camera(w, h, dt, f, bool(jam), flow, v_ego, odo, y_h, x_vp, x_cam, curve)


@dataclass(frozen=True, eq=False)
class _Backdrop:
    """What every frame is cut from and painted on before the things on the road.

    Attributes:
        pano (ndarray[PH, PW, 3]): float32 panorama (sky, skyline, ground) the frames are
            cut from.
        pad: margin of the panorama around the frames' travel, pixels.
        hz: horizon row in the panorama.
        surface_lut (ndarray[5, 3]): float32 colours of the surface codes (1 asphalt,
            2 sidewalk, 3 white and 4 yellow markings).
        asphalt (ndarray[H, W, 3]): float32 asphalt texture, in frame pixels.
    """

    pano: np.ndarray
    pad: int
    hz: float
    surface_lut: np.ndarray
    asphalt: np.ndarray


def _panorama(
    rng: np.random.Generator, cam: _Camera, *, night: bool
) -> tuple[np.ndarray, int, float]:
    """The static panorama: sky, clouds, skyline, ground texture; ``(pano, pad, hz)``."""
    w, h, x_vp, y_h = cam.width, cam.height, cam.x_vp, cam.y_h
    pad = int(0.2 * w) + 4
    pw = w + int(np.ceil(x_vp.max() - x_vp.min())) + 2 * pad
    ph = h + int(np.ceil(y_h.max() - y_h.min())) + 2 * pad
    hz = pad + float(y_h.max())  # horizon row in the panorama
    rows = np.arange(ph, dtype=np.float32)[:, None, None]
    if night:
        sky_top, sky_low = np.array([5, 6, 16]), np.array([22, 24, 40])
    elif rng.random() < 0.6:
        sky_top, sky_low = np.array([70, 120, 200]), np.array([175, 200, 225])
    else:
        sky_top, sky_low = np.array([130, 135, 140]), np.array([190, 190, 192])
    mix = np.clip(rows / max(hz, 1.0), 0, 1)
    pano = (sky_top + (sky_low - sky_top) * mix).astype(np.float32) * np.ones(
        (1, pw, 1), np.float32
    )
    if not night:
        clouds = smooth_noise(rng, ph, pw, scale=rng.uniform(8, 20))
        pano += (np.clip(clouds - 0.55, 0, 1) * 120 * (rows[:, :, 0] < hz))[..., None]
    ground_tex, _ = texture(rng, ph, pw, kind="noise")
    ground_col = np.array([70, 110, 50]) if rng.random() < 0.6 else np.array([130, 115, 85])
    ground = 0.6 * ground_col + 0.4 * ground_tex * (ground_col / 128)
    pano = np.where(rows >= hz, ground.astype(np.float32), pano)
    skyline = _skyline(rng, ph, pw, w, h, hz)
    sky_shades = np.stack([np.zeros(3), *(rng.uniform(50, 150, (3, 3)))]).astype(np.float32)
    if night:
        sky_shades *= 0.15
    pano = np.where(skyline[..., None] > 0, sky_shades[skyline], pano)
    if night:
        pano[int(hz) :] *= 0.15
    return np.ascontiguousarray(pano, dtype=np.float32), pad, hz


def _skyline(rng: np.random.Generator, ph: int, pw: int, w: int, h: int, hz: float) -> np.ndarray:
    """Shade codes ndarray[PH, PW] uint8 of a city's buildings or hills on the horizon."""
    skyline = np.zeros((ph, pw), np.uint8)
    if rng.random() < 0.5:  # city: buildings
        x = 0.0
        while x < pw:
            bw = rng.uniform(0.05, 0.15) * w
            bh = rng.uniform(0.05, 0.25) * h
            fill(skyline, _rect(x, x + bw, hz - bh, hz + 1), int(rng.integers(1, 4)))
            x += bw + rng.uniform(0, 0.05) * w
    else:  # hills
        prof = smooth_noise(rng, 1, pw, scale=rng.uniform(10, 30))[0] * rng.uniform(0.04, 0.12) * h
        cols = np.arange(pw)
        fill_any(
            skyline,
            np.concatenate([np.stack([cols, hz - prof], -1), [[pw, hz + 1], [0, hz + 1]]]),
            1,
        )
    return skyline


def _backdrop(rng: np.random.Generator, cam: _Camera, *, night: bool) -> _Backdrop:
    """The panorama, then the colours of asphalt, sidewalks and markings."""
    pano, pad, hz = _panorama(rng, cam, night=night)
    surface_lut = np.array(
        [[0, 0, 0], [88, 88, 92], [150, 148, 142], [230, 230, 225], [220, 180, 40]], np.float32
    ) * rng.uniform(0.8, 1.1)
    if night:
        surface_lut *= 0.18
    surface_lut = surface_lut.astype(np.float32)
    asphalt = (
        surface_lut[1]
        * (0.85 + 0.3 * smooth_noise(rng, cam.height, cam.width, scale=2.0))[..., None]
    )  # [H, W, 3]
    return _Backdrop(pano, pad, hz, surface_lut, asphalt)


_STRIP_Z = np.geomspace(0.6, 400, 40)  # depths at which a ground strip's edges bend


def _strip(
    canvas: np.ndarray,
    cam: _Camera,
    i: int,
    x0: float,
    x1: float,
    z0: float,
    z1: float,
    value: int,
) -> None:
    """Fill the ground strip ``x0 <= X <= x1``, ``z0 <= Z <= z1`` (metres) with ``value``."""
    zz = _STRIP_Z[(_STRIP_Z >= z0) & (_STRIP_Z <= z1)]
    zz = np.concatenate([[z0], zz, [z1]])
    left = cam.project(np.full_like(zz, x0), np.zeros_like(zz), zz, i)
    right = cam.project(np.full_like(zz, x1), np.zeros_like(zz), zz, i)
    fill_any(canvas, np.concatenate([left, right[::-1]]), value)


def _road_frame(backdrop: _Backdrop, cam: _Camera, i: int) -> np.ndarray:
    """Frame ``i`` before the things on the road: ndarray[H, W, 3] float32.

    The view cut from the panorama, with sidewalks, asphalt and the markings (the lane
    dashes stream past with the distance driven) painted over it.
    """
    w, h = cam.width, cam.height
    center = (
        backdrop.pad + float(cam.x_vp.max() - cam.x_vp[i]) + (w - 1) / 2,
        backdrop.hz - float(cam.y_h[i]) + (h - 1) / 2,
    )
    frame = cv2.getRectSubPix(backdrop.pano, (w, h), center)
    surf = np.zeros((h, w), np.uint8)
    _strip(surf, cam, i, -9.5, 9.5, 0.6, 400, 2)
    _strip(surf, cam, i, -7.0, 7.0, 0.6, 400, 1)
    for x0 in (-6.95, 6.8):
        _strip(surf, cam, i, x0, x0 + 0.15, 0.6, 400, 3)
    for x0 in (-0.22, 0.08):
        _strip(surf, cam, i, x0, x0 + 0.14, 0.6, 400, 4)
    for lane_x in (-3.5, 3.5):  # dashes: 3 m painted, 6 m gap, streaming past
        start = np.arange(-(cam.odo[i] % 9.0), 120.0, 9.0)
        start = start[start + 3.0 > 0.6]
        near = np.maximum(start, 0.6)
        zz = np.stack([near, near, start + 3.0, start + 3.0], -1)  # [D, 4]
        xx = lane_x + np.array([-0.07, 0.07, 0.07, -0.07])
        quads = cam.project(np.broadcast_to(xx, zz.shape), np.zeros_like(zz), zz, i)  # [D, 4, 2]
        for q in quads:
            fill(surf, q, 3)
    np.copyto(frame, backdrop.asphalt, where=(surf == 1)[..., None])
    paint = surf > 1
    frame[paint] = backdrop.surface_lut[surf[paint]]
    return frame


def _scenery(rng: np.random.Generator, cam: _Camera, *, dim: float) -> list[_Thing]:
    """Roadside trees and poles along both sides of the whole drive (unannotated occluders)."""
    things: list[_Thing] = []
    for side in (-1, 1):
        z = rng.uniform(0, 25)
        while z < 120 + cam.odo[-1]:
            x = side * rng.uniform(10, 13)
            tree = bool(rng.random() < 0.7)
            col = rng.uniform(20, 90, 3)
            if tree:
                lut = np.stack([np.zeros(3), col * 0.9 + 20, col * np.array([0.5, 1.3, 0.5])])
                parts, shades = [_TRUNK, _CROWN], [1, 2]
            else:
                lut = np.stack([np.zeros(3), np.full(3, 110.0)])
                parts, shades = [_POLE], [1]
            dist = (z - cam.odo).astype(np.float32)
            things.append(
                _Thing(-1, x, dist, 1.0, 120.0, parts, shades, (lut * dim).astype(np.float32))
            )
            z += rng.uniform(12, 30)
    return things


def _traffic(rng: np.random.Generator, cam: _Camera, *, dim: float, night: bool) -> list[_Thing]:
    """3-9 spawned objects of the imbalanced classes; vehicles that find no gap are left out."""
    v_ego = cam.v_ego
    lane_speed = {x: (rng.uniform(-14, -8) if x < 0 else v_ego + rng.uniform(-4, 4)) for x in LANES}
    lane_speed[EGO_LANE] = v_ego + rng.uniform(0.5, 2.5)  # the car ahead pulls away slowly
    occupied: dict[float, list[float]] = {}
    n_obj = int(rng.integers(3, 10))
    freq = np.asarray(ROAD_CLASS_FREQUENCIES) / np.sum(ROAD_CLASS_FREQUENCIES)
    things = []
    for _ in range(n_obj):
        label = int(rng.choice(len(ROAD_CLASSES), p=freq))
        if ROAD_CLASSES[label] == "pedestrian":
            things.append(_pedestrian(label, rng, cam, dim=dim))
            continue
        thing = _vehicle(label, rng, cam, lane_speed, occupied, dim=dim, night=night)
        if thing is not None:
            things.append(thing)
    return things


def _pedestrian(label: int, rng: np.random.Generator, cam: _Camera, *, dim: float) -> _Thing:
    """A figure walking along a sidewalk, its pixel polygons posed per frame."""
    x = float(rng.choice([-1, 1])) * rng.uniform(7.6, 9.0)
    v = float(rng.choice([-1, 1]) * rng.uniform(0.8, 1.6))
    z_rel = rng.uniform(4, 35) + np.concatenate(
        [[0.0], np.cumsum((v - cam.v_ego * cam.flow) * cam.dt)[:-1]]
    )
    height_m = rng.uniform(1.55, 1.85)
    t = cam.num_frames
    phase = 2 * np.pi * rng.uniform(0.8, 1.1) * cam.dt * np.arange(t) + rng.uniform(0, 6.3)
    pose = neutral_pose(t)
    swing = 0.45 * np.sin(phase[:, None] + np.array([0.0, np.pi]))
    pose["leg_g"] = swing.astype(np.float32)
    pose["leg_k"] = (
        0.1 + 0.5 * np.maximum(0, np.cos(phase[:, None] + np.array([0.0, np.pi])))
    ).astype(np.float32)
    pose["arm_a"] = (-0.6 * swing).astype(np.float32)
    pal = figure_palette(rng) * dim
    # the walking figure at its per-frame scale, in pixels
    px = cam.focal * height_m / np.maximum(z_rel, 2.0)
    figure = figure_polygons(pose, px, facing=1.0, view="front")
    zfar = min(90.0, cam.focal * height_m / MIN_PX)
    shades = [int(s) for s in PART_SHADES]
    return _Thing(
        label, x, z_rel.astype(np.float32), 2.0, zfar, [], shades, pal.astype(np.float32), figure
    )


def _vehicle(
    label: int,
    rng: np.random.Generator,
    cam: _Camera,
    lane_speed: dict[float, float],
    occupied: dict[float, list[float]],
    *,
    dim: float,
    night: bool,
) -> _Thing | None:
    """A vehicle in a lane (or a bicycle on a shoulder) 11 m clear of the others in it.

    ``occupied`` (start distances per lane) is updated; ``None`` when no gap was found.
    """
    name = ROAD_CLASSES[label]
    if name == "bicycle":
        x = float(rng.choice([-6.4, 6.4]))
        v = rng.uniform(3, 6) * (1 if x > 0 else -1)
    else:
        x = float(rng.choice(LANES, p=[0.2, 0.25, 0.25, 0.3]))
        v = lane_speed[x]
    z_rel = np.concatenate([[0.0], np.cumsum((v - cam.v_ego) * cam.flow * cam.dt)[:-1]])
    drift = z_rel[-1]
    lo, hi = (7.0, 40.0) if x == EGO_LANE else (-15.0, 50.0)
    if x < 0:
        lo, hi = 10.0, 45.0 - drift  # oncoming: come into view during the video
    z0 = None
    for _try in range(12):
        cand = rng.uniform(lo, hi)
        if all(abs(cand - o) > 11.0 for o in occupied.get(x, [])):
            z0 = cand
            break
    if z0 is None:
        return None
    occupied.setdefault(x, []).append(z0)
    z_rel = z0 + z_rel
    front = bool(v < 0)
    pal = _palette(rng, front=front)
    parts, shades, height_m = _vehicle_parts(name, rng, front=front)
    pal = pal * dim
    if night:
        pal[_LIGHT] = (255, 250, 225) if front else (255, 40, 30)
    zfar = min(90.0, cam.focal * height_m / MIN_PX)
    return _Thing(
        label, x, z_rel.astype(np.float32), 2.0, zfar, parts, shades, pal.astype(np.float32)
    )


_FLIP = np.array([1, -1], np.float32)  # parts are drawn with y up

#: One drawn thing of a frame: ``(y0, x0, mask ndarray[h', w'] bool, colours ndarray[h', w', 3],
#: object index or -1, lit pixels ndarray[h', w'] bool or None)``.
_Layer = tuple[int, int, np.ndarray, np.ndarray, int, np.ndarray | None]


def _layers(
    things: list[_Thing],
    index: dict[int, int],
    cam: _Camera,
    i: int,
    *,
    haze: np.ndarray,
    night: bool,
    amodal: np.ndarray,
    drawn: np.ndarray,
) -> list[_Layer]:
    """Rasterise the things in view at frame ``i``, far to near (painter's order).

    Sets the objects' full drawn pixels ``amodal (ndarray[N, H, W])`` and ``drawn
    (ndarray[N])`` of this frame; objects far away fade into the ``haze`` colour.
    """
    items = [(float(o.z[i]), o) for o in things if o.znear < o.z[i] < o.zfar]
    items.sort(key=lambda it: -it[0])
    layers: list[_Layer] = []
    for z, thing in items:
        k = index.get(id(thing), -1)
        s = cam.focal / z  # pixels per metre
        base = cam.project(thing.x, 0.0, z, i)
        if thing.figure is not None:
            polys = list(thing.figure[i] + base)
        else:
            polys = [base + s * p_ * _FLIP for p_ in thing.parts]
        crop = _raster(polys, thing.shades, cam.height, cam.width)
        if crop is None:
            continue
        y0, x0, shade = crop
        m = shade > 0
        if not m.any():
            continue
        col = thing.lut[shade]
        if k >= 0:
            fade = float(np.clip((z / thing.zfar - 0.5) / 0.5, 0, 1)) * 0.6  # haze far away
            col = col * (1 - fade) + haze * fade
            amodal[k][y0 : y0 + m.shape[0], x0 : x0 + m.shape[1]] = m
            drawn[k] = True
        layers.append((y0, x0, m, col, k, shade == _LIGHT if (night and k >= 0) else None))
    return layers


def _compose(
    frame: np.ndarray, layers: list[_Layer], visible: np.ndarray, lights: np.ndarray
) -> None:
    """Paint ``layers`` over ``frame`` far to near, and set what stays visible of each object
    (``visible (ndarray[N, H, W])``) and its lit lamps (``lights (ndarray[H, W])``)."""
    cover = np.zeros(frame.shape[:2], bool)
    for y0, x0, m, _, k, lit in reversed(layers):  # near to far: what is left visible
        region = (slice(y0, y0 + m.shape[0]), slice(x0, x0 + m.shape[1]))
        if k >= 0:
            visible[k][region] = m & ~cover[region]
        if lit is not None:
            lights[region] += lit & ~cover[region]
        cover[region] |= m
    for y0, x0, m, col, _, _ in layers:  # far to near: paint
        frame[y0 : y0 + m.shape[0], x0 : x0 + m.shape[1]][m] = col[m]


def _draw(
    things: list[_Thing], cam: _Camera, backdrop: _Backdrop, *, night: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every frame, and each object's pixels.

    Returns:
        ``(frames ndarray[T, H, W, 3] float32, amodal ndarray[N, T, H, W] bool, visible
        ndarray[N, T, H, W] bool, drawn ndarray[N, T] bool)`` for the ``N`` objects
        (``label >= 0``) of ``things`` in their order.
    """
    objects = [o for o in things if o.label >= 0]
    t, h, w, n = cam.num_frames, cam.height, cam.width, len(objects)
    frames = np.empty((t, h, w, 3), np.float32)
    lights = np.zeros((t, h, w), np.float32)
    amodal = np.zeros((n, t, h, w), bool)
    visible = np.zeros((n, t, h, w), bool)
    drawn = np.zeros((n, t), bool)
    haze = backdrop.pano[int(backdrop.hz) - 2].mean(axis=0) * (0.15 if night else 1.0)
    index = {id(o): k for k, o in enumerate(objects)}
    for i in range(t):
        frame = _road_frame(backdrop, cam, i)
        layers = _layers(
            things, index, cam, i, haze=haze, night=night, amodal=amodal[:, i], drawn=drawn[:, i]
        )
        _compose(frame, layers, visible[:, i], lights[i])
        frames[i] = frame
    if night:
        glow = np.stack([cv2.GaussianBlur(lights[i], (0, 0), 1.5) for i in range(t)])
        frames += 160 * glow[..., None] * np.array([1.0, 0.85, 0.7], np.float32)
    return frames, amodal, visible, drawn


def render_road(
    config: SynthConfig, rng: np.random.Generator, *, condition: str
) -> tuple[np.ndarray, list[RoadTrack], dict]:
    """Render one road video before sensor noise.

    Args:
        config: dataset settings.
        rng: the video's own randomness.
        condition: ``normal`` or a rare condition (``night`` changes the lighting here).

    Returns:
        (frames ndarray[T, H, W, 3] float32 RGB 0..255, one :class:`RoadTrack` per tracked
        stretch, a JSON-able dict describing the scene).
    """
    night = condition == "night"
    dim = 0.15 if night else 1.0
    cam = _camera(config, rng)
    backdrop = _backdrop(rng, cam, night=night)
    things = _scenery(rng, cam, dim=dim) + _traffic(rng, cam, dim=dim, night=night)
    frames, amodal, visible, drawn = _draw(things, cam, backdrop, night=night)
    objects = [o for o in things if o.label >= 0]
    tracks = []
    for k, o in enumerate(objects):
        _, nonempty = mask_boxes(amodal[k])
        for a, b in runs(drawn[k] & nonempty):
            tracks.append(RoadTrack(o.label, a, b, amodal[k], visible[k]))
    tracks.sort(key=lambda tr: (tr.first, tr.label))
    meta = {
        "camera": "ego",
        "jam": cam.jam,
        "stopped_frames": int((cam.flow < 0.05).sum()),
        "stopped_spans": [list(r) for r in runs(cam.flow < 0.05)],
        "objects": len(objects),
        "tracks": len(tracks),
        "horizon": float(cam.y_h.mean()),
    }
    return frames, tracks, meta
