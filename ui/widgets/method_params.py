"""Controls for the attribution methods' parameters (Score-CAM channels, SmoothGrad samples and
noise, IG steps ...), built from :data:`geoquiz.attribution.params.PARAMS` (torch-free).

A collapsed "Method parameters" button opens a small form with one control per parameter that
changes the result (speed-only settings such as batch sizes keep their defaults). :meth:`values`
returns ``{method: {name: value}}`` for the controls changed from their defaults, ready for
``run_grid(method_params=...)``; the run resolves and records them.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from geoquiz.attribution.params import PARAMS, ParamSpec, coerce
from geoquiz.errors import GeoQuizError

LABELS = {"scorecam": "Score-CAM", "smoothgrad": "SmoothGrad", "ig": "IG"}


def _control(spec: ParamSpec, parent: QWidget) -> QWidget:
    if spec.kind == "int":
        w = QSpinBox(parent)
        w.setRange(int(spec.minimum or 0), int(spec.maximum if spec.maximum is not None else 2**31 - 1))
        w.setValue(int(spec.default))
    elif spec.kind == "float":
        w = QDoubleSpinBox(parent)
        w.setDecimals(3)
        w.setSingleStep(0.01 if (spec.maximum or 0) <= 1 else 0.5)
        w.setRange(float(spec.minimum or 0.0), float(spec.maximum if spec.maximum is not None else 1e6))
        w.setValue(float(spec.default))
    else:  # choice, channels (editable: auto, all or a number)
        w = QComboBox(parent)
        options = list(spec.choices) if spec.kind == "choice" else ["auto", "all", "64", "128", "256", "512"]
        w.addItems(options)
        w.setEditable(spec.kind == "channels")
        w.setCurrentText(str(spec.default))
    w.setObjectName(f"param_{spec.method}_{spec.name}")
    w.setToolTip(spec.help)
    return w


def _value(widget: QWidget) -> Any:
    if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
        return widget.value()
    return widget.currentText()


class MethodParamsEditor(QWidget):
    """See the module docstring. ``controls[(method, name)]`` is the widget of one parameter."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("methodParams")
        self.toggle = QToolButton(self)
        self.toggle.setObjectName("methodParamsToggle")
        self.toggle.setText("Method parameters")
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.RightArrow)
        self.toggle.toggled.connect(self._expand)
        self.body = QWidget(self)
        form = QFormLayout(self.body)
        form.setContentsMargins(12, 0, 0, 0)
        self.specs: dict[tuple[str, str], ParamSpec] = {}
        self.controls: dict[tuple[str, str], QWidget] = {}
        for method, specs in PARAMS.items():
            for spec in specs:
                if not spec.result:
                    continue
                self.specs[(method, spec.name)] = spec
                self.controls[(method, spec.name)] = control = _control(spec, self.body)
                form.addRow(f"{LABELS.get(method, method)} {spec.name.replace('_', ' ')}", control)
        self.body.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toggle)
        layout.addWidget(self.body)

    def _expand(self, on: bool) -> None:
        self.toggle.setArrowType(Qt.DownArrow if on else Qt.RightArrow)
        self.body.setVisible(on)

    def values(self) -> dict[str, dict[str, Any]]:
        """The parameters changed from their defaults, checked (``ValueError`` naming a bad one, e.g.
        Score-CAM channels typed as "many", as the view's other option errors)."""
        out: dict[str, dict[str, Any]] = {}
        for key, widget in self.controls.items():
            spec = self.specs[key]
            try:
                value = coerce(spec, _value(widget))
            except GeoQuizError as exc:
                raise ValueError(str(exc)) from None
            if value != spec.default:
                out.setdefault(spec.method, {})[spec.name] = value
        return out
