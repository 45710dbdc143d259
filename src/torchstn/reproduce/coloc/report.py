"""The report: ``colocalisation.json`` (the result rows) and ``colocalisation.md`` (the table
of each class's share localised, the recipe's departures from the paper, the runs)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..provenance import now
from .config import DIGITS, ENCODER, IOU_THRESHOLD, LEGACY_ENCODER, N_IMAGES, PER_SETTING
from .figure import FIGURE_IMAGES, FIGURE_NAME

JSON_NAME = "colocalisation.json"
MD_NAME = "colocalisation.md"
PAPER = {False: "100", True: "75–93"}  # % localised per class (PAPER.md §3)
SPLIT_WORDS = {"train": "training", "test": "test"}


def _rate(rows: list[dict[str, Any]], digit: int, clutter: bool) -> str:
    row = next((r for r in rows if r["digit"] == digit and r["clutter"] == clutter), None)
    return "not run" if row is None else f"{100 * row['localised']:.0f}"


def _by_setting(rows: list[dict[str, Any]], get: Callable[[dict[str, Any]], Any]
                ) -> dict[bool, Any]:
    """``get`` of the first row of each setting the rows hold."""
    return {c: next(get(r) for r in rows if r["clutter"] == c)
            for c in (False, True) if any(r["clutter"] == c for r in rows)}


def _encoders(rows: list[dict[str, Any]]) -> dict[bool, str]:
    """The encoder of each setting the rows hold."""
    return _by_setting(rows, lambda r: r.get("encoder", LEGACY_ENCODER))


def _per_setting(values: dict[bool, str], show: Callable[[str], str], both: str) -> str:
    """``show`` of the one value (an encoder, an embedding's words) the settings share, else
    ``both`` filled with ``show`` of the value without clutter ({0}) and with it ({1})."""
    if len(set(values.values())) == 1:
        return show(next(iter(values.values())))
    return both.format(show(values[False]), show(values[True]))


def _encoder_words(path: str) -> str:
    """``checkpoints/rts/cnn-seed0.safetensors`` -> "the RTS column's CNN"; else the path."""
    parts = Path(path).parts
    if len(parts) == 3 and parts[0] == "checkpoints" and parts[2].startswith("cnn-seed"):
        return f"the {parts[1].upper()} column's CNN"
    return f"`{path}`"


def _embedding_words(config: dict[str, Any]) -> str:
    """What a setting's recipe (a result row's ``config``) embeds views by."""
    return {"features": "the encoder's last hidden activations, L2-normalised (`features`)",
            "maps": "the encoder's last convolutional feature maps, L2-normalised (`maps`)",
            }.get(config.get("embedding", "softmax"),
                  "the softmax of the logits minus an empty view's (`contrast`)"
                  if config.get("contrast") else "the encoder's softmax")


def _departures(configs: dict[bool, dict[str, Any]], encoders: dict[bool, str] | None = None
                ) -> str:
    """The report's clause naming how a recipe (each setting's result rows' ``config`` and
    encoder) departs from the paper's description."""
    both = "{0} without clutter and {1} with it"
    config = next(iter(configs.values()), {})
    parts = [f"the encoder is {_per_setting(encoders or {False: ENCODER}, _encoder_words, both)}",
             "the scale follows a fixed curriculum (1 → 28/84) instead of being learned"]
    if config.get("inside"):
        parts.append("the view stays inside the canvas (`inside`)")
    embedding = _per_setting({c: _embedding_words(v) for c, v in configs.items()} or
                             {False: _embedding_words({})}, str, both)
    if any(v.get("embedding") in ("features", "maps") for v in configs.values()):
        embedding += " (the paper says \"activations\" and names no layer)"
    parts.append(f"the embedding is {embedding}")
    if config.get("refine"):
        stages = ", ".join(f"`{p}` for {n} steps" for p, n in config["refine"])
        parts.append("after the curriculum the view is refined with other CNNs as the embedding "
                     f"(`refine`: {stages})")
    return ", ".join(parts[:-1]) + ", and " + parts[-1]


