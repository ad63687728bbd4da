"""vidal: active learning on video.

Decides which videos, and which frames inside them, a person should label next, and trains
detectors from those sparse labels. Importing vidal changes nothing in the process (the
command line sets its own environment, see :func:`vidal.cli.main`).
"""

from vidal.errors import VidalError

__version__ = "0.1.0"
__all__ = ["VidalError", "__version__"]
