"""Several annotators' labels per item: the crowd's soft labels and where to ask for more.

*Active learning on subjective affective frames from a therapeutic game* (the affective-frame
study, seed 000; Experiment 2) labels subjective data with a crowd: "we sample 1 label for
all images. For the remainder of labels, we sort the remaining frames by decreasing entropy
of the crowd label distribution. For the frames in the top 10th percentile [...] we sample 6 additional times (7 samples total). For the frames
in the 10th through 25th percentile, we sample 4 additional times (5 samples total). For
frames in the 25th through 65th percentile, we sample 2 additional times (3 samples total).
The remaining frames do not receive additional labels" (``N + 6 0.1 N + 4 0.15 N + 2 0.4 N =
3 N`` labels a round), and trains on the crowd's distribution as a soft target.

- :class:`CrowdPool`: the labels each item (a frame, or a whole video) got, who gave them,
  what they cost (each label costs ``label_cost``); the soft label ``q_k = n_k / n`` and its
  entropy ``H(q) = -sum_k q_k log q_k``; saved as its own JSON file beside the
  :class:`~vidal.pool.LabelPool` (whose file format does not change).
- :class:`CrowdTiers` and :func:`allocate_labels`: the paper's tiers as configurable
  ``(fraction, labels)`` pairs, items ranked by a score (the crowd entropy, or the model's),
  every item getting at least ``rest`` labels; tiers that do not give the budget are an error.
- :class:`SimulatedCrowd`: a seeded crowd that draws each label from the item's distribution;
  :func:`crowd_distributions` makes such distributions around known classes.
- :func:`export_crowd_tasks` asks people for the labels (a CSV with one row per label to give,
  and for frames one CVAT for images 1.1 file per pass, one tag per image); the
  ``import_crowd_*`` functions read them back.
- Training on the soft labels: :func:`vidal.train.action.train_action_model` with
  ``class_targets=crowd.video_soft_labels()`` (the loss is :func:`losses.soft_margin_loss`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import entropy as _entropy

from vidal._io import atomic_write_bytes, atomic_write_json
from vidal.data.annotations import VideoDataset
from vidal.errors import AnnotationError, BudgetError, ConfigError, VidalError
from vidal.oracle import cvat_document, task_image_names, write_task_images

__all__ = [
    "Item",
    "CrowdPool",
    "CrowdTiers",
    "allocate_labels",
    "SimulatedCrowd",
    "crowd_distributions",
    "export_crowd_tasks",
    "import_crowd_csv",
    "import_crowd_cvat",
]

#: an item to label: ``(video_id, frame)``, 0-based frame, or ``(video_id, None)`` for the video
Item = tuple[str, int | None]


def _item(video_id: str, frame: int | None) -> Item:
    return (str(video_id), None if frame is None else int(frame))


def _sort_key(item: Item) -> tuple[str, int]:
    return (item[0], -1 if item[1] is None else item[1])


class CrowdPool:
    """Every label each item got from the crowd, and what they cost.

    Args:
        num_classes: ``K``; labels are class indices ``0 .. K-1``.
        label_cost: cost of one label (each label of each annotator counts).

    Example:
        >>> crowd = CrowdPool(3)
        >>> crowd.add("v", [0, 0, 1, 0])
        4.0
        >>> crowd.soft_labels([("v", None)]).tolist(), round(float(crowd.entropy([("v", None)])[0]), 4)
        ([[0.75, 0.25, 0.0]], 0.5623)
    """

    def __init__(self, num_classes: int, *, label_cost: float = 1.0) -> None:
        if num_classes < 1 or not label_cost >= 0:
            raise ConfigError(
                f"num_classes={num_classes} must be >= 1 and label_cost={label_cost} >= 0"
            )
        self.num_classes = int(num_classes)
        self.label_cost = float(label_cost)
        self.labels: dict[Item, list[int]] = {}
        self.annotators: dict[Item, list[str | None]] = {}
        self.spent = 0.0

    def add(
        self,
        video_id: str,
        labels: Iterable[int],
        *,
        frame: int | None = None,
        annotators: Sequence[str | None] | None = None,
    ) -> float:
        """Add labels of the item ``(video_id, frame)``; returns their cost.

        Args:
            video_id: the video.
            labels: class indices, one per label given (repeats are separate labels).
            frame: the frame, or None for a video-level label.
            annotators: who gave each label (None: unknown).
        """
        new = [int(x) for x in labels]
        bad = [x for x in new if not 0 <= x < self.num_classes]
        if bad:
            raise VidalError(
                f"crowd label {bad[0]} of {video_id!r} outside 0..{self.num_classes - 1}"
            )
        who = list(annotators) if annotators is not None else [None] * len(new)
        if len(who) != len(new):
            raise VidalError(f"{len(new)} labels of {video_id!r} but {len(who)} annotators")
        item = _item(video_id, frame)
        self.labels.setdefault(item, []).extend(new)
        self.annotators.setdefault(item, []).extend(who)
        cost = self.label_cost * len(new)
        self.spent += cost
        return cost

    @property
    def items(self) -> list[Item]:
        """The items with a label, sorted (video id, then the video before its frames)."""
        return sorted(self.labels, key=_sort_key)

    @property
    def num_labels(self) -> int:
        return sum(len(v) for v in self.labels.values())

    def count(self, video_id: str, frame: int | None = None) -> int:
        """How many labels the item has."""
        return len(self.labels.get(_item(video_id, frame), []))

    def votes(self, items: Sequence[Item] | None = None) -> np.ndarray:
        """int64 ``ndarray[N, K]``: labels per class of each item (default :attr:`items`)."""
        items = self.items if items is None else [_item(*i) for i in items]
        out = np.zeros((len(items), self.num_classes), dtype=np.int64)
        for row, item in enumerate(items):
            np.add.at(out[row], np.asarray(self.labels.get(item, []), dtype=np.int64), 1)
        return out

    def soft_labels(self, items: Sequence[Item] | None = None, *, prior: float = 0.0) -> np.ndarray:
        """float64 ``ndarray[N, K]``: the crowd's distribution ``(n_k + prior) / (n + K prior)``.

        Raises:
            VidalError: an item without labels when ``prior`` is 0 (no distribution).
        """
        items = self.items if items is None else [_item(*i) for i in items]
        counts = self.votes(items) + float(prior)
        totals = counts.sum(axis=1, keepdims=True)
        if (totals <= 0).any():
            item = items[int(np.flatnonzero(totals[:, 0] <= 0)[0])]
            raise VidalError(f"item {item} has no crowd label (give a prior > 0 to allow it)")
        return counts / totals

    def entropy(self, items: Sequence[Item] | None = None) -> np.ndarray:
        """float64 ``ndarray[N]``: ``H(q) = -sum_k q_k log q_k`` (nats) of each item's labels;
        0 for an item without labels (nothing is known yet)."""
        counts = self.votes(items).astype(np.float64)
        has = counts.sum(axis=1) > 0
        out = np.zeros(len(counts))
        if has.any():
            out[has] = _entropy(counts[has], axis=1)  # normalises the counts
        return out

    def majority(
        self, items: Sequence[Item] | None = None, *, rng: np.random.Generator
    ) -> np.ndarray:
        """int64 ``ndarray[N]``: each item's most frequent label, ties broken at random
        (the paper's "majority voting, with ties broken randomly"); -1 without labels."""
        counts = self.votes(items)
        top = (counts == counts.max(axis=1, keepdims=True)) & (counts > 0)
        noise = np.where(top, rng.random(counts.shape), -1.0)
        return np.where(top.any(axis=1), noise.argmax(axis=1), -1).astype(np.int64)

    def video_soft_labels(self) -> dict[str, np.ndarray]:
        """Video id -> float64 ``ndarray[K]`` soft label of every video-level item (for
        ``train_action_model(class_targets=...)``)."""
        videos = [i for i in self.items if i[1] is None]
        return dict(zip((v for v, _ in videos), self.soft_labels(videos), strict=True))

    # ------------------------------------------------------------------ persistence
    def state_dict(self) -> dict:
        return {
            "format": "vidal-crowd",
            "version": 1,
            "num_classes": self.num_classes,
            "label_cost": self.label_cost,
            "spent": self.spent,
            "items": [
                {
                    "video": v,
                    "frame": f,
                    "labels": self.labels[(v, f)],
                    "annotators": self.annotators[(v, f)],
                }
                for v, f in self.items
            ],
        }

    @classmethod
    def from_state_dict(cls, state: Mapping) -> CrowdPool:
        if state.get("format") != "vidal-crowd":
            raise AnnotationError("not a vidal crowd-label state (missing format 'vidal-crowd')")
        crowd = cls(int(state["num_classes"]), label_cost=float(state["label_cost"]))
        for row in state["items"]:
            crowd.add(row["video"], row["labels"], frame=row["frame"], annotators=row["annotators"])
        crowd.spent = float(state["spent"])
        return crowd

    def save(self, path: str | os.PathLike) -> Path:
        """Write the crowd labels as JSON, atomically."""
        return atomic_write_json(path, self.state_dict(), indent=None)

    @classmethod
    def load(cls, path: str | os.PathLike) -> CrowdPool:
        path = Path(path)
        try:
            state = json.loads(path.read_text())
            return cls.from_state_dict(state)
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise AnnotationError(f"{path}: cannot read crowd labels: {e}") from e
        except VidalError as e:
            raise AnnotationError(f"{path}: {e}") from e

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CrowdPool):
            return NotImplemented
        return self.state_dict() == other.state_dict()

    def __repr__(self) -> str:
        return (
            f"CrowdPool(items={len(self.labels)}, labels={self.num_labels}, "
            f"classes={self.num_classes}, spent={self.spent:g})"
        )


