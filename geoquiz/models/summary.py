"""How a model was trained, in a few lines of plain text (from its checkpoint metadata), for the
app's Model tab and reports."""

from __future__ import annotations

from geoquiz.models.store import ModelInfo

STOP_REASONS = {
    "epochs": "all epochs done",
    "early_stopping": "early stopping",
    "time": "time budget reached",
}


def training_summary(info: ModelInfo) -> list[str]:
    """``[headline, best epoch, data, recipe]`` (just the headline and a note for an imported
    checkpoint, which carries no training record)."""
    tr = info.metadata.get("training") or {}
    cfg = tr.get("config") or {}
    lines = [
        f"{info.name} · {info.arch}, {info.integration}, {info.input_size}px · created {info.created_at[:16]}"
    ]
    if not tr:
        return [*lines, "No training record (an imported checkpoint)."]
    best = tr.get("best_epoch")
    history = tr.get("history") or []
    best_row = next((h for h in history if h.get("epoch") == best), None)
    stop = STOP_REASONS.get(tr.get("stop_reason"), tr.get("stop_reason") or "run not finished")
    scores = f": val loss {best_row['val_loss']:.4f}, val acc {best_row['val_acc']:.1%}" if best_row else ""
    lines.append(f"best epoch {best} of {len(history)}{scores} ({stop})")
    lines.append(
        f"trained on {tr.get('dataset', '?')}: {tr.get('n_train', '?')} train, {tr.get('n_val', '?')} val "
        f"({tr.get('val_source', cfg.get('val_split', '?'))})"
    )
    if cfg:
        lines.append(
            f"init {cfg.get('init')}, lr {cfg.get('lr')}, wd {cfg.get('weight_decay')}, "
            f"batch {cfg.get('batch_size')}, smoothing {cfg.get('label_smoothing')}, "
            f"norm {cfg.get('normalization')}, schedule {cfg.get('scheduler')}, seed {cfg.get('seed')}"
            + (f", precision {tr['precision']}" if tr.get("precision") else "")
        )
    return lines


__all__ = ["STOP_REASONS", "training_summary"]
