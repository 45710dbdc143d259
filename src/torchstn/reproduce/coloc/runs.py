"""The result files: one JSON a class and setting under ``runs/coloc``, and whether one was
made by a setting's recipe (the same, the same with fewer restarts, or another)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .config import DIGITS, LEGACY_ENCODER, ColocConfig

RUNS_DIR = "runs/coloc"


def result_path(runs_dir: str | os.PathLike, digit: int, clutter: bool) -> Path:
    """The result file of one class and setting: ``runs_dir/{plain,clutter}/digit{d}.json``."""
    return Path(runs_dir) / ("clutter" if clutter else "plain") / f"digit{digit}.json"


def load_rows(runs_dir: str | os.PathLike, digits: Iterable[int] = DIGITS,
              settings: Iterable[bool] = (False, True)) -> list[dict[str, Any]]:
    """The finished class results in ``runs_dir`` (clutter-free first, by digit)."""
    rows = []
    for clutter in settings:
        for d in digits:
            path = result_path(runs_dir, d, clutter)
            if path.exists():
                rows.append(json.loads(path.read_text()))
    return rows


def _wanted(cfg: ColocConfig, images: int, split: str) -> dict[str, Any]:
    # as the JSON files hold it (tuples become lists)
    return json.loads(json.dumps({"config": asdict(cfg), "images": images, "split": split}))


def _matches(row: dict[str, Any], cfg: ColocConfig, images: int, split: str) -> str:
    """``"same"``: ``row`` was made by the setting's recipe ``cfg``; ``"fewer restarts"``: by
    it with fewer restarts (extendable); ``"other"``: by another recipe."""
    wanted = _wanted(cfg, images, split)
    got = {k: row.get(k, "train" if k == "split" else None) for k in wanted}
    # files from before ``clutter_restarts``, ``contrast`` and ``encoder`` were config fields:
    # their ``restarts`` is the setting's count, their embedding the plain softmax, their
    # encoder the row's
    got["config"] = {"clutter_restarts": None, "contrast": False, "clutter_encoder": None,
                     "embedding": "softmax", "clutter_embedding": None,
                     "encoder": row.get("encoder", LEGACY_ENCODER), **(got["config"] or {})}
    if got == wanted:
        return "same"
    restarts = got["config"].get("restarts")
    got["config"] = {**got["config"], "restarts": cfg.restarts}
    if got == wanted and isinstance(restarts, int) and restarts < cfg.restarts:
        return "fewer restarts"
    return "other"
