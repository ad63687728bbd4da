"""The action kind: jointed actors performing one of six actions on textured scenes.

What tells the classes apart is the motion (see :func:`action_pose`):

====== ==========================================================================
walk   steady translation, legs and arms swinging at about 1 Hz
run    fast translation (a following camera when the actor would leave the frame),
       wide leg swing, bent elbows, forward lean, at about 1.5 Hz
jump   stays in place, the whole body hops (feet leave the ground), knees tuck
wave   stands still, one or both arms raised and oscillating at 2-3.5 Hz
spin   arms stretched out, the whole figure rotates in the image plane (cartwheel)
squat  stands in place, knees and hips flex so the body lowers and rises
====== ==========================================================================

The frequencies are those of ordinary human motion; ``SynthConfig.tempo`` scales
them and the walking speeds, so a box changes from frame to frame about as much as a
UCF-101-24 box does. Colours (clothes, skin, background) are drawn independently of the class.

Ground truth: every actor is its own tube. A tube covers the frames where the actor
performs its action; outside it the actor stands idle, visible but not annotated, like an
actor before and after a UCF-101-24 tube. Masks are the actor's *visible* pixels (other
actors in front and the occluder removed); boxes are the tight bounds of the actor's full
drawn extent inside the frame (amodal, as UCF-101-24 annotators draw them), so a box is
tight to its mask whenever nothing occludes the actor. All actors of a video perform the
video's class (as in UCF-101-24, where every tube of a video shares its label).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from vidal.data.synth._config import ACTION_CLASSES, SynthConfig
from vidal.data.synth._figure import draw_figure, figure_palette, figure_polygons, neutral_pose
from vidal.data.synth._render import fill, longest_run, mask_boxes, smooth_walk, texture
from vidal.errors import ConfigError


@dataclass
class ReplayVideo:
    """Geometry of one real annotated video, used to drive synthetic actors.

    Attributes:
        source_id: the real video's id.
        num_frames: its length.
        tubes: ``(first_frame, boxes)`` per real tube, boxes ndarray[L, 4] float32
            ``x1, y1, x2, y2`` normalised to ``[0, 1]`` by the real frame size.
    """

    source_id: str
    num_frames: int
    tubes: list[tuple[int, np.ndarray]]


@dataclass
class ActorTrack:
    """One rendered actor: its tube span and per-frame masks.

    Attributes:
        first, last: inclusive frame span of its tube.
        amodal (ndarray[T, H, W]): bool, all drawn pixels of the actor per frame.
        visible (ndarray[T, H, W]): bool, drawn pixels nothing occludes.
    """

    first: int
    last: int
    amodal: np.ndarray
    visible: np.ndarray


def _empty() -> np.ndarray:
    return np.zeros(0, np.float32)


@dataclass
class _Actor:
    """An actor while its video is planned: timing, pose, and (filled in later) its path."""

    first: int
    last: int
    pause: tuple[int, int] | None
    pose: dict[str, np.ndarray]
    step: np.ndarray  # [T] forward displacement per frame, body heights
    facing: float
    height: np.ndarray = field(default_factory=_empty)  # [T] pixels
    ground: np.ndarray = field(default_factory=_empty)  # [T] ground row in the world
    world_x: np.ndarray = field(default_factory=_empty)  # [T] world position
    x: np.ndarray = field(default_factory=_empty)  # [T] screen position
    ground_screen: np.ndarray = field(default_factory=_empty)  # [T] ground row on screen


def activity_profile(
    t: int, first: int, last: int, *, pause: tuple[int, int] | None, ramp: int = 3
) -> np.ndarray:
    """How active the actor is per frame: 1 performing, 0 idle, ramps in between.

    Args:
        t: number of frames.
        first, last: inclusive tube span; the actor is idle outside it.
        pause: optional ``(start, stop)`` frames inside the span where the actor pauses.
        ramp: frames to speed up or slow down.

    Returns:
        ndarray[T] float32 in ``[0, 1]``.
    """
    a = np.zeros(t, np.float32)
    a[first : last + 1] = 1
    if pause is not None:
        a[pause[0] : pause[1]] = 0
    if ramp > 1:
        a = np.convolve(
            np.pad(a, ramp, mode="edge"), np.ones(ramp, np.float32) / ramp, mode="same"
        )[ramp:-ramp].astype(np.float32)
    a[:first] = 0
    a[last + 1 :] = 0
    return a


def action_pose(
    label: int, act: np.ndarray, rng: np.random.Generator, *, fps: float
) -> tuple[dict[str, np.ndarray], np.ndarray, float]:
    """The pose sequence and forward speed of an actor performing class ``label``.

    The action's phase advances only while the actor is active (``act``), so a pause
    freezes the cycle and idle frames show the neutral standing pose.

    Args:
        label: index into :data:`ACTION_CLASSES`.
        act (ndarray[T]): activity profile from :func:`activity_profile`.
        rng: randomness of the action's parameters (speed, amplitude, frequency).
        fps: frame rate (frequencies are drawn in Hz); :func:`render_action` passes the
            video's frame rate divided by the config's ``tempo``.

    Returns:
        (pose dict of ``[T]``/``[T, 2]`` float32 arrays, per-frame forward displacement
        ndarray[T] in body heights, facing ``+1`` or ``-1``).
    """
    name = ACTION_CLASSES[label]
    t = len(act)
    tau = np.cumsum(act) - act[0]  # frames of activity so far, [T]
    base = neutral_pose(t)
    pose = {k: v.copy() for k, v in base.items()}
    facing = float(rng.choice([-1.0, 1.0]))
    phase0 = rng.uniform(0, 2 * np.pi)
    limb = np.array([0.0, np.pi], np.float32)  # back and front limb in anti-phase
    speed = 0.0  # body heights per frame while active
    if name in ("walk", "run"):
        fast = name == "run"
        f = rng.uniform(1.3, 1.6) / fps if fast else rng.uniform(0.8, 1.1) / fps
        stride = rng.uniform(1.5, 1.9) if fast else rng.uniform(0.75, 0.95)
        speed = stride * f
        amp = rng.uniform(0.65, 0.85) if fast else rng.uniform(0.35, 0.5)
        phi = (2 * np.pi * f * tau + phase0)[:, None] + limb  # [T, 2]
        pose["leg_g"] = amp * np.sin(phi)
        pose["leg_k"] = (0.3 if fast else 0.08) + (
            rng.uniform(1.2, 1.6) if fast else 0.55
        ) * np.maximum(0, np.cos(phi))
        pose["arm_a"] = -(0.9 if fast else 0.7) * amp * np.sin(phi)
        pose["arm_b"] = np.full((t, 2), rng.uniform(1.3, 1.6) if fast else 0.3)
        pose["lean"] = np.full(t, rng.uniform(0.15, 0.3) if fast else 0.05)
    elif name == "jump":
        f = rng.uniform(1.1, 1.7) / fps
        height = rng.uniform(0.25, 0.45)
        phi = 2 * np.pi * f * tau + phase0
        air = np.maximum(0, np.sin(phi))
        crouch = np.maximum(0, -np.sin(phi))
        pose["hop"] = height * air
        pose["leg_g"] = (0.5 * crouch + 0.35 * air)[:, None] + np.array([-0.05, 0.05])
        pose["leg_k"] = (1.0 * crouch + 0.7 * air)[:, None] + np.zeros(2)
        pose["arm_a"] = (2.6 * air - 0.5 * crouch)[:, None] + np.array([-0.1, 0.1])
        pose["lean"] = 0.35 * crouch
        speed = rng.uniform(-0.003, 0.003)
    elif name == "wave":
        f = rng.uniform(2.0, 3.5) / fps
        phi = 2 * np.pi * f * tau + phase0
        arms = [1] if rng.random() < 0.5 else [0] if rng.random() < 0.5 else [0, 1]
        for k in arms:
            pose["arm_a"][:, k] = rng.uniform(2.3, 2.7) + rng.uniform(0.3, 0.5) * np.sin(phi)
            pose["arm_b"][:, k] = 0.4 + 0.4 * np.sin(phi + 0.6)
    elif name == "spin":
        omega = facing * rng.uniform(0.6, 1.1) * 2 * np.pi / fps  # rad per frame
        pose["arm_a"] = np.tile(np.array([-1.5, 1.5], np.float32), (t, 1))
        pose["arm_b"] = np.full((t, 2), 0.05)
        pose["leg_g"] = np.tile(np.array([-0.3, 0.3], np.float32), (t, 1))
        theta = omega * tau
        wrapped = (theta + np.pi) % (2 * np.pi) - np.pi
        pose["rot"] = theta - (1 - act) * wrapped  # upright whenever idle
    elif name == "squat":
        f = rng.uniform(0.7, 1.1) / fps
        s = 0.5 - 0.5 * np.cos(2 * np.pi * f * tau + phase0)
        pose["leg_g"] = (1.3 * s)[:, None] + np.array([-0.05, 0.05])
        pose["leg_k"] = (2.3 * s)[:, None] + np.zeros(2)
        pose["lean"] = 0.55 * s
        pose["arm_a"] = (1.4 * s)[:, None] + np.array([-0.1, 0.1])
    # blend towards the neutral pose while idle (rotation handled above)
    a1, a2 = act, act[:, None]
    for key, v in pose.items():
        if key != "rot":
            w = a2 if v.ndim == 2 else a1
            pose[key] = (base[key] + w * (v - base[key])).astype(np.float32)
    pose["rot"] = pose["rot"].astype(np.float32)
    step = (speed * act).astype(np.float32)
    return pose, step, facing


def _tube_span(
    t: int, rng: np.random.Generator, config: SynthConfig, *, min_frac: float
) -> tuple[int, int]:
    """Inclusive tube span: the whole video, or a part of it (``partial_prob``)."""
    if rng.random() >= config.partial_prob:
        return 0, t - 1
    length = int(rng.integers(int(np.ceil(min_frac * t)), t + 1))
    first = int(rng.integers(0, t - length + 1))
    return first, first + length - 1


def _pause(
    first: int, last: int, rng: np.random.Generator, config: SynthConfig
) -> tuple[int, int] | None:
    length = last - first + 1
    if length < 20 or rng.random() >= config.pause_prob:
        return None
    n = int(rng.integers(int(0.15 * length), int(0.35 * length) + 1))
    start = int(rng.integers(first + 5, last - 5 - n + 2))
    return start, start + n


def _camera(
    kind: str, t: int, rng: np.random.Generator, scale: float, follow: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Camera offset per frame, ``(cam_x, cam_y)`` ndarray[T] float32 pixels."""
    zero = np.zeros(t, np.float32)
    if kind == "static":
        return zero, zero
    if kind == "shake":
        return smooth_walk(rng, t, sigma=0.6 * scale, smooth=3), smooth_walk(
            rng, t, sigma=0.4 * scale, smooth=3
        )
    if kind == "pan":
        v = rng.choice([-1, 1]) * rng.uniform(0.25, 0.8) * scale
        ramp = np.clip(np.arange(t, dtype=np.float32) / 6, 0, 1)
        cx = np.cumsum(v * ramp).astype(np.float32)
        return cx - cx[0], smooth_walk(rng, t, sigma=0.1 * scale, smooth=5)
    if kind == "follow":
        if follow is None:
            raise ConfigError("a following camera needs the trajectory it follows")
        cx = np.empty(t, np.float32)
        cx[0] = follow[0]
        for i in range(1, t):
            cx[i] = cx[i - 1] + 0.15 * (follow[i] - cx[i - 1])
        return cx - cx[0] + smooth_walk(rng, t, sigma=0.3 * scale, smooth=3), smooth_walk(
            rng, t, sigma=0.2 * scale, smooth=3
        )
    raise ConfigError(f"unknown camera motion {kind!r}; known: static, shake, pan, follow")


