"""Where the model's side of an agreement run comes from: the :class:`Evidence` protocol and the
project's model through the Explainer (:class:`ExplainerEvidence`)."""

from __future__ import annotations

from typing import Any, Protocol

from geoquiz.types import Element, Heatmap, ImageItem, Location, Prediction


class Evidence(Protocol):
    """Where the model's side comes from (default: :class:`ExplainerEvidence`)."""

    def predict(self, item: ImageItem | Location) -> Prediction: ...

    def heatmaps(self, item: ImageItem | Location, method: str) -> list[Heatmap]: ...

    def elements(
        self, item: ImageItem | Location, method: str, segmenter: str, params: Any = None
    ) -> list[Element]: ...


class ExplainerEvidence:
    """The project's model through :class:`geoquiz.explain.Explainer` (cached maps and elements).
    Imports torch lazily, on first use."""

    def __init__(self, project: Any, model_name: str, *, device: str = "auto") -> None:
        self.project, self.model_name, self.device = project, model_name, device
        self._explainer = None

    @property
    def explainer(self) -> Any:
        if self._explainer is None:
            from geoquiz.explain import Explainer

            self._explainer = Explainer(self.project, self.model_name, device=self.device)
        return self._explainer

    def predict(self, item: ImageItem | Location) -> Prediction:
        from geoquiz.data.imageio import read_image
        from geoquiz.models.store import load_project_model

        model = load_project_model(self.project, self.model_name, device=self.device)
        image = (
            read_image(item.path)
            if isinstance(item, ImageItem)
            else [read_image(v.path) for v in item.ordered()]
        )
        return model.predict([image])[0]

    def heatmaps(self, item: ImageItem | Location, method: str) -> list[Heatmap]:
        return self.explainer.heatmaps(item, method)

    def elements(
        self, item: ImageItem | Location, method: str, segmenter: str, params: Any = None
    ) -> list[Element]:
        return self.explainer.elements(item, method, segmenter, params)
