"""Torch device choice: CUDA when present, else CPU. Imports torch lazily."""

from __future__ import annotations


def resolve_device(name: str = "auto"):
    """``auto`` -> ``cuda`` if available else ``cpu``; ``cpu``/``cuda``/``cuda:N`` pass through."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