def _actors(
    config: SynthConfig, label: int, rng: np.random.Generator, t: int, replay: ReplayVideo | None
) -> list[_Actor]:
    """The video's actors: how many, their tube spans and pauses, their poses and steps."""
    if replay is not None:
        n_actors = len(replay.tubes)
    else:
        n_actors = 1
        if rng.random() < config.multi_actor_prob:
            n_actors = 2 if rng.random() < 0.7 else 3
    actors = []
    for j in range(n_actors):
        if replay is not None:
            first = replay.tubes[j][0]
            last = first + len(replay.tubes[j][1]) - 1
            pause = None
        else:
            first, last = _tube_span(t, rng, config, min_frac=0.45 if j == 0 else 0.3)
            pause = _pause(first, last, rng, config)
        act = activity_profile(t, first, last, pause=pause)
        pose, step, facing = action_pose(label, act, rng, fps=config.fps / config.tempo)
        actors.append(_Actor(first, last, pause, pose, step, facing))
    return actors


def _place_in_depth(
    actors: list[_Actor],
    config: SynthConfig,
    label: int,
    rng: np.random.Generator,
    t: int,
    replay: ReplayVideo | None,
) -> float:
    """Sizes, ground rows and world paths (perspective: nearer actors stand lower and are
    taller; replayed actors take the real boxes' heights and positions). Returns the horizon
    row."""
    w, h = config.width, config.height
    horizon = rng.uniform(0.05, 0.35) * h
    hop_room = 1.5 if ACTION_CLASSES[label] == "jump" else 1.08
    for j, a in enumerate(actors):
        if replay is not None:
            box = replay.tubes[j][1] * np.array([w, h, w, h], np.float32)  # [L, 4]
            idx = np.clip(np.arange(t) - a.first, 0, len(box) - 1)  # hold first/last box while idle
            box = box[idx]
            a.height = np.maximum(box[:, 3] - box[:, 1], 0.12 * h) * 0.95
            a.ground = box[:, 3].copy()
            a.x = 0.5 * (box[:, 0] + box[:, 2])
            continue
        for _ in range(20):
            ground = rng.uniform(0.62, 0.97) * h
            height = (ground - horizon) * rng.uniform(0.75, 1.0)
            if height >= 0.22 * h and ground - hop_room * height >= -0.05 * h:
                break
        else:
            ground, height = 0.95 * h, 0.9 * h / hop_room
        a.ground = np.full(t, ground, np.float32)
        a.height = np.full(t, height, np.float32)
        a.world_x = np.cumsum(a.step * height * a.facing).astype(np.float32)
        a.world_x -= a.world_x[0]
    return horizon