@dataclass(frozen=True)
class CrowdTiers:
    """How many labels an item gets in a round, by its rank (highest score first).

    The paper: the top 10 % of items get 7 labels, the next 15 % 5, the next 40 % 3 and the
    rest 1 (``3 N`` labels for ``N`` items). Tier ``i`` covers ranks ``round(N c_{i-1}) ..
    round(N c_i) - 1`` with ``c_i`` the cumulative fractions (halves round up), so every item
    is in exactly one tier.

    Args:
        tiers: ``(fraction of the items, labels each)`` from the top rank down.
        rest: labels of every item below the tiers (at least 1: every item gets a label).

    Example:
        >>> CrowdTiers().per_item(20).tolist()
        [7, 7, 5, 5, 5, 3, 3, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1]
        >>> CrowdTiers().total(20)
        60
    """

    tiers: tuple[tuple[float, int], ...] = ((0.10, 7), (0.15, 5), (0.40, 3))
    rest: int = 1

    def __post_init__(self) -> None:
        tiers = tuple((float(f), int(n)) for f, n in self.tiers)
        object.__setattr__(self, "tiers", tiers)
        fractions = [f for f, _ in tiers]
        if any(not 0 < f <= 1 for f in fractions) or sum(fractions) > 1 + 1e-9:
            raise ConfigError(
                f"crowd tier fractions {fractions} must each be in (0, 1] and sum to at most 1"
            )
        if self.rest < 1 or any(n < 1 for _, n in tiers):
            raise ConfigError(
                f"every item needs at least one label: rest={self.rest}, tier labels "
                f"{[n for _, n in tiers]} must all be >= 1"
            )

    def sizes(self, n: int) -> np.ndarray:
        """int64 ``ndarray[len(tiers) + 1]``: items in each tier, then in the rest."""
        cum = np.floor(np.cumsum([f for f, _ in self.tiers]) * n + 0.5).astype(np.int64)
        bounds = np.concatenate([[0], np.minimum(cum, n), [n]])
        return np.diff(bounds)

    def per_item(self, n: int) -> np.ndarray:
        """int64 ``ndarray[n]``: labels of the item at each rank, best rank first."""
        counts = [n_labels for _, n_labels in self.tiers] + [self.rest]
        return np.repeat(np.asarray(counts, dtype=np.int64), self.sizes(n))

    def total(self, n: int) -> int:
        """Labels a round gives ``n`` items."""
        return int(self.per_item(n).sum())


