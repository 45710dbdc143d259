"""The run folder: what it holds, starting a run in it, and resuming one from it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ..io import LAST_FILE, MODEL_FILE, STATE_FILE
from .checkpoint import load_state
from .config import CONFIG_FILE, TrainConfig
from .metrics import METRICS_FILE, TENSORBOARD_DIR

SUMMARY_FILE = "summary.json"
RUN_FILES = (STATE_FILE, LAST_FILE, MODEL_FILE, SUMMARY_FILE, METRICS_FILE, CONFIG_FILE)
# Settings that may differ when a run is resumed; anything else must match the saved config.
RESUME_OVERRIDABLE = ("epochs", "threads", "device", "tensorboard", "out", "data_root",
                      "prefetch")
STATE_KEYS = ("config", "model", "optimizer", "epoch", "step", "batches_done", "stats", "rng")


def prepare_run_dir(run_dir: Path, overwrite: bool) -> None:
    """Refuse to silently mix two runs in one folder; ``overwrite`` clears the old one."""
    taken = [n for n in RUN_FILES if (run_dir / n).exists()]
    if taken and not overwrite:
        raise ValueError(f"run folder {str(run_dir)!r} already holds a run ({taken[0]}); pass "
                         "--resume to continue it or --overwrite to start again")
    for n in taken:
        (run_dir / n).unlink()
    if overwrite and (run_dir / TENSORBOARD_DIR).is_dir():
        shutil.rmtree(run_dir / TENSORBOARD_DIR)


def load_resume_state(run_dir: Path, resume: str | bool) -> dict[str, Any]:
    """The training state of ``run_dir`` (``resume=True``) or of the file ``resume``."""
    path = str(run_dir / STATE_FILE) if resume is True else str(resume)
    state = load_state(path)
    missing = [k for k in STATE_KEYS if k not in state]
    if missing:
        raise ValueError(f"checkpoint {path!r} is not a torchstn training state "
                         f"(missing {', '.join(missing)})")
    return state


def resume_config(state: dict[str, Any], overrides: dict[str, Any]) -> TrainConfig:
    """The saved config, with the settings a resume may change taken from ``overrides``."""
    d = TrainConfig.from_dict(state["config"]).to_dict()
    for k, v in overrides.items():
        if v is None or k not in d:
            continue
        if k in RESUME_OVERRIDABLE:
            d[k] = v
        elif _as_list(v) != _as_list(d[k]):
            raise ValueError(f"--resume: {k} was {d[k]!r} in the saved run, got {v!r}; only "
                             f"{', '.join(RESUME_OVERRIDABLE)} may change when resuming")
    return TrainConfig.from_dict(d).resolved()


def _as_list(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v
