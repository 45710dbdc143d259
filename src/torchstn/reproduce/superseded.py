"""Runs of an older recipe or model: a column's results are those of its *current* recipe only.

When a column's recipe changes (:data:`torchstn.reproduce.recipes.RECIPES`), its finished runs
were trained with the old one; when the registry changes a model's architecture (a pool, the
widths), its runs trained an older model. Mixing them into the new column's mean would break the
rule of Table 1 (one recipe per column), so such a run is *superseded*: the report leaves it out
of the mean (and names it), and the driver trains that seed again after moving the old run
folder to ``<model>/superseded/`` (nothing is deleted). A run is compared on
:data:`RECIPE_FIELDS`, with the optimiser defaults filled in, and on its saved model record
(:func:`spec_changes`); settings that do not change what is learnt (threads, device, data
folder, prefetch, storage) never supersede a run.
"""

from __future__ import annotations

import argparse
import os
import shlex
import time
from pathlib import Path
from typing import Any

from ..train.config import TrainConfig
from .provenance import repo_root
from .recipes import recipe

RECIPE_FIELDS = ("epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay",
                 "decay_scope", "schedule", "lr_milestones", "lr_drop", "loc_lr_mult",
                 "grad_clip", "label_smoothing", "ema", "bf16", "limit")
SUPERSEDED_DIR = "superseded"  # beside the seed<k> folders of a cell


def recipe_changes(config: TrainConfig, dataset: str) -> dict[str, list[Any]]:
    """``{field: [the run's value, the recipe's value]}`` for every field of
    :data:`RECIPE_FIELDS` where a run's config departs from column ``dataset``'s current recipe;
    empty when the run follows it."""
    cfg = config.resolved()
    want = TrainConfig(dataset=dataset, model=cfg.model, out=cfg.out, **recipe(dataset)).resolved()
    return {f: [_plain(getattr(cfg, f)), _plain(getattr(want, f))] for f in RECIPE_FIELDS
            if getattr(cfg, f) != getattr(want, f)}


def config_changes(config: dict[str, Any] | None, dataset: str) -> dict[str, list[Any]]:
    """:func:`recipe_changes` of a run folder's saved ``config.json`` (``config``); empty when
    there is none or it does not parse: nothing to compare."""
    if not config:
        return {}
    try:
        return recipe_changes(TrainConfig.from_dict(config), dataset)
    except (ValueError, TypeError):
        return {}


def spec_changes(spec: dict[str, Any] | None, dataset: str) -> dict[str, list[Any]]:
    """``{field: [the run's value, the registry's]}`` for every field of a run's model record
    (``ModelSpec.to_dict()``, saved with its weights) that departs from the model the registry
    builds now for ``dataset``: a run of an older architecture. Empty when they agree or when
    there is nothing to compare."""
    from ..models import ModelSpec
    from ..models.registry import dataset_info, model_spec

    if not isinstance(spec, dict):
        return {}
    try:
        old = ModelSpec.from_dict(spec)
        new = model_spec(old.name, *dataset_info(dataset))
    except (ValueError, KeyError, TypeError):
        return {}
    # resolved: a record's missing pool means "the classifier's", a missing batchnorm False, a
    # missing iterations 1
    have = {**old.to_dict(), "loc_pool": old.localization_pool, "batchnorm": old.batchnorm,
            "iterations": old.iterations}
    want = {**new.to_dict(), "loc_pool": new.localization_pool, "batchnorm": new.batchnorm,
            "iterations": new.iterations}
    return {k: [have.get(k), want.get(k)] for k in sorted(have.keys() | want.keys())
            if have.get(k) != want.get(k)}


def model_file_changes(path: str | os.PathLike, dataset: str) -> dict[str, list[Any]]:
    """:func:`spec_changes` of the model record in ``path`` (a model file or a run folder);
    empty when there is no readable model there."""
    from ..io import read_model_record

    try:
        record = read_model_record(path)
    except (OSError, ValueError, RuntimeError):
        return {}
    return spec_changes(record.get("model"), dataset)


def record_changes(record: dict[str, Any], dataset: str,
                   root: str | os.PathLike | None = None) -> dict[str, list[Any]]:
    """How a run the committed report records departs from column ``dataset``: the
    :func:`recipe_changes` of its ``command`` (a ``torchstn train ...`` line) and the
    :func:`model_file_changes` of its ``checkpoint`` (relative to ``root``, by default the
    repository's); empty when neither can be read."""
    changes: dict[str, list[Any]] = {}
    command = record.get("command")
    if isinstance(command, str):
        try:
            changes.update(recipe_changes(config_from_command(command), dataset))
        except ValueError:
            pass
    checkpoint = record.get("checkpoint")
    if isinstance(checkpoint, str):
        path = Path(repo_root() if root is None else root) / checkpoint
        if path.is_file():
            changes.update(model_file_changes(path, dataset))
    return changes


def config_from_command(command: str) -> TrainConfig:
    """The :class:`TrainConfig` of a ``torchstn train ...`` command line."""
    from ..cli.train import config_from_args, register

    words = shlex.split(command)
    if len(words) < 2 or words[1] != "train":
        raise ValueError(f"not a `torchstn train` command: {command!r}")
    parser = _QuietParser(prog="torchstn")
    register(parser.add_subparsers(dest="command", parser_class=_QuietParser))
    args = parser.parse_args(words[1:])
    return config_from_args(args)


class _QuietParser(argparse.ArgumentParser):
    """Raises ``ValueError`` instead of printing usage and exiting."""

    def error(self, message: str):
        raise ValueError(message)


def describe(changes: dict[str, list[Any]]) -> str:
    """``"weight_decay 0.01 (recipe 0.1), pool 2 (model now 3)"``: recipe fields, then the
    model record's."""
    return ", ".join(f"{k} {had} ({'recipe' if k in RECIPE_FIELDS else 'model now'} {want})"
                     for k, (had, want) in changes.items())


def set_aside(path: Path, keep: tuple[str, ...] = ()) -> Path:
    """Move the contents of run folder ``path`` (except the names in ``keep``: the driver's lock)
    to ``<parent>/superseded/<name>-<UTC time>/``; the folder is left for a fresh run."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.parent / SUPERSEDED_DIR / f"{path.name}-{stamp}"
    n = 1
    while target.exists():  # two set-asides in one second
        n += 1
        target = path.parent / SUPERSEDED_DIR / f"{path.name}-{stamp}-{n}"
    target.mkdir(parents=True)
    for entry in path.iterdir():
        if entry.name not in keep:
            entry.rename(target / entry.name)
    return target


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
