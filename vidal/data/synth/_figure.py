"""A jointed human figure (torso, head, two-segment arms and legs) and its drawing.

Poses are dicts of per-frame angles in radians (arrays ``[T]`` or ``[T, 2]`` for the back
and front limb): ``lean`` (torso tilt forward), ``arm_a`` (shoulder: 0 hangs down, positive
swings forward), ``arm_b`` (elbow flex), ``leg_g`` (hip), ``leg_k`` (knee flex), ``hop``
(feet above ground, in body heights) and ``rot`` (in-plane rotation of the whole figure).
"""

from __future__ import annotations

import cv2
import numpy as np

from vidal.data.synth._render import SHIFT, circle_polys, ellipse_polys

#: Shade index of each drawn part, back to front (0 is "not drawn").
#: 1 torso, 2 head, 3 front arm, 4 front leg, 5 back arm, 6 back leg.
PART_SHADES = np.array([5, 5, 6, 6, 1, 2, 4, 4, 3, 3], dtype=np.uint8)
NUM_SHADES = 7


def neutral_pose(t: int) -> dict[str, np.ndarray]:
    """A relaxed standing pose repeated over ``t`` frames."""
    return {
        "lean": np.full(t, 0.03, np.float32),
        "arm_a": np.tile(np.array([-0.1, 0.1], np.float32), (t, 1)),
        "arm_b": np.full((t, 2), 0.2, np.float32),
        "leg_g": np.tile(np.array([-0.07, 0.07], np.float32), (t, 1)),
        "leg_k": np.full((t, 2), 0.05, np.float32),
        "hop": np.zeros(t, np.float32),
        "rot": np.zeros(t, np.float32),
    }


def _limb(angle: np.ndarray, facing: float) -> np.ndarray:
    """Unit direction of a limb at ``angle`` (0 = straight down): ndarray[..., 2]."""
    return np.stack([np.sin(angle) * facing, np.cos(angle)], axis=-1)


