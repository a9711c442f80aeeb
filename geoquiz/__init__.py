"""GeoQuiz: which visual cues does an image-geolocation model rely on, and are they the cues people use?

The ``geoquiz`` package is the Qt-free library. Conventions, stated once for the whole code base:

* Images are RGB ``uint8`` numpy arrays in HWC layout.
* Boxes are ``XYXY`` integer pixel coordinates, inclusive-exclusive: a box ``(x0, y0, x1, y1)``
  covers columns ``x0 <= x < x1`` and rows ``y0 <= y < y1`` (see :mod:`geoquiz.boxes`).
* Attribution maps are ``float32`` HxW arrays in ``[0, 1]`` at the model's input resolution.
* Long-running functions take an optional :class:`geoquiz.progress.Reporter` for progress and cancel.
"""

__version__ = "0.1.0"
