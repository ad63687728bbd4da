"""Settings of the synthetic video generator and the plan it derives from them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidal.errors import ConfigError

__all__ = [
    "ACTION_CLASSES",
    "ROAD_CLASSES",
    "ROAD_CLASS_FREQUENCIES",
    "KINDS",
    "LAYOUTS",
    "SynthConfig",
    "VideoPlan",
    "plan_dataset",
]

#: Action classes, told apart by how the actor moves (never by colour).
ACTION_CLASSES: tuple[str, ...] = ("walk", "run", "jump", "wave", "spin", "squat")
#: Object classes of the road kind.
ROAD_CLASSES: tuple[str, ...] = ("car", "truck", "pedestrian", "motorcycle", "bicycle")
#: How often a road object of each class is spawned (cars common, bicycles rare).
ROAD_CLASS_FREQUENCIES: tuple[float, ...] = (0.58, 0.15, 0.14, 0.08, 0.05)
KINDS: tuple[str, ...] = ("action", "road")
LAYOUTS: tuple[str, ...] = ("vidal", "ucf101-24", "imagenet-vid")
#: Rare capture conditions per kind; each rare video gets exactly one of them.
RARE_CONDITIONS: dict[str, tuple[str, ...]] = {
    "action": ("dark", "noise", "blur"),
    "road": ("night", "rain", "fog"),
}


@dataclass(frozen=True)
class SynthConfig:
    """What synthetic dataset to generate. Every field has a default that works.

    Two configs that compare equal generate byte-identical annotations.

    Args:
        kind: ``"action"`` (one action class per video, actors with box and mask tubes,
            as in UCF-101-24) or ``"road"`` (road scenes with tracked objects of several
            classes, as in ImageNet VID).
        videos: number of videos.
        seed: seed of every random choice.
        width, height: frame size in pixels (even numbers, at least 32).
        min_frames, max_frames: video lengths are drawn uniformly from this range
            (ignored with ``replay``, where the real video lengths are used).
        fps: frames per second of the written videos.
        tempo: how fast action actors move, as a share of ordinary human speed at ``fps``
            (action frequencies are drawn in Hz, walking speeds in body heights per second,
            and both are multiplied by ``tempo``). A stick figure's box changes more per unit
            of motion than a real person's loosely drawn box: at ``tempo=1`` the mean IoU of
            a tube's box with its box 1 / 2 / 5 frames later is 0.83 / 0.72 / 0.55, against
            0.93 / 0.87 / 0.75 over the 4458 tubes of UCF-101-24's ``pyannot.pkl``. The
            default ``0.25`` gives 0.92 / 0.86 / 0.71, so boxes interpolated between sparse
            labeled frames are about as good as on the real videos.
        layout: ``"vidal"`` (``annotations.json``), ``"ucf101-24"`` (``UCF101v2-GT.pkl``)
            or ``"imagenet-vid"`` (ILSVRC ``Annotations/VID`` XML).
        test_fraction: share of videos in the ``test`` split (stratified by class for
            the action kind); the rest are ``train``.
        class_skew: exponent ``s`` of the class frequencies ``p_k ~ (k + 1) ** -s`` of the
            action kind, in the order of :data:`ACTION_CLASSES` (0 gives balanced classes).
        multi_actor_prob: share of action videos with two or three actors.
        occlusion_prob: share of action videos where an occluder passes over the actors.
        camera_motion_prob: share of action videos with a moving camera (pan, shake or
            follow); fast actors may force a following camera regardless.
        pause_prob: chance that an actor pauses (stands still) inside its tube.
        partial_prob: chance that an actor's tube starts after the first frame and ends
            before the last (the actor stands idle, unannotated, outside its tube).
        jam_prob: share of road videos with a traffic jam (everything stops a while).
        rare_prob: share of videos with a rare condition (dark, sensor noise, blur for
            actions; night, rain, fog for roads).
        replay: path to a UCF-101-24 ``pyannot.pkl``; action videos then take their
            length, tube timing, actor count and box trajectories from random real
            videos (rescaled to ``width x height``).
        crf: x264 constant rate factor of the written MP4 files (lower is better).
    """

    kind: str = "action"
    videos: int = 50
    seed: int = 0
    width: int = 128
    height: int = 96
    min_frames: int = 40
    max_frames: int = 80
    fps: float = 25.0
    tempo: float = 0.25
    layout: str = "vidal"
    test_fraction: float = 0.3
    class_skew: float = 1.0
    multi_actor_prob: float = 0.3
    occlusion_prob: float = 0.3
    camera_motion_prob: float = 0.5
    pause_prob: float = 0.4
    partial_prob: float = 0.6
    jam_prob: float = 0.25
    rare_prob: float = 0.12
    replay: str | None = None
    crf: int = 18

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"unknown synth kind {self.kind!r}; known kinds: {list(KINDS)}")
        if self.layout not in LAYOUTS:
            raise ConfigError(f"unknown layout {self.layout!r}; known layouts: {list(LAYOUTS)}")
        if self.videos < 1:
            raise ConfigError(f"videos must be at least 1, got {self.videos}")
        for name in ("width", "height"):
            v = getattr(self, name)
            if v < 32 or v % 2:
                raise ConfigError(
                    f"{name} must be an even number >= 32 (H.264 needs even sizes), got {v}"
                )
        if not 8 <= self.min_frames <= self.max_frames:
            raise ConfigError(
                f"need 8 <= min_frames <= max_frames, got min_frames={self.min_frames}, "
                f"max_frames={self.max_frames}"
            )
        if not self.fps > 0:
            raise ConfigError(f"fps must be positive, got {self.fps}")
        if not self.tempo > 0:
            raise ConfigError(f"tempo must be positive, got {self.tempo}")
        for name in (
            "test_fraction",
            "multi_actor_prob",
            "occlusion_prob",
            "camera_motion_prob",
            "pause_prob",
            "partial_prob",
            "jam_prob",
            "rare_prob",
        ):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"{name} must lie in [0, 1], got {v}")
        if self.class_skew < 0:
            raise ConfigError(f"class_skew must be >= 0, got {self.class_skew}")
        if not 0 <= self.crf <= 51:
            raise ConfigError(f"crf must lie in 0..51, got {self.crf}")
        if self.replay is not None and self.kind != "action":
            raise ConfigError("replay drives actors with real action tubes: it needs kind='action'")

    @property
    def class_names(self) -> tuple[str, ...]:
        """The class names of this kind."""
        return ACTION_CLASSES if self.kind == "action" else ROAD_CLASSES


@dataclass(frozen=True)
class VideoPlan:
    """What the dataset-level draw decided for one video.

    Attributes:
        index: position of the video in the dataset.
        video_id: its identifier (``<Class>/v_<Class>_gGG_c01`` for actions, like
            UCF-101, one group per video; ``road_NNNNN`` for roads).
        label: action class index, or ``None`` for road videos.
        condition: ``"normal"`` or one of the rare conditions of the kind.
        split: ``"train"`` or ``"test"``.
    """

    index: int
    video_id: str
    label: int | None
    condition: str
    split: str


def _quota(n: int, p: np.ndarray) -> np.ndarray:
    """Largest-remainder split of ``n`` items by probabilities ``p`` (ndarray[K]) -> ndarray[K] int."""
    raw = n * p / p.sum()
    counts = np.floor(raw).astype(np.int64)
    floor = 1 if n >= len(p) else 0  # every class present when there is room for it
    counts = np.maximum(counts, floor)
    while counts.sum() > n:
        excess = np.where(counts > floor, counts - raw, -np.inf)
        counts[np.argmax(excess)] -= 1
    while counts.sum() < n:
        counts[np.argmax(raw - counts)] += 1
    return counts


def class_frequencies(config: SynthConfig) -> np.ndarray:
    """ndarray[K] float64: the share of action videos of each class (sums to 1)."""
    k = np.arange(len(ACTION_CLASSES), dtype=np.float64)
    p = (k + 1.0) ** -config.class_skew
    return p / p.sum()


def plan_dataset(config: SynthConfig) -> list[VideoPlan]:
    """Decide each video's class, rare condition, split and id, deterministically.

    Class counts follow :func:`class_frequencies` exactly (largest remainder, every class
    at least once when there are enough videos); ``round(rare_prob * videos)`` videos get
    a rare condition; the test split takes ``test_fraction`` of each class.

    Returns:
        One :class:`VideoPlan` per video, in dataset order.
    """
    rng = np.random.default_rng([config.seed, 0x5EED])
    n = config.videos
    if config.kind == "action":
        counts = _quota(n, class_frequencies(config))
        labels: list[int | None] = [
            int(x) for x in rng.permutation(np.repeat(np.arange(len(counts)), counts))
        ]
    else:
        labels = [None] * n
    conditions = ["normal"] * n
    n_rare = int(round(config.rare_prob * n))
    rare = RARE_CONDITIONS[config.kind]
    for j, i in enumerate(rng.permutation(n)[:n_rare]):
        conditions[int(i)] = rare[j % len(rare)]
    splits = ["train"] * n
    groups: dict[int | None, list[int]] = {}
    for i, lab in enumerate(labels):
        groups.setdefault(lab, []).append(i)
    for members in groups.values():
        n_test = int(round(config.test_fraction * len(members)))
        if 0 < config.test_fraction < 1 and len(members) >= 2:
            n_test = min(max(n_test, 1), len(members) - 1)
        for i in rng.permutation(members)[:n_test]:
            splits[int(i)] = "test"
    plans = []
    seen: dict[int, int] = {}
    for i in range(n):
        lab = labels[i]
        if lab is None:
            vid = f"road_{i:05d}"
        else:
            k = seen.get(lab, 0)
            seen[lab] = k + 1
            name = ACTION_CLASSES[lab].capitalize()
            vid = f"{name}/v_{name}_g{k + 1:02d}_c01"  # one group per video: splits never share a group
        plans.append(VideoPlan(i, vid, lab, conditions[i], splits[i]))
    return plans
