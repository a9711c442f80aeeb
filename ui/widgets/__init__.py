"""Reusable Qt widgets (image canvas with overlays, ...). Qt only; they show what geoquiz computed."""
