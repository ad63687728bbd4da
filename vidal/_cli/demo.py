"""``vidal demo``: APU, CLAUS and random selection compared on synthetic videos, on the CPU.

Generates (or reuses) a small synthetic action dataset in a cache folder, then runs three
active-learning experiments from the same initial labels (10% of the frames of 40% of the
videos) with equal frame budgets, all trained with the MGW loss, so that only the selection
differs:

- ``apu``: MC-dropout uncertainty with non-activity suppression + adaptive proximity (ASL);
- ``claus``: hybrid video + frame selection with cluster quotas over the model's latent
  features (CLAUS);
- ``random``: random frames.

The first cycle does not depend on the selector, so it is trained once and shared.

Prints a table of annotation % against frame localization accuracy and writes
``results.json`` and ``learning_curve.png``. Runs resume: run it again to continue.
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
        help="compare APU, CLAUS and random on synthetic videos (CPU, minutes)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    p.add_argument("--cycles", type=int, default=4, help="active-learning cycles (default: 4)")
    p.add_argument("--steps", type=int, default=None, help="training steps per cycle")
    p.add_argument("--videos", type=int, default=None, help="synthetic videos to generate")
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def demo_configs(
    out: str,
    *,
    cycles: int = 4,
    steps: int | None = None,
    videos: int | None = None,
    seed: int = 0,
    device: str = "auto",
) -> list:
    """The three experiments of the demo, sharing data, model and budgets."""
    from vidal.config import (
        BudgetConfig,
        DataConfig,
        ExperimentConfig,
        ModelConfig,
        ScoreConfig,
        SelectConfig,
        TrainConfig,
    )

    base = ExperimentConfig(
        name="demo",
        task="action",
        data=DataConfig(
            format="synthetic", synth_videos=videos or 40, synth_dir="~/.cache/vidal/demo-synth"
        ),
        model=ModelConfig(preset="small", clip_len=8, size=(48, 64)),
        train=TrainConfig(
            loss="mgw",
            steps=steps or 100,
            initial_steps=4 * (steps or 100),
            batch_size=4,
            lr=1e-3,
            pos_weight=3.0,
        ),
        score=ScoreConfig(scorer="uncertainty", passes=4, stride=8),
        budget=BudgetConfig(initial=0.1, step=0.03, videos=0.16, initial_videos=0.4),
        cycles=cycles,
        seeds=(seed,),
        device=device,
    )
    return [
        dataclasses.replace(base, name="apu", select=SelectConfig("apu"), out=f"{out}/apu"),
        dataclasses.replace(
            base,
            name="claus",
            select=SelectConfig("claus", {"frame_fraction": 0.2}),
            out=f"{out}/claus",
        ),
        dataclasses.replace(
            base, name="random", select=SelectConfig("random"), out=f"{out}/random"
        ),
    ]


def run(args: argparse.Namespace) -> int:
    from vidal.experiment import compare_selectors, results_table

    t0 = time.perf_counter()
    configs = demo_configs(
        args.out,
        cycles=args.cycles,
        steps=args.steps,
        videos=args.videos,
        seed=args.seed,
        device=args.device,
    )
    all_results = compare_selectors(configs, args.out, progress=not args.no_progress)
    out = Path(args.out)
    print()
    print(results_table(all_results))
    print(
        f"\nresults: {out / 'results.json'}\nplot:    {out / 'learning_curve.png'}\n"
        f"({time.perf_counter() - t0:.0f} s)"
    )
    return 0