def allocate_labels(
    scores: np.ndarray,
    *,
    tiers: CrowdTiers = CrowdTiers(),
    budget: int | None = None,
    rng: np.random.Generator,
) -> np.ndarray:
    """Labels to ask of the crowd for each item this round (seed 000, Experiment 2).

    Items are ranked by ``scores`` (highest first; the crowd entropy
    :meth:`CrowdPool.entropy`, or the model's entropy before any label), ties in random
    order from ``rng``, and the ranks get :meth:`CrowdTiers.per_item`.

    Args:
        scores (ndarray[N]): finite score of each item.
        tiers: labels per rank.
        budget: labels the round must give; the tiers must give exactly this many.
        rng: breaks ties.

    Returns:
        int64 ``ndarray[N]``: labels for each item (at least ``tiers.rest``).

    Raises:
        BudgetError: the tiers give another number of labels than ``budget``.

    Example:
        >>> allocate_labels(np.array([0.1, 0.9, 0.5, 0.0]), budget=9, rng=np.random.default_rng(0),
        ...                 tiers=CrowdTiers(((0.25, 4), (0.5, 2)))).tolist()
        [2, 4, 2, 1]
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or not np.isfinite(scores).all():
        raise VidalError(f"scores must be finite ndarray[N], got shape {scores.shape}")
    n = len(scores)
    total = tiers.total(n)
    if budget is not None and total != budget:
        raise BudgetError(
            f"crowd tiers {list(tiers.tiers)} with rest={tiers.rest} give {total} labels to "
            f"{n} items (tier sizes {tiers.sizes(n).tolist()}), the budget is {budget}; change "
            "the tiers or the budget"
        )
    order = np.lexsort((rng.permutation(n), -scores))
    out = np.empty(n, dtype=np.int64)
    out[order] = tiers.per_item(n)
    return out


def crowd_distributions(
    classes: Mapping[Item, int],
    num_classes: int,
    *,
    agreement: float | tuple[float, float] = (0.5, 0.95),
    concentration: float = 0.5,
    rng: np.random.Generator,
) -> dict[Item, np.ndarray]:
    """Label distributions of a simulated crowd around each item's class.

    The item's class gets probability ``a`` (``agreement``, or drawn uniformly from the
    range per item); the other ``1 - a`` is spread over the other classes by a symmetric
    Dirichlet of ``concentration`` (small: the doubt falls on a few confusable classes).

    Args:
        classes: item -> its class.
        num_classes: ``K``.
        agreement: probability of the item's class, or a ``(low, high)`` range.
        concentration: Dirichlet parameter of the doubt over the other classes.
        rng: the randomness.

    Returns:
        item -> float64 ``ndarray[K]`` summing to 1.
    """
    lo, hi = (agreement, agreement) if isinstance(agreement, (int, float)) else agreement
    if not 0 <= lo <= hi <= 1 or concentration <= 0:
        raise ConfigError(f"agreement={agreement} must lie in [0, 1], concentration > 0")
    out = {}
    normalised = {_item(*i): int(c) for i, c in classes.items()}
    for item in sorted(normalised, key=_sort_key):
        c = normalised[item]
        a = rng.uniform(lo, hi) if hi > lo else lo
        q = np.zeros(num_classes)
        if num_classes > 1:
            q[np.arange(num_classes) != c] = (1 - a) * rng.dirichlet(
                np.full(num_classes - 1, concentration)
            )
        q[c] = a if num_classes > 1 else 1.0
        out[item] = q
    return out


class SimulatedCrowd:
    """A crowd whose every label of an item is drawn from that item's distribution.

    Args:
        distributions: item -> float ``ndarray[K]`` label distribution (sums to 1).
        seed: seeds the draws (a ``SeedSequence`` or an int); the draws of successive calls
            continue one stream.

    Example:
        >>> crowd = CrowdPool(2)
        >>> oracle = SimulatedCrowd({("v", 3): np.array([0.8, 0.2])}, seed=0)
        >>> oracle.label({("v", 3): 5}, crowd), crowd.count("v", 3)
        (5.0, 5)
    """

    def __init__(
        self, distributions: Mapping[Item, np.ndarray], *, seed: int | np.random.SeedSequence
    ) -> None:
        self.distributions: dict[Item, np.ndarray] = {}
        for item, q in distributions.items():
            q = np.asarray(q, dtype=np.float64)
            if q.ndim != 1 or not np.isfinite(q).all() or (q < 0).any() or abs(q.sum() - 1) > 1e-6:
                raise VidalError(f"label distribution of {item} must be [K] summing to 1: {q}")
            self.distributions[_item(*item)] = q / q.sum()
        self.rng = np.random.default_rng(seed)

    def label(self, requests: Mapping[Item, int], crowd: CrowdPool) -> float:
        """Give each item its requested number of labels (in item order); returns the cost."""
        cost = 0.0
        for item in sorted((_item(*i) for i in requests), key=_sort_key):
            n = int(requests[item])
            if n <= 0:
                continue
            q = self.distributions.get(item)
            if q is None:
                raise VidalError(f"the simulated crowd has no label distribution for {item}")
            if len(q) != crowd.num_classes:
                raise VidalError(
                    f"distribution of {item} has {len(q)} classes, the pool {crowd.num_classes}"
                )
            labels = self.rng.choice(len(q), size=n, p=q)
            cost += crowd.add(item[0], labels, frame=item[1], annotators=["simulated"] * n)
        return cost


# ---------------------------------------------------------------------- people
CSV_COLUMNS = ["video", "frame", "annotator", "label"]


def export_crowd_tasks(
    requests: Mapping[Item, int],
    dataset: VideoDataset,
    out_dir: str | os.PathLike,
    *,
    read_frames: Callable[[str, np.ndarray], np.ndarray] | None = None,
) -> Path:
    """Ask people for the labels of a round: each item as many times as it needs.

    Writes into ``out_dir``: ``crowd_tasks.json`` (``{"video", "frame", "image", "needed"}``
    per item; frame and image are null for a video-level item), ``crowd_labels.csv`` (columns
    ``video,frame,annotator,label``, ``needed`` rows per item with annotator and label left
    to fill in; see :func:`import_crowd_csv`), for frames ``cvat_crowd_pass<k>.xml``, ``k = 1
    .. max needed`` (CVAT for images 1.1 with the label set and one ``<image>`` per frame
    needing at least ``k`` more labels: give each pass to a different person, who tags every
    image once; see :func:`import_crowd_cvat`) and, with ``read_frames``, the frames as
    ``images/<name>.jpg``.

    Args:
        requests: item -> labels still needed (e.g. :func:`allocate_labels`); 0 skips it.
        dataset: the videos (size, class names).
        out_dir: output folder.
        read_frames: ``(video_id, frames [N]) -> ndarray[N, H, W, 3]`` uint8 RGB.

    Returns:
        The path of ``crowd_tasks.json``.
    """
    out = Path(out_dir)
    todo = [(i, int(requests[i])) for i in sorted((_item(*r) for r in requests), key=_sort_key)]
    todo = [(i, n) for i, n in todo if n > 0]
    missing = [v for (v, _), _ in todo if v not in dataset]
    if missing:
        raise VidalError(f"crowd requests name videos not in the dataset: {missing[:3]}")
    tasks, rows = [], []
    stems = task_image_names(v for (v, t), _ in todo if t is not None)
    for (vid, frame), n in todo:
        image = None if frame is None else f"{stems[vid]}__{frame:06d}.jpg"
        tasks.append({"video": vid, "frame": frame, "image": image, "needed": n})
        rows += [[vid, "" if frame is None else frame, "", ""]] * n
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerows([CSV_COLUMNS, *rows])
    atomic_write_bytes(out / "crowd_labels.csv", text.getvalue().encode())
    frames = [(v, t, n) for (v, t), n in todo if t is not None]  # (video, frame, needed)
    for k in range(1, max((n for _, _, n in frames), default=0) + 1):
        root = cvat_document(dataset.class_names)
        for image_id, (vid, t, _) in enumerate(x for x in frames if x[2] >= k):
            video = dataset[vid]
            ET.SubElement(
                root,
                "image",
                id=str(image_id),
                name=f"{stems[vid]}__{t:06d}.jpg",
                width=str(video.width),
                height=str(video.height),
            )
        ET.indent(root)
        data = ET.tostring(root, encoding="utf-8", xml_declaration=True)
        atomic_write_bytes(out / f"cvat_crowd_pass{k}.xml", data)
    if read_frames is not None:
        for vid in sorted({v for v, _, _ in frames}):
            ts = np.array(sorted(t for v, t, _ in frames if v == vid), dtype=np.int64)
            write_task_images(out, vid, ts, read_frames, stem=stems[vid])
    return atomic_write_json(out / "crowd_tasks.json", tasks)


def import_crowd_csv(csv_path: str | os.PathLike, dataset: VideoDataset, crowd: CrowdPool) -> int:
    """Read the labels people wrote into ``crowd_labels.csv`` (rows with an empty label skipped).

    Args:
        csv_path: the filled-in CSV (columns ``video,frame,annotator,label``; ``label`` a class
            name of ``dataset``, ``frame`` empty for a video-level label).
        dataset: the videos and class names.
        crowd: receives the labels (each one costs ``crowd.label_cost``).

    Returns:
        The number of labels read.

    Raises:
        AnnotationError: unreadable file, missing columns, an unknown video, frame or class
            (the line is named; nothing is imported).
    """
    try:
        with open(csv_path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise AnnotationError(f"{csv_path}: cannot read crowd labels: {e}") from e
    if rows and not set(CSV_COLUMNS) <= set(rows[0]):
        raise AnnotationError(f"{csv_path}: needs the columns {CSV_COLUMNS}, has {sorted(rows[0])}")
    class_index = {n: i for i, n in enumerate(dataset.class_names)}
    found: list[tuple[str, int | None, str | None, int]] = []
    for line, row in enumerate(rows, start=2):
        name = (row.get("label") or "").strip()
        if not name:
            continue
        vid, frame_text = (row.get("video") or "").strip(), (row.get("frame") or "").strip()
        where = f"{csv_path}, line {line}"
        if vid not in dataset:
            raise AnnotationError(f"{where}: unknown video {vid!r}")
        if name not in class_index:
            raise AnnotationError(f"{where}: unknown class {name!r}; known: {dataset.class_names}")
        frame = _frame(frame_text, dataset[vid].num_frames, where)
        found.append((vid, frame, (row.get("annotator") or "").strip() or None, class_index[name]))
    for vid, frame, who, label in found:
        crowd.add(vid, [label], frame=frame, annotators=[who])
    return len(found)


def _frame(text: str, num_frames: int, where: str) -> int | None:
    if not text:
        return None
    try:
        frame = int(text)
    except ValueError:
        frame = -1
    if not 0 <= frame < num_frames:
        raise AnnotationError(f"{where}: frame {text!r} outside 0..{num_frames - 1}")
    return frame


def import_crowd_cvat(
    xml_paths: Sequence[str | os.PathLike],
    tasks_path: str | os.PathLike,
    dataset: VideoDataset,
    crowd: CrowdPool,
) -> int:
    """Read the tags people gave in the ``cvat_crowd_pass<k>.xml`` passes (CVAT for images 1.1).

    Every ``<tag label="...">`` of an exported image is one label of that frame; the file's
    name (without suffix) is recorded as the annotator. Nothing is imported when a file has
    an unknown image or class.

    Args:
        xml_paths: the XML files exported from CVAT, one per pass.
        tasks_path: the ``crowd_tasks.json`` of :func:`export_crowd_tasks`.
        dataset: the class names.
        crowd: receives the labels.

    Returns:
        The number of labels read.
    """
    try:
        tasks = json.loads(Path(tasks_path).read_text())
        trees = [(Path(p), ET.parse(p)) for p in xml_paths]
    except (OSError, json.JSONDecodeError, ET.ParseError) as e:
        raise AnnotationError(f"cannot read crowd labels ({tasks_path}, {xml_paths}): {e}") from e
    by_image = {t["image"]: t for t in tasks if t.get("image")}
    class_index = {n: i for i, n in enumerate(dataset.class_names)}
    found: list[tuple[str, int, str, int]] = []
    for path, tree in trees:
        for image in tree.getroot().iter("image"):
            name = Path(image.get("name", "")).name
            if name not in by_image:
                raise AnnotationError(f"{path}: image {name!r} is not one of the exported tasks")
            for tag in image.iter("tag"):
                class_name = tag.get("label", "")
                if class_name not in class_index:
                    raise AnnotationError(
                        f"{path}: unknown label {class_name!r} on {name}; known: "
                        f"{dataset.class_names}"
                    )
                task = by_image[name]
                found.append(
                    (task["video"], int(task["frame"]), path.stem, class_index[class_name])
                )
    for vid, frame, who, label in found:
        crowd.add(vid, [label], frame=frame, annotators=[who])
    return len(found)