def render_markdown(rows: list[dict[str, Any]], figure: Path | None) -> str:
    header = "| Setting | " + " | ".join(str(d) for d in DIGITS) + " | Mean | Paper |"
    lines = [
        "# Co-localisation: share of images localised (%)", "",
        f"Written by `torchstn reproduce coloc` on {now()}; rewrite it from the result files "
        "with `torchstn reproduce coloc --report-only`.", "",
        f"For each digit class, {rows[0]['images'] if rows else N_IMAGES} MNIST "
        f"{SPLIT_WORDS[rows[0].get('split', 'train') if rows else 'train']} digits "
        "at random places on an 84x84 black canvas (*with clutter*: plus 16 random 6x6 pieces "
        "of other digits; "
        "`torchstn.data.coloc_set`). Only the triplet hinge loss trains the attention "
        "transformer; no box or label is used. An image counts as localised when the "
        f"transformer's box has IoU > {IOU_THRESHOLD} with the digit's true 28x28 box. *Paper*: "
        "Jaderberg et al. (2015), appendix A.2 (100% without clutter, 75–93% per class with "
        "it; no per-class numbers are given). Choices that differ from the paper's description, "
        "see `torchstn.reproduce.coloc`: "
        + _departures(_by_setting(rows, lambda r: r["config"]), _encoders(rows))
        + ". Each class is "
        "trained from `restarts` seeds and the run of lowest training loss is kept (no box is "
        "used to choose). Disclosure: the protocol has no held-out images, and the recipe "
        "(encoder, embedding, restarts, inside constraint, refinement) was chosen after "
        "measuring the localisation of some classes of these same sets "
        "(`results/coloc_exploration.md`); "
        "`--split test` repeats the experiment on sets drawn from the MNIST test digits "
        "instead.", "",
        header, "|" + "---|" * (len(DIGITS) + 3),
    ]
    for clutter in (False, True):
        mine = [r for r in rows if r["clutter"] == clutter]
        # one decimal: a mean of 99.8 is not the 100 of the paper
        mean = (f"{100 * sum(r['localised'] for r in mine) / len(mine):.1f}" if mine else "—")
        lines.append(f"| {'with clutter' if clutter else 'no clutter'} | "
                     + " | ".join(_rate(rows, d, clutter) for d in DIGITS)
                     + f" | {mean} | {PAPER[clutter]} |")
    lines.append("")
    if figure is not None:
        lines += ["## Predicted boxes", "", f"![coloc](figures/{figure.name})", "",
                  f"The first {FIGURE_IMAGES} images of each class: the true box in green, the "
                  "transformer's box in red; left without clutter, right with it.", ""]
    if rows:
        r0 = rows[0]
        cfg = ", ".join(f"{k} {_setting_text(rows, k) if k in PER_SETTING else v}"
                        for k, v in r0["config"].items()
                        if k != "encoder" and not k.startswith("clutter_"))
        encoder = _per_setting(_encoders(rows), lambda p: f"`{p}`",
                               "{0} without clutter, {1} with clutter")
        lines += [
            "## Runs", "",
            f"Recipe: Adam on all {r0['images']} images per step, {cfg} (scale held at 1 → 28/84 "
            f"over the first `anneal` share of the steps). Encoder: {encoder}.", "",
            "| Class | Localised (%) | Mean IoU | Loss of each restart (kept in bold) | "
            "Wall time (s) | Machine | Commit |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            dirty = " (uncommitted changes)" if r.get("dirty") else ""
            losses = r.get("restart_losses", [r["final_loss"]])
            kept = r.get("kept_restart", 0)
            shown = ", ".join(f"**{v:.3f}**" if k == kept else f"{v:.3f}"
                              for k, v in enumerate(losses))
            lines.append(
                f"| {r['digit']}{' clutter' if r['clutter'] else ''} | "
                f"{100 * r['localised']:.0f} | {r['mean_iou']:.2f} | {shown} | "
                f"{r['wall_time_s']:.0f} | {r['machine']} (cpu, {r['threads']} threads) | "
                f"{(r.get('commit') or 'unknown')[:10]}{dirty} |")
        made = {}  # command -> the settings of the rows it made
        for r in rows:
            if r.get("command"):
                made.setdefault(r["command"], set()).add(r["clutter"])
        lines += ["", "Commands (each with the settings whose result files it wrote):", ""]
        for command, settings in sorted(made.items()):
            words = " and ".join("with clutter" if c else "no clutter" for c in sorted(settings))
            lines += [f"    # {words}", f"    {command}"]
        lines.append("")
    return "\n".join(lines)


def _setting_text(rows: list[dict[str, Any]], key: str) -> str:
    """The rows' recipe's ``key`` (``restarts``, ``embedding``): one value, or one per
    setting."""
    values = {c: sorted({str(r["config"].get(key)) for r in rows if r["clutter"] == c})
              for c in (False, True)}
    if values[False] == values[True] or not values[True] or not values[False]:
        return ", ".join(sorted(set(values[False] + values[True]), key=_natural))
    words = {False: "without clutter", True: "with clutter"}
    return ", ".join(f"{'/'.join(values[c])} {words[c]}" for c in (False, True))


def _natural(text: str) -> tuple[int, str]:
    """Numbers by value, then words: ``"3" < "8" < "12"``."""
    return (int(text), "") if text.isdigit() else (1 << 62, text)


def write_report(rows: list[dict[str, Any]], results_dir: str | os.PathLike,
                 figure: Path | None = None) -> tuple[Path, Path]:
    """``colocalisation.json`` (one object per class and setting) and ``colocalisation.md``."""
    from ...train.checkpoint import atomic_write_text

    results_dir = Path(results_dir)
    if figure is None and (results_dir / "figures" / FIGURE_NAME).exists():
        figure = results_dir / "figures" / FIGURE_NAME
    js = atomic_write_text(results_dir / JSON_NAME, json.dumps(rows, indent=2) + "\n")
    md = atomic_write_text(results_dir / MD_NAME, render_markdown(rows, figure))
    return js, md
