"""Media and structured data (§10): what ``log`` takes besides numbers and text.

Each type validates in the caller and hands the sidecar its raw data; the sidecar encodes.
Nothing here imports numpy, pillow or matplotlib until a value is built.
"""

from tracker.media import plot, plots
from tracker.media.histogram import Histogram
from tracker.media.image import Image
from tracker.media.object3d import Html, Object3D
from tracker.media.plot import plot_table
from tracker.media.table import Table
from tracker.media.video import Video

__all__ = [
    "Histogram",
    "Html",
    "Image",
    "Object3D",
    "Table",
    "Video",
    "plot",
    "plot_table",
    "plots",
]