def _screen_range(a: _Actor, cam_x: np.ndarray, width: int) -> tuple[float, float]:
    """``(lo, hi)``: the screen offsets of ``a``'s world path that keep it in the frame
    with a margin (``lo > hi`` when none does)."""
    margin = 0.3 * float(a.height[0])
    rel = a.world_x - cam_x
    return margin - float(rel.min()), width - margin - float(rel.max())


def _place_on_screen(
    actors: list[_Actor], rng: np.random.Generator, cam_x: np.ndarray, width: int
) -> list[_Actor]:
    """Screen paths ``a.x``: the main actor anywhere it stays in the frame, each extra actor
    apart from those placed before it. An extra actor that cannot stay in the frame is left
    out of the returned list."""
    main = actors[0]
    lo, hi = _screen_range(main, cam_x, width)
    main.x = main.world_x - cam_x + (rng.uniform(lo, hi) if lo <= hi else 0.5 * (lo + hi))
    kept = [main]
    for a in actors[1:]:
        lo, hi = _screen_range(a, cam_x, width)
        if lo > hi:
            continue  # this extra actor cannot stay in the frame: leave it out
        for _ in range(10):
            x0 = rng.uniform(lo, hi)
            a.x = a.world_x - cam_x + x0
            # keep extra actors apart from the others at the start of their tubes
            if all(abs(a.x[a.first] - b.x[a.first]) > 0.35 * b.height[0] for b in kept):
                break
        kept.append(a)
    return kept


