"""vidal: active learning on video.

Decides which videos, and which frames inside them, a person should label next, and trains
detectors from those sparse labels.
"""

from vidal.errors import VidalError

__version__ = "0.1.0"
__all__ = ["VidalError", "__version__"]
