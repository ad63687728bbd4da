"""``vidal demo``: APU, CLAUS, random and an error oracle on synthetic videos, over 3 seeds, on the CPU.

Generates (or reuses) a small synthetic action dataset in a cache folder, then, for each seed,
runs four active-learning experiments from the same initial labels (10% of the frames of 40%
of the training videos) with equal frame budgets, on the default action model (ImageNet
MobileNetV2 features per frame under the capsule head, MGW loss), so that only the selection
differs:

- ``apu``: MC-dropout uncertainty with non-activity suppression + adaptive proximity (ASL);
- ``claus``: hybrid video + frame selection with cluster quotas over the model's latent
  features (CLAUS);
- ``random``: random frames (the reference);
- ``oracle_iou``: the frames where the current model's IoU with the true boxes is lowest
  (it reads the ground truth: a reference for what knowing the errors buys, not an upper
  bound on what selection can do).

The first cycle does not depend on the selector, so it is trained once per seed and shared.

Prints the per-cycle table of annotated frames (%) against frame localization accuracy at
IoU 0.5, then over seeds each selector's normalised area under the learning curve (AULC)
with a 95% interval, its paired difference to random, the oracle's headroom and each
selector's share of it, and a one-line verdict that says only what the intervals support;
writes ``results.json`` and ``learning_curve.png`` (mean curves with bands). Runs resume:
run it again to continue.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

__all__ = ["add_parser", "run", "demo_configs"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="compare APU, CLAUS, random and an error oracle on synthetic videos (CPU, minutes)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    p.add_argument("--cycles", type=int, default=3, help="active-learning cycles (default: 3)")
    p.add_argument(
        "--steps", type=int, default=None, help="fine-tuning steps per cycle (default: 40)"
    )
    p.add_argument("--videos", type=int, default=None, help="synthetic videos (default: 24)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default: 0 1 2)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def demo_configs(
    out: str,
    *,
    cycles: int = 3,
    steps: int | None = None,
    videos: int | None = None,
    seeds: tuple[int, ...] = (0, 1, 2),
    device: str = "auto",
) -> list:
    """The four experiments of the demo, sharing data, model and budgets.

    The model and training are the action task's defaults (:data:`vidal.config.TASK_DEFAULTS`:
    the ``mobilenet`` preset at 48 x 64, Adam 1e-3, foreground weight 3); the first cycle
    trains ``8 * steps`` steps from the ImageNet start, every later one fine-tunes ``steps``.
    """
    from vidal.config import (
        BudgetConfig,
        DataConfig,
        ExperimentConfig,
        ModelConfig,
        ScoreConfig,
        SelectConfig,
        TrainConfig,
    )

    steps = steps or 40
    base = ExperimentConfig(
        name="demo",
        task="action",
        data=DataConfig(
            format="synthetic", synth_videos=videos or 24, synth_dir="~/.cache/vidal/demo"
        ),
        model=ModelConfig(clip_len=8, size=(48, 64)),
        train=TrainConfig(loss="mgw", steps=steps, initial_steps=8 * steps, batch_size=4),
        score=ScoreConfig(scorer="uncertainty", passes=3, stride=8),
        budget=BudgetConfig(initial=0.1, step=0.04, videos=0.2, initial_videos=0.4),
        cycles=cycles,
        seeds=tuple(seeds),
        device=device,
    )
    selects = {
        "apu": SelectConfig("apu"),
        "claus": SelectConfig("claus", {"frame_fraction": 0.2}),
        "random": SelectConfig("random"),
        "oracle_iou": SelectConfig("oracle_iou"),
    }
    return [
        dataclasses.replace(base, name=name, select=select, out=f"{out}/{name}")
        for name, select in selects.items()
    ]


def run(args: argparse.Namespace) -> int:
    from vidal.experiment import (
        compare_selectors,
        results_table,
        summarize,
        summary_table,
        verdict,
    )

    t0 = time.perf_counter()
    configs = demo_configs(
        args.out,
        cycles=args.cycles,
        steps=args.steps,
        videos=args.videos,
        seeds=tuple(args.seeds),
        device=args.device,
    )
    all_results = compare_selectors(configs, args.out, progress=not args.no_progress)
    out = Path(args.out)
    summary = summarize(all_results)
    print()
    print(results_table(all_results))
    print()
    print(summary_table(summary))
    print(verdict(summary))
    print(
        f"\nresults: {out / 'results.json'}\nplot:    {out / 'learning_curve.png'}\n"
        f"({time.perf_counter() - t0:.0f} s)"
    )
    return 0