def _film(
    actors: list[_Actor],
    config: SynthConfig,
    rng: np.random.Generator,
    t: int,
    replay: ReplayVideo | None,
) -> tuple[list[_Actor], str, np.ndarray, np.ndarray]:
    """Choose the camera motion and put the actors on screen.

    Returns:
        ``(actors kept, camera kind, cam_x ndarray[T], cam_y ndarray[T])``; the kind turns
        to ``follow`` when the main actor would leave the frame of the one drawn.
    """
    scale = config.width / 128.0
    if replay is not None:
        cam_kind = "shake" if rng.random() < 0.5 * config.camera_motion_prob else "static"
    elif rng.random() < config.camera_motion_prob:
        cam_kind = str(rng.choice(["pan", "shake", "follow"], p=[0.4, 0.35, 0.25]))
    else:
        cam_kind = "static"
    if replay is None:
        main = actors[0]
        cam_x, cam_y = _camera(cam_kind, t, rng, scale, main.world_x)
        lo, hi = _screen_range(main, cam_x, config.width)
        if lo > hi:  # the main actor would leave the frame: the camera follows it
            cam_kind = "follow"
            cam_x, cam_y = _camera(cam_kind, t, rng, scale, main.world_x)
        actors = _place_on_screen(actors, rng, cam_x, config.width)
    else:
        cam_x, cam_y = _camera(cam_kind, t, rng, scale, None)
        for a in actors:
            a.x = a.x - cam_x
    for a in actors:
        a.ground_screen = a.ground - cam_y
    return actors, cam_kind, cam_x, cam_y


