"""Controls for the attribution methods' parameters (Score-CAM channels, SmoothGrad samples and
noise, IG steps ...), built from :data:`geoquiz.attribution.params.PARAMS` (torch-free).

One button ("Method parameters…", "Method parameters (2 set)…"; its tooltip and :attr:`summary` list
the values changed from their defaults, e.g. ``scorecam.channels=512``) opens a small non-modal dialog
with one control per parameter that changes the result (speed-only settings such as batch sizes keep
their defaults), so the panel it sits in does not grow. :meth:`values` returns ``{method: {name: value}}`` for the
controls changed from their defaults, ready for ``run_grid(method_params=...)``; the run resolves and
records them.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from geoquiz.attribution import method_label
from geoquiz.attribution.params import PARAMS, ParamSpec, coerce, describe
from geoquiz.errors import GeoQuizError


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
    """See the module docstring. ``button`` opens ``dialog``; ``controls[(method, name)]`` is the
    widget of one parameter."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("methodParams")
        self.button = QPushButton(self)
        self.button.setObjectName("methodParamsButton")
        self.button.setAutoDefault(False)
        self.button.clicked.connect(self.open_dialog)
        self.dialog = QDialog(self)
        self.dialog.setObjectName("methodParamsDialog")
        self.dialog.setWindowTitle("Attribution method parameters")
        form = QFormLayout()
        self.specs: dict[tuple[str, str], ParamSpec] = {}
        self.controls: dict[tuple[str, str], QWidget] = {}
        for method, specs in PARAMS.items():
            for spec in specs:
                if not spec.result:
                    continue
                self.specs[(method, spec.name)] = spec
                self.controls[(method, spec.name)] = control = _control(spec, self.dialog)
                form.addRow(f"{method_label(method)} {spec.name.replace('_', ' ')}", control)
                signal = (
                    control.currentTextChanged if isinstance(control, QComboBox) else control.valueChanged
                )
                signal.connect(self._update_text)
        close = QDialogButtonBox(QDialogButtonBox.Close, self.dialog)
        close.rejected.connect(self.dialog.close)
        box = QVBoxLayout(self.dialog)
        box.addLayout(form)
        box.addWidget(close)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.button)
        self._update_text()

    def open_dialog(self) -> None:
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()

    def _update_text(self, *_args) -> None:
        try:
            changed = self.values()
            text = describe(changed)
        except ValueError as exc:
            changed, text = {"?": {"?": 1}}, str(exc)
        n = sum(len(v) for v in changed.values())
        self.button.setText(f"Method parameters ({n} set)…" if n else "Method parameters…")
        self.summary = "defaults" if text == "none" else text
        self.button.setToolTip(f"Attribution method parameters: {self.summary}")

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
