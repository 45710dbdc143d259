"""``torchstn reproduce coloc`` end to end: each class localised into its own result file
(only the missing classes and restarts run), then the report and the figure."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

import torch

from ..provenance import git_commit, machine_info, now
from .boxes import box_iou, predict_boxes
from .config import DIGITS, IOU_THRESHOLD, N_IMAGES, ColocConfig
from .embedding import Embed, make_embedding
from .figure import FIGURE_IMAGES, FIGURE_NAME, write_figure
from .fit import localise_best
from .report import write_report
from .runs import RUNS_DIR, _matches, _wanted, load_rows, result_path


def run_class(digit: int, clutter: bool, embed: Embed, cfg: ColocConfig, *,
              images: int = N_IMAGES, split: str = "train", root: str | None = None,
              log: TextIO | None = None, refine: Sequence[Embed] = (),
              previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Localise the first ``images`` of one class's set: the result row (share localised, mean
    IoU, the first boxes, provenance). ``cfg`` is one setting's recipe
    (:meth:`ColocConfig.for_setting`).

    ``previous``: this class's row from fewer restarts of the same recipe. Only the missing
    restarts run; a new one is kept when its loss is lower than the kept one's, which is the
    choice the full count of restarts would make (each restart depends on its seed alone)."""
    from ...data import coloc_set

    x, boxes = coloc_set(digit, images, clutter=clutter, root=root, split=split)
    old = previous["restart_losses"] if previous else []
    # the code that runs is the checkout's now, not when this class ends
    provenance = {**git_commit(), **machine_info(torch.get_num_threads(), "cpu")}
    start = time.perf_counter()
    st, losses, best = localise_best(x, embed, cfg, log,
                                     f"digit {digit}{' clutter' if clutter else ''} ", refine,
                                     first=len(old))
    wall = time.perf_counter() - start
    provenance["finished"] = now()
    # what every row says of the runs so far, whichever run it keeps
    runs = {"restart_losses": old + losses, "config": asdict(cfg),
            "wall_time_s": round(wall + (previous["wall_time_s"] if previous else 0.0), 1),
            **provenance,
            **({"extended_from": _extension_record(previous)} if previous else {})}
    if previous is not None and not losses[best] < previous["final_loss"]:
        return {**previous, **runs}
    pred = predict_boxes(st, x)
    iou = box_iou(pred, boxes)
    return {
        "digit": digit, "clutter": clutter,
        "localised": float((iou > IOU_THRESHOLD).float().mean()),
        "mean_iou": float(iou.mean()), "final_loss": losses[best],
        "kept_restart": len(old) + best, "images": images, "split": split,
        "boxes": [[round(v, 2) for v in b] for b in pred[:FIGURE_IMAGES].tolist()],
        **runs,
    }


def _extension_record(previous: dict[str, Any]) -> dict[str, Any]:
    """What a row extended with more restarts keeps of the run it extended."""
    return {"restarts": previous["config"]["restarts"], "commit": previous.get("commit"),
            "dirty": previous.get("dirty"), "finished": previous.get("finished"),
            "command": previous.get("command")}


def reproduce_coloc(digits=DIGITS, settings=(False, True), cfg: ColocConfig | None = None, *,
                    runs_dir: str | os.PathLike = RUNS_DIR,
                    results_dir: str | os.PathLike = "results", root: str | None = None,
                    report_only: bool = False, figure: bool = True, command: str = "",
                    images: int = N_IMAGES, split: str = "train", log: TextIO | None = None
                    ) -> list[dict[str, Any]]:
    """Localise every missing (digit, setting) into ``runs_dir`` (one JSON per class, so an
    interrupted run loses at most the class in progress), then write the report and figure."""
    from ...io import load_model
    from ...train.checkpoint import atomic_write_text

    log = log or sys.stderr
    digits = _check_digits(digits)
    if not settings or any(c not in (False, True) for c in settings):
        raise ValueError(f"settings: expected False (no clutter) and/or True, got {settings!r}")
    cfg = cfg or ColocConfig()
    done = {(r["digit"], r["clutter"]): r for r in load_rows(runs_dir, digits, settings)}
    extend, other = {}, []
    for key, row in sorted(done.items()):
        match = _matches(row, cfg.for_setting(key[1]), images, split)
        if match == "fewer restarts":
            extend[key] = row
        elif match != "same":
            other.append(key)
    if other and not report_only:
        raise ValueError(
            f"{runs_dir} holds results made with other settings than "
            f"{_wanted(cfg.for_setting(False), images, split)} (restarts "
            f"{cfg.for_setting(True).restarts} with clutter) for (digit, clutter) {other}: use "
            "another --runs-dir, or remove those files")
    todo = [(d, c) for c in settings for d in digits if (d, c) not in done or (d, c) in extend]
    if todo and not report_only:
        recipes = {c: cfg.for_setting(c) for _, c in todo}
        paths = sorted({r.encoder for r in recipes.values()})
        for path, what in [*((p, "encoder") for p in paths),
                           *((p, "refine") for p, _ in cfg.refine)]:
            if not Path(path).exists():
                raise FileNotFoundError(
                    f"{what}: {path} not found; expected a trained MNIST CNN checkpoint (the "
                    f"Table 1 CNNs: torchstn reproduce table1 --cells rts:cnn,p:cnn,e:cnn)")
        # each setting's own embedding (and refinement stages) under its own recipe
        embeds = {c: make_embedding(load_model(r.encoder), r) for c, r in recipes.items()}
        refine = {c: [make_embedding(load_model(p), r) for p, _ in cfg.refine]
                  for c, r in recipes.items()}
        for d, c in todo:
            row = run_class(d, c, embeds[c], recipes[c], images=images, split=split, root=root,
                            log=log, refine=refine[c], previous=extend.get((d, c)))
            row.update(encoder=recipes[c].encoder, command=command)
            atomic_write_text(result_path(runs_dir, d, c), json.dumps(row, indent=2) + "\n")
            print(f"digit {d}{' with clutter' if c else ''}: {row['localised']:.0%} localised "
                  f"(mean IoU {row['mean_iou']:.2f}, {row['wall_time_s']:.0f} s)", file=log,
                  flush=True)
    rows = load_rows(runs_dir, DIGITS, (False, True))
    fig = None
    if figure and rows:
        fig = write_figure(rows, Path(results_dir) / "figures" / FIGURE_NAME, root, log)
    write_report(rows, results_dir, fig)
    return rows


def _check_digits(digits: Iterable[int]) -> tuple[int, ...]:
    out = tuple(digits)
    if not out or any(not isinstance(d, int) or not 0 <= d <= 9 for d in out):
        raise ValueError(f"digits: expected classes in 0..9, got {digits!r}")
    return out
