"""vidal: active learning on video.

Decides which videos, and which frames inside them, a person should label next, and trains
detectors from those sparse labels.
"""

import os

# OpenMP threads that spin while waiting make PyTorch's CPU kernels many times slower as soon
# as anything else runs on the machine (measured: 1.0 s against 6-8 s per training step of the
# small model on 2 busy cores). Sleep instead, unless the user chose otherwise. This only
# takes effect when vidal is imported before torch starts its thread pool (the CLI does).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from vidal.errors import VidalError  # noqa: E402

__version__ = "0.1.0"
__all__ = ["VidalError", "__version__"]