def _background(
    rng: np.random.Generator,
    config: SynthConfig,
    cam_x: np.ndarray,
    cam_y: np.ndarray,
    *,
    ground_row: float,
) -> tuple[np.ndarray, str]:
    """The frames before the actors: each cut from a textured world image at the camera's
    offset (a separate ground texture below ``ground_row`` in 6 of 10 videos).

    Returns:
        ``(frames ndarray[T, H, W, 3] float32, a description of the background)``.
    """
    w, h = config.width, config.height
    pad = int(8 * (w / 128.0)) + 4
    span_x = int(np.ceil(cam_x.max() - cam_x.min())) + 2 * pad
    span_y = int(np.ceil(cam_y.max() - cam_y.min())) + 2 * pad
    bw, bh = w + span_x, h + span_y
    bg, bg_kind = texture(rng, bh, bw)
    split_ground = rng.random() < 0.6
    if split_ground:
        ground_tex, _ = texture(rng, bh, bw, kind=str(rng.choice(["noise", "stripes"])))
        row = int(pad + ground_row - cam_y.min())
        rows = np.arange(bh)[:, None, None]
        bg = np.where(rows >= row, ground_tex * 0.85, bg * (0.9 + 0.2 * rows / bh))
    bg = np.ascontiguousarray(bg, dtype=np.float32)
    frames = np.empty((len(cam_x), h, w, 3), np.float32)
    ox = pad - float(cam_x.min())
    oy = pad - float(cam_y.min())
    for i in range(len(cam_x)):
        center = (ox + float(cam_x[i]) + (w - 1) / 2, oy + float(cam_y[i]) + (h - 1) / 2)
        frames[i] = cv2.getRectSubPix(bg, (w, h), center)
    return frames, bg_kind + ("+ground" if split_ground else "")


def _draw_actors(
    frames: np.ndarray, actors: list[_Actor], rng: np.random.Generator
) -> tuple[list[int], dict[int, np.ndarray]]:
    """Paint the actors over ``frames (ndarray[T, H, W, 3])`` far to near, each in its own
    random colours.

    Returns:
        ``(actor indices far to near, each actor's drawn pixels ndarray[T, H, W] bool)``.
    """
    order = sorted(range(len(actors)), key=lambda j: float(actors[j].ground[0]))
    amodal = {}
    for j in order:
        a = actors[j]
        polys = figure_polygons(a.pose, a.height, facing=a.facing)
        origin = np.stack([a.x, a.ground_screen], -1).astype(np.float32)
        shade = draw_figure(polys, origin, (frames.shape[1], frames.shape[2]))
        pal = figure_palette(rng)
        m = shade > 0
        frames[m] = pal[shade[m]]
        amodal[j] = m
    return order, amodal