def figure_polygons(
    pose: dict[str, np.ndarray], height: np.ndarray, *, facing: float, view: str = "side"
) -> np.ndarray:
    """The figure's part polygons relative to its ground point.

    Args:
        pose: per-frame angles (see the module docstring), arrays ``[T]`` / ``[T, 2]``.
        height (ndarray[T] | float): standing height in pixels.
        facing: ``+1`` faces right, ``-1`` left (side view).
        view: ``"side"`` (limbs swing in the image plane) or ``"front"`` (limbs swing
            towards the camera and are foreshortened).

    Returns:
        ndarray[T, P, n, 2] float32 polygons (``P = len(PART_SHADES)``), in pixels, with
        the origin on the ground below the pelvis (y grows downwards).
    """
    lean = pose["lean"]
    t = len(lean)
    h = np.broadcast_to(np.asarray(height, np.float32), (t,))[:, None]  # [T, 1]
    h2 = h[:, None]  # [T, 1, 1]
    pelvis = np.zeros((t, 2), np.float32)
    if view == "side":
        up = np.stack([np.sin(lean) * facing, -np.cos(lean)], axis=-1)  # [T, 2]
        neck = pelvis + 0.33 * h * up
        head = neck + 0.115 * h * up
        shoulder = np.repeat((neck - 0.035 * h * up)[:, None], 2, axis=1)  # [T, 2, 2]
        hip = np.repeat(pelvis[:, None], 2, axis=1)
        arm_dir = _limb(pose["arm_a"] - lean[:, None], facing)
        fore_dir = _limb(pose["arm_a"] - lean[:, None] + pose["arm_b"], facing)
        thigh_dir = _limb(pose["leg_g"], facing)
        shin_dir = _limb(pose["leg_g"] - pose["leg_k"], facing)
    else:
        up = np.tile(np.array([0.0, -1.0], np.float32), (t, 1))
        neck = pelvis + 0.33 * h * up * np.cos(lean)[:, None]
        head = neck + 0.115 * h * up
        side = np.array([[-1.0, 0.0], [1.0, 0.0]], np.float32)  # [2 limbs, 2]
        shoulder = neck[:, None] + 0.09 * h2 * side + 0.035 * h2 * np.array([0.0, 1.0], np.float32)
        hip = pelvis[:, None] + 0.05 * h2 * side

        def fore(angle: np.ndarray, splay: float) -> np.ndarray:
            return np.stack(
                [np.broadcast_to(splay * side[:, 0], angle.shape), np.abs(np.cos(angle))], -1
            )

        arm_dir = fore(pose["arm_a"], 0.15)
        fore_dir = fore(pose["arm_a"] + pose["arm_b"], 0.1)
        thigh_dir = fore(pose["leg_g"], 0.05)
        shin_dir = fore(pose["leg_g"] - pose["leg_k"], 0.0)
    elbow = shoulder + 0.17 * h2 * arm_dir
    hand = elbow + 0.16 * h2 * fore_dir
    knee = hip + 0.245 * h2 * thigh_dir
    foot = knee + 0.245 * h2 * shin_dir
    # stand on the lowest foot, then hop
    ground = foot[..., 1].max(axis=1) + 0.035 * h[:, 0]  # [T]
    lift = np.stack([np.zeros(t, np.float32), -ground - pose["hop"] * h[:, 0]], -1)[
        :, None
    ]  # [T, 1, 2]
    hh = h[:, 0]
    polys = np.stack(
        [
            ellipse_polys(shoulder[:, 0], elbow[:, 0], 0.07 * hh),
            ellipse_polys(elbow[:, 0], hand[:, 0], 0.06 * hh),
            ellipse_polys(hip[:, 0], knee[:, 0], 0.09 * hh),
            ellipse_polys(knee[:, 0], foot[:, 0], 0.075 * hh),
            ellipse_polys(pelvis + 0.02 * h * up, neck, 0.17 * hh),
            circle_polys(head, 0.09 * hh),
            ellipse_polys(hip[:, 1], knee[:, 1], 0.09 * hh),
            ellipse_polys(knee[:, 1], foot[:, 1], 0.075 * hh),
            ellipse_polys(shoulder[:, 1], elbow[:, 1], 0.07 * hh),
            ellipse_polys(elbow[:, 1], hand[:, 1], 0.06 * hh),
        ],
        axis=1,
    )  # [T, P, n, 2]
    polys = polys + lift[:, None]
    rot = pose["rot"]
    if np.any(rot != 0):
        pivot = np.stack([np.zeros(t, np.float32), -0.5 * hh], -1)[:, None, None]  # [T, 1, 1, 2]
        c, s = np.cos(rot)[:, None, None], np.sin(rot)[:, None, None]
        d = polys - pivot
        polys = pivot + np.stack([c * d[..., 0] - s * d[..., 1], s * d[..., 0] + c * d[..., 1]], -1)
    return polys.astype(np.float32)


def draw_figure(
    polys: np.ndarray,
    origin: np.ndarray,
    size: tuple[int, int],
    *,
    shades: np.ndarray = PART_SHADES,
) -> np.ndarray:
    """Rasterise a figure into per-frame shade maps.

    Args:
        polys (ndarray[T, P, n, 2]): part polygons from :func:`figure_polygons`.
        origin (ndarray[T, 2]): screen position of the figure's ground point per frame.
        size: ``(H, W)`` of the frame.
        shades (ndarray[P]): shade index written for each part.

    Returns:
        ndarray[T, H, W] uint8: 0 where the figure is not drawn, else the part's shade.
        ``> 0`` is the exact pixel mask of the figure.
    """
    t, n_parts = polys.shape[:2]
    out = np.zeros((t, *size), np.uint8)
    pts = ((polys + origin[:, None, None, :]) * (1 << SHIFT)).round().astype(np.int32)
    values = [int(s) for s in shades]
    for i in range(t):
        for p in range(n_parts):
            cv2.fillConvexPoly(out[i], pts[i, p], values[p], cv2.LINE_8, SHIFT)
    return out


def figure_palette(rng: np.random.Generator) -> np.ndarray:
    """Random clothing and skin colours, independent of any class: ndarray[NUM_SHADES, 3] float32."""
    shirt = rng.uniform(15, 240, 3)
    trousers = rng.uniform(15, 200, 3)
    skin = np.array([224, 172, 130]) * rng.uniform(0.35, 1.05)
    sleeves = shirt if rng.random() < 0.6 else skin
    pal = np.zeros((NUM_SHADES, 3), np.float32)
    pal[1], pal[2], pal[3], pal[4] = shirt, skin, sleeves, trousers
    pal[5], pal[6] = 0.75 * sleeves, 0.75 * trousers  # far limbs in shadow
    return np.clip(pal, 0, 255)
