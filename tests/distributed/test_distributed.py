"""Two gloo processes against one: sharded scoring and evaluation, DDP training, a campaign
killed in mid-cycle and resumed.

Every test launches ``python -m torch.distributed.run --nproc_per_node 2`` (what
``torchrun`` runs) on tiny synthetic data, and compares with the same work done by one
process without a launcher (``tests/distributed/dist_worker.py``). Each process has one thread.

Tolerances of the training comparisons (relative L2 norm of a difference over the norm of
the reference): the gradient of the first step, averaged over the two ranks by
DistributedDataParallel, equals the gradient of the global batch up to float32 rounding
where batch norm does not see the split (frozen batch norm; or clips that are all the
same); measured 5e-5 (detection, frozen batch norm, slices of 3 and 2 frames and then a
rank with no frame), 6e-5 (action, identical clips, slices of 2 and 1). The sums over
slices and ranks happen in another order and batch norm's backward pass cancels large
terms, so float32 keeps about 4-5 significant digits: the tests allow 5e-4, ten times
the measurement and far below what a wrong slice or weight gives (a missing share weight
with slices of 2 and 1 moves the gradient by ~0.2 of its norm). Where batch norm sees the
split (the action detector trains its batch norm), each rank normalises with the
statistics of its own slice (SyncBatchNorm runs only on CUDA): the DDP gradient then
equals exactly the gradient of one process that runs the two slices apart (measured
difference 0), while it differs from one process with whole-batch statistics by 2.0
times its norm on this tiny, untrained model with batches of 4 (2 + 2): on the CPU the
batch norm of DDP training is that of the slices, and the tests say so with numbers.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from vidal.data import load_dataset
from vidal.data.synth import SynthConfig, make_dataset
from vidal.loop import load_scores
from vidal.pool import LabelPool

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("dist_worker.py")
TINY_DETECTOR = {
    "min_size": 64,
    "max_size": 96,
    "rpn_pre_nms_top_n_train": 200,
    "rpn_post_nms_top_n_train": 100,
    "rpn_pre_nms_top_n_test": 100,
    "rpn_post_nms_top_n_test": 50,
    # every anchor and proposal is a training sample: no random subsampling
    "rpn_batch_size_per_image": 100_000,
    "box_batch_size_per_image": 100_000,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE", PYTHONPATH=str(ROOT))
    return env


def torchrun(nproc: int, *args: str) -> list[str]:
    """The command that runs ``args`` in ``nproc`` processes (one without a launcher)."""
    if nproc == 1:
        return [sys.executable, *args]
    return [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
        "--master_addr", "127.0.0.1", "--master_port", str(free_port()), "--max-restarts", "0",
        *args,
    ]  # fmt: skip


def work(mode: str, data: Path, out: Path, options: dict, nproc: int) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    cmd = torchrun(nproc, str(WORKER), mode, str(data), str(out), json.dumps(options))
    done = subprocess.run(cmd, env=environment(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def action_data(tmp_path_factory) -> Path:
    """Seven train and three test videos of 16-24 frames, 64x48."""
    cfg = SynthConfig(
        videos=10, width=64, height=48, min_frames=16, max_frames=24, seed=1, test_fraction=0.4
    )
    return make_dataset(tmp_path_factory.mktemp("dist-action"), cfg, progress=False)


@pytest.fixture(scope="module")
def short_action_data(tmp_path_factory) -> Path:
    """Videos of exactly one clip (8 frames): a video labeled on one frame gives one clip."""
    cfg = SynthConfig(videos=6, width=64, height=48, min_frames=8, max_frames=8, seed=2)
    return make_dataset(tmp_path_factory.mktemp("dist-short"), cfg, progress=False)


@pytest.fixture(scope="module")
def road_data(tmp_path_factory) -> Path:
    """Three train and one test road video of 8-10 frames, 64x48."""
    cfg = SynthConfig(
        kind="road", videos=4, seed=3, width=64, height=48, min_frames=8, max_frames=10,
        test_fraction=0.25,
    )  # fmt: skip
    return make_dataset(tmp_path_factory.mktemp("dist-road"), cfg, progress=False)


def relative(a: dict, b: dict) -> float:
    """``|a - b| / |a|`` over every tensor of two dicts with the same keys."""
    assert a.keys() == b.keys()
    diff = sum(float(((a[k].double() - b[k].double()) ** 2).sum()) for k in a)
    norm = sum(float((a[k].double() ** 2).sum()) for k in a)
    return (diff / norm) ** 0.5


def parameters(state: dict) -> dict:
    """The trained parameters of a state dict (no batch-norm statistics, no cluster state)."""
    skip = ("running_", "num_batches_tracked", "clustering.")
    return {
        k: v for k, v in state.items() if v.is_floating_point() and not any(s in k for s in skip)
    }


# --------------------------------------------------------------------------- scoring
@pytest.mark.parametrize("task", ["action", "detection"])
def test_sharded_scoring_selection_and_evaluation_equal_one_process(
    task, action_data, road_data, tmp_path
):
    data = action_data if task == "action" else road_data
    options = {"task": task, "steps": 1, "batch_size": 2, "detector": TINY_DETECTOR}
    options["selector"] = "apu" if task == "action" else "tc"
    one = work("score", data, tmp_path / "one", options, 1)
    # the two ranks also decode through DataLoader workers
    two = work("score", data, tmp_path / "two", {**options, "score_workers": 1}, 2)
    a, b = load_scores(one / "scores.npz"), load_scores(two / "scores.npz")
    train = load_dataset("vidal", data).split("train")
    assert list(a.frames) == list(b.frames) == train.video_ids
    for vid in a.frames:
        assert np.array_equal(a.frames[vid], b.frames[vid]), vid
    assert a.features.keys() == b.features.keys()
    assert all(np.array_equal(a.features[v], b.features[v]) for v in a.features)
    assert list(a.extra) == list(b.extra) and a.extra
    for name in a.extra:
        assert list(a.extra[name]) == list(b.extra[name])
        assert all(np.array_equal(a.extra[name][v], b.extra[name][v]) for v in a.extra[name])
    chosen = json.loads((one / "selection.json").read_text())
    assert chosen["frames"] and chosen == json.loads((two / "selection.json").read_text())
    metrics = json.loads((one / "metrics_rank0.json").read_text())
    assert metrics == json.loads((two / "metrics_rank0.json").read_text())
    assert metrics == json.loads((two / "metrics_rank1.json").read_text())
    if task == "action":  # three test videos, shared by the ranks
        assert metrics["mean_frame_iou"] is not None


# --------------------------------------------------------------------------- training
def test_ddp_detection_equals_one_process_with_frozen_batch_norm(road_data, tmp_path):
    """6 labeled frames, global batch 5: step 1 slices 3 + 2, step 2 one frame (rank 1 runs
    one with weight 0); flips on."""
    import torch as T

    from vidal.models.detector import build_detector

    T.manual_seed(0)
    weights = tmp_path / "pretrained.pt"
    T.save(
        build_detector(5, backbone="mobilenet_v3_fpn", min_size=64, max_size=96).state_dict(),
        weights,
    )
    ids = load_dataset("vidal", road_data).split("train").video_ids[:2]
    options = {
        "task": "detection", "steps": 2, "batch_size": 5, "every": 4, "videos": ids,
        "weights": str(weights), "detector": TINY_DETECTOR,
    }  # fmt: skip
    one = work("train", road_data, tmp_path / "one", options, 1)
    two = work("train", road_data, tmp_path / "two", options, 2)
    grads = relative(torch.load(one / "grads.pt"), torch.load(two / "grads.pt"))
    assert grads < 5e-4
    start = parameters(torch.load(one / "initial.pt"))
    a, b = parameters(torch.load(one / "weights.pt")), parameters(torch.load(two / "weights.pt"))
    update = {k: a[k] - start[k] for k in a}
    assert relative(update, {k: b[k] - start[k] for k in b}) < 1e-3
    losses = json.loads((one / "train.json").read_text())["losses"]
    assert np.allclose(losses, json.loads((two / "train.json").read_text())["losses"], rtol=1e-4)


def test_ddp_action_equals_one_process_where_batch_norm_sees_identical_clips(
    short_action_data, tmp_path
):
    """One labeled frame in an 8-frame video: all 3 clips of the batch are the same clip,
    so batch norm of a slice (2 + 1) has the statistics of the whole batch."""
    vid = load_dataset("vidal", short_action_data).split("train").video_ids[0]
    options = {
        "task": "action", "steps": 2, "batch_size": 3, "every": 100, "dropout": 0,
        "videos": [vid],
    }  # fmt: skip
    one = work("train", short_action_data, tmp_path / "one", options, 1)
    two = work("train", short_action_data, tmp_path / "two", options, 2)
    assert relative(torch.load(one / "grads.pt"), torch.load(two / "grads.pt")) < 5e-4


def test_ddp_action_batch_norm_is_that_of_the_slices(action_data, tmp_path):
    options = {
        "task": "action", "steps": 1, "batch_size": 4, "every": 5, "dropout": 0,
        "cluster_weight": 0, "ranks": 2,
    }  # fmt: skip
    one = work("train", action_data, tmp_path / "one", options, 1)
    ghost = work("ghost", action_data, tmp_path / "ghost", options, 1)
    two = work("train", action_data, tmp_path / "two", options, 2)
    g_one, g_ghost, g_two = (torch.load(d / "grads.pt") for d in (one, ghost, two))
    assert relative(g_ghost, g_two) < 5e-4  # measured: 0
    assert relative(g_one, g_ghost) > 0.1  # the statistics of the slices (measured 2.0)


# --------------------------------------------------------------------------- campaigns
def _campaign_config(data: Path, out: Path) -> Path:
    cfg = {
        "name": "dist",
        "task": "action",
        "data": {"format": "vidal", "annotations": str(data)},
        "model": {"size": [48, 64], "clip_len": 8},
        "train": {"steps": 2, "batch_size": 2},
        "score": {"passes": 2, "stride": 8},
        "select": {"selector": "apu"},
        "budget": {"initial": 0.1, "step": 0.1},
        "cycles": 2,
        "seeds": [0],
        "device": "cpu",
        "out": str(out),
    }
    path = out.parent / f"{out.name}.yaml"
    path.write_text(json.dumps(cfg))
    return path


def _rank_pids(agent: int) -> dict[int, int]:
    """Rank -> pid of the workers ``torchrun`` (process ``agent``) started."""
    out = {}
    for pid in Path(f"/proc/{agent}/task/{agent}/children").read_text().split():
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        for item in environ:
            if item.startswith(b"RANK="):
                out[int(item[5:])] = int(pid)
    return out


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_campaign_killed_in_mid_cycle_stops_and_resumes_to_the_same_pool(action_data, tmp_path):
    command = lambda cfg: torchrun(2, "-m", "vidal", "run", str(cfg), "--no-progress")  # noqa: E731
    whole = tmp_path / "whole"
    done = subprocess.run(
        command(_campaign_config(action_data, whole)),
        env=environment(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]

    cut = tmp_path / "cut"
    cfg = _campaign_config(action_data, cut)
    run = subprocess.Popen(command(cfg), env=environment(), stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)  # fmt: skip
    trained = cut / "seed_0" / "cycle_000" / "checkpoint.pt"
    deadline = time.monotonic() + 300
    while not trained.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert trained.exists() and run.poll() is None, "the run ended before cycle 0 was trained"
    os.kill(_rank_pids(run.pid)[1], signal.SIGKILL)  # rank 1 dies in cycle 0
    _, err = run.communicate(timeout=120)  # the run stops: no hang
    assert run.returncode != 0
    assert not (cut / "seed_0" / "cycle_001" / "metrics.json").exists()

    again = subprocess.run(command(cfg), env=environment(), capture_output=True, text=True,
                           timeout=600)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    final = lambda root: LabelPool.load(root / "seed_0" / "cycle_001" / "pool.json")  # noqa: E731
    assert final(cut) == final(whole)
    results = lambda root: json.loads((root / "results.json").read_text())  # noqa: E731
    strip = lambda r: [{k: v for k, v in c.items() if k != "seconds"} for c in r["seeds"]["0"]]  # noqa: E731
    assert [c["labeled_frames"] for c in strip(results(cut))] == [
        c["labeled_frames"] for c in strip(results(whole))
    ]
    assert strip(results(cut))[-1]["metrics"] == strip(results(whole))[-1]["metrics"]


def test_train_and_select_commands_under_the_launcher(action_data, tmp_path):
    data = ["--format", "vidal", "--annotations", str(action_data), "--device", "cpu"]
    data += ["--no-progress"]
    train = ["-m", "vidal", "train", *data, "--size", "48", "64", "--steps", "2"]
    train += ["--batch-size", "2", "--labeled-fraction", "0.2", "--out", str(tmp_path / "train")]
    done = subprocess.run(torchrun(2, *train), env=environment(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "train" / "train.json").read_text())
    assert report["steps_total"] == 2 and (tmp_path / "train" / "checkpoint.pt").is_file()

    checkpoint = str(tmp_path / "train" / "checkpoint.pt")
    select = ["-m", "vidal", "select", "--checkpoint", checkpoint, *data, "--split", "train"]
    select += ["--frames", "5", "--passes", "2", "--stride", "8"]
    rounds = {}
    for nproc in (1, 2):
        out = tmp_path / f"round{nproc}"
        cmd = torchrun(nproc, *select, "--out", str(out))
        done = subprocess.run(cmd, env=environment(), capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
        rounds[nproc] = json.loads((out / "selection.json").read_text())
        scores = load_scores(out / "scores.npz")
        rounds[nproc]["scores_npz"] = {v: s.tolist() for v, s in scores.frames.items()}
    for key in ("frames", "videos", "scores", "scores_npz", "skipped"):
        assert rounds[1][key] == rounds[2][key], key
    assert sum(map(len, rounds[2]["frames"].values())) == 5
