"""From an :class:`~vidal.config.ExperimentConfig` to results: data, running, reporting.

- :mod:`.data`: the videos a config names (:func:`load_data`, :func:`load_experiment_data`);
- :mod:`.run`: one resumable loop per seed, selectors compared (:func:`run_experiment`,
  :func:`compare_selectors`);
- :mod:`.report`: tables and learning curves from saved results.
"""

from vidal.experiment.data import (
    load_data,
    load_experiment_data,
    name_splits_from_file,
    synthetic_dataset,
)
from vidal.experiment.report import load_results, merge_seeds, plot_learning_curves, results_table
from vidal.experiment.run import (
    compare_selectors,
    remember_config,
    run_experiment,
    share_first_cycle,
)
from vidal.experiment.stats import aulc, summarize, summary_table, verdict

__all__ = [
    "load_data",
    "load_experiment_data",
    "name_splits_from_file",
    "synthetic_dataset",
    "load_results",
    "merge_seeds",
    "plot_learning_curves",
    "results_table",
    "compare_selectors",
    "remember_config",
    "run_experiment",
    "share_first_cycle",
    "aulc",
    "summarize",
    "summary_table",
    "verdict",
]
