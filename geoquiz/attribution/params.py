"""Every attribution method's parameters: names, types, defaults, ranges (torch-free, no model).

This table is the single source of the defaults (the attributors in :mod:`geoquiz.attribution.cam`
and :mod:`geoquiz.attribution.gradients` read them from here), of what ``--method-param
METHOD.NAME=VALUE`` accepts (``geoquiz evaluate`` and ``geoquiz explain``), and of the controls of the
Faithfulness tab. A run's parameters are *resolved* by the attributor once the model is loaded
(Score-CAM's ``channels = "auto"`` or ``"all"`` becomes a number) and the resolved values are what a
run records, shows, exports and keys its cache on.

    parse_method_params(["scorecam.channels=256", "ig.n_steps=64"])
    # {"scorecam": {"channels": 256}, "ig": {"n_steps": 64}}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from geoquiz.errors import GeoQuizError


@dataclass(frozen=True)
class ParamSpec:
    """One parameter. ``kind``: ``int``, ``float``, ``choice`` (one of ``choices``) or ``channels``
    (``auto``, ``all`` or a positive int). ``result``: False when it only changes speed or memory."""

    method: str
    name: str
    kind: str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    result: bool = True

    @property
    def key(self) -> str:
        return f"{self.method}.{self.name}"


P = ParamSpec
PARAMS: dict[str, tuple[ParamSpec, ...]] = {
    "gradcam": (),
    "gradcampp": (),
    "scorecam": (
        P(
            "scorecam",
            "channels",
            "channels",
            "auto",
            "channels scored (those with the highest mean activation): auto = all on a GPU and 256 on a "
            "CPU, all, or a number; resolved to a number when the run starts",
            minimum=1,
        ),
        P("scorecam", "batch_size", "int", 32, "masked images per forward pass", 1, 4096, result=False),
    ),
    "smoothgrad": (
        P("smoothgrad", "n_samples", "int", 25, "noisy copies averaged", 1, 10_000),
        P("smoothgrad", "noise", "float", 0.15, "noise std as a fraction of the input range", 0.0, 1.0),
        P("smoothgrad", "batch_size", "int", 25, "noisy copies per forward pass", 1, 4096, result=False),
        P(
            "smoothgrad",
            "blur_sigma",
            "float",
            2.0,
            "Gaussian smoothing of the map, pixels (0 = off)",
            0.0,
            100.0,
        ),
        P("smoothgrad", "seed", "int", 0, "seed of the noise", 0, 2**31 - 1),
    ),
    "ig": (
        P("ig", "n_steps", "int", 32, "integration steps", 1, 10_000),
        P("ig", "baseline", "choice", "black", "baseline image", choices=("black", "mean")),
        P("ig", "batch_size", "int", 16, "steps per forward pass", 1, 4096, result=False),
        P("ig", "blur_sigma", "float", 2.0, "Gaussian smoothing of the map, pixels (0 = off)", 0.0, 100.0),
    ),
}


def defaults_of(method: str) -> dict[str, Any]:
    """``{name: default}`` of ``method`` (an unknown method has none)."""
    return {p.name: p.default for p in PARAMS.get(method, ())}


def spec_of(method: str, name: str) -> ParamSpec:
    """The :class:`ParamSpec` of ``method.name``; :class:`GeoQuizError` naming the known ones."""
    if method not in PARAMS:
        raise GeoQuizError(f"unknown attribution method {method!r}; known: {', '.join(PARAMS)}")
    for p in PARAMS[method]:
        if p.name == name:
            return p
    known = ", ".join(p.name for p in PARAMS[method]) or "(none)"
    raise GeoQuizError(f"{method} has no parameter {name!r}; its parameters: {known}")


def coerce(spec: ParamSpec, value: Any) -> Any:
    """``value`` (a Python value or the text of one) checked and converted for ``spec``."""
    where = f"method parameter {spec.key}"
    text = value.strip() if isinstance(value, str) else value
    if spec.kind == "channels":
        if isinstance(text, str) and text.lower() in ("auto", "all"):
            return text.lower()
        spec = ParamSpec(spec.method, spec.name, "int", spec.default, spec.help, 1, None)
        try:
            return coerce(spec, text)
        except GeoQuizError:
            raise GeoQuizError(
                f"{where} must be auto, all or a positive whole number, got {value!r}"
            ) from None
    if spec.kind == "choice":
        if text not in spec.choices:
            raise GeoQuizError(f"{where} must be one of {', '.join(spec.choices)}, got {value!r}")
        return text
    try:
        if isinstance(text, bool):
            raise ValueError
        if spec.kind == "int":
            number: Any = int(text) if not isinstance(text, float) or text.is_integer() else None
            if number is None:
                raise ValueError
        else:
            number = float(text)
            if number != number:  # NaN
                raise ValueError
    except (TypeError, ValueError):
        kind = "a whole number" if spec.kind == "int" else "a number"
        raise GeoQuizError(f"{where} must be {kind}, got {value!r}") from None
    if spec.minimum is not None and number < spec.minimum:
        upper = f" and at most {spec.maximum:g}" if spec.maximum is not None else ""
        raise GeoQuizError(f"{where} must be at least {spec.minimum:g}{upper}, got {value!r}")
    if spec.maximum is not None and number > spec.maximum:
        raise GeoQuizError(f"{where} must be at most {spec.maximum:g}, got {value!r}")
    return number


def check_method_params(params: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """``{method: {name: value}}`` checked and converted (unknown methods or names, bad values:
    :class:`GeoQuizError` naming ``method.name``)."""
    out: dict[str, dict[str, Any]] = {}
    for method, values in (params or {}).items():
        if not isinstance(values, Mapping):
            raise GeoQuizError(f"the parameters of {method} must be a table of name = value")
        out[method] = {name: coerce(spec_of(method, name), v) for name, v in values.items()}
    return out


def parse_method_params(texts: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``["scorecam.channels=256", ...]`` -> ``{"scorecam": {"channels": 256}}`` (checked; a later
    assignment of the same parameter wins)."""
    out: dict[str, dict[str, Any]] = {}
    for text in texts:
        key, sep, value = str(text).partition("=")
        method, dot, name = key.strip().partition(".")
        if not sep or not dot or not method or not name.strip() or not value.strip():
            raise GeoQuizError(
                f"--method-param expects METHOD.NAME=VALUE (e.g. scorecam.channels=256), got {text!r}"
            )
        spec = spec_of(method, name.strip())
        out.setdefault(method, {})[spec.name] = coerce(spec, value)
    return out


def describe(params: Mapping[str, Mapping[str, Any]] | None, methods: Sequence[str] | None = None) -> str:
    """``"scorecam.channels=256, scorecam.batch_size=32"`` (methods in order; none: ``"defaults"``)."""
    params = params or {}
    names = list(methods) if methods is not None else list(params)
    parts = [f"{m}.{k}={v}" for m in names for k, v in sorted((params.get(m) or {}).items())]
    return ", ".join(parts) if parts else "none"


def differences(old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The parameters whose values differ: ``["scorecam.channels: 512 -> 256", ...]``."""
    out = []
    for method in sorted(set(old) | set(new)):
        a, b = dict(old.get(method) or {}), dict(new.get(method) or {})
        for name in sorted(set(a) | set(b)):
            if a.get(name, "(unset)") != b.get(name, "(unset)"):
                out.append(f"{method}.{name}: {a.get(name, '(unset)')} -> {b.get(name, '(unset)')}")
    return out


__all__ = [
    "PARAMS",
    "ParamSpec",
    "check_method_params",
    "coerce",
    "defaults_of",
    "describe",
    "differences",
    "parse_method_params",
    "spec_of",
]