def _occluder(
    frames: np.ndarray,
    main: _Actor,
    rng: np.random.Generator,
    cam_x: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, str]:
    """A pillar or a bush passing in front of the main actor during its tube (with parallax).

    Args:
        frames (ndarray[T, H, W, 3]): float32, the actors drawn.
        main: the main actor.
        rng: randomness of the occluder.
        cam_x (ndarray[T]): the camera's horizontal offset.

    Returns:
        ``(frames with the occluder painted, its mask ndarray[T, H, W] bool, its kind)``.
    """
    t, h, w, _ = frames.shape
    scale = w / 128.0
    occluder = np.zeros((t, h, w), bool)
    occ_kind = str(rng.choice(["pillar", "bush"]))
    tc = int(rng.integers(main.first, main.last + 1))
    v = rng.choice([-1, 1]) * rng.uniform(1.5, 3.5) * scale
    xs = main.x[tc] + v * (np.arange(t) - tc) - 0.5 * (cam_x - cam_x[tc])  # parallax
    color = rng.uniform(20, 235, 3).astype(np.float32)
    canvas = np.zeros((h, w), np.uint8)
    height0 = float(main.height[0])
    half = rng.uniform(0.04, 0.07) * w  # pillar half width
    bush = (rng.uniform(0.35, 0.55) * height0, rng.uniform(0.25, 0.4) * height0)  # bush radii
    ang = np.linspace(0, 2 * np.pi, 18, endpoint=False)
    for i in range(t):
        canvas[:] = 0
        if occ_kind == "pillar":
            x0, x1 = xs[i] - half, xs[i] + half
            poly = np.array([[x0, -1], [x1, -1], [x1, h + 1], [x0, h + 1]], np.float32)
        else:
            cy = float(main.ground_screen[i]) - 0.5 * bush[1]
            poly = np.stack([xs[i] + bush[0] * np.cos(ang), cy + bush[1] * np.sin(ang)], -1)
        fill(canvas, poly, 1)
        occluder[i] = canvas > 0
    xx = np.arange(w, dtype=np.float32)
    shade_x = 0.65 + 0.35 * np.cos(
        np.clip((xx[None, :] - xs[:, None]) / (0.08 * w), -1.5, 1.5)
    )  # [T, W]
    tint = color * shade_x[:, None, :, None]  # [T, 1, W, 3]
    frames = np.where(occluder[..., None], np.broadcast_to(tint, frames.shape), frames)
    return frames, occluder, occ_kind


def _actor_tracks(
    actors: list[_Actor], order: list[int], amodal: dict[int, np.ndarray], occluder: np.ndarray
) -> list[ActorTrack]:
    """One track per actor drawn inside the frame during its tube; visible = drawn, not
    covered by nearer actors (``order`` is far to near) or the occluder."""
    tracks = []
    cover = occluder.copy()
    visible = {}
    for j in reversed(order):  # near to far
        visible[j] = amodal[j] & ~cover
        cover |= amodal[j]
    for j, a in enumerate(actors):
        _, nonempty = mask_boxes(amodal[j][a.first : a.last + 1])
        lo, hi = longest_run(nonempty)
        if hi < lo:
            continue
        tracks.append(ActorTrack(a.first + lo, a.first + hi, amodal[j], visible[j]))
    return tracks


def render_action(
    config: SynthConfig,
    label: int,
    rng: np.random.Generator,
    *,
    replay: ReplayVideo | None = None,
) -> tuple[np.ndarray, list[ActorTrack], dict]:
    """Render one action video before capture effects.

    Args:
        config: dataset settings (frame size, rates, probabilities).
        label: the video's class, performed by all its actors.
        rng: the video's own randomness.
        replay: real geometry to drive the actors (length, tubes, box trajectories).

    Returns:
        (frames ndarray[T, H, W, 3] float32 RGB 0..255, one :class:`ActorTrack` per
        annotated actor, a JSON-able dict describing the scene).
    """
    h, w = config.height, config.width
    t = (
        replay.num_frames
        if replay is not None
        else int(rng.integers(config.min_frames, config.max_frames + 1))
    )
    actors = _actors(config, label, rng, t, replay)
    horizon = _place_in_depth(actors, config, label, rng, t, replay)
    actors, cam_kind, cam_x, cam_y = _film(actors, config, rng, t, replay)
    ground_row = horizon + float(actors[0].height[0]) * 0.15
    frames, background = _background(rng, config, cam_x, cam_y, ground_row=ground_row)
    order, amodal = _draw_actors(frames, actors, rng)
    occluder = np.zeros((t, h, w), bool)
    occ_kind = None
    if replay is None and rng.random() < config.occlusion_prob:
        frames, occluder, occ_kind = _occluder(frames, actors[0], rng, cam_x)
    tracks = _actor_tracks(actors, order, amodal, occluder)
    if not tracks:  # an actor always stands inside the frame, so this does not happen
        return frames, tracks, {"camera": cam_kind, "actors": 0}
    meta = {
        "camera": cam_kind,
        "background": background,
        "actors": len(tracks),
        "pauses": [list(a.pause) if a.pause is not None else None for a in actors],
        "occluder": occ_kind,
        "occluded_frames": int(
            np.any([(occluder & tr.amodal).any(axis=(1, 2)) for tr in tracks], axis=0).sum()
        ),
    }
    if replay is not None:
        meta["replay_source"] = replay.source_id
    return frames, tracks, meta
