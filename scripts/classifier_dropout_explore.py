"""Does dropout or batch norm in an FCN classifier help an ST-FCN? Exploratory, on validation.

    python scripts/classifier_dropout_explore.py --dataset rts --model st-fcn-aff --p 0.2
    python scripts/classifier_dropout_explore.py --dataset rts --model st-fcn-aff --p 0
    python scripts/classifier_dropout_explore.py --dataset tc --model st-fcn-aff --p 0 --batchnorm

Builds ``--model`` as the registry does and puts ``nn.Dropout(p)`` after every ReLU of its
classifier (not of the localisation net: dropout there would jitter the transform), trains it
with the column's recipe on the first 50,000 training digits and prints the error on the
validation set made of the last 10,000 (`torchstn.data.validation_set`): the test set is not
looked at. ``--p 0`` is the unchanged model, the baseline to compare with.

Measured 2026-11-27 (results/recipe_study.md, session 14): RTS ST-FCN Aff, 70 epochs, seed 0:
1.31% without dropout, 1.50% with p = 0.2. Not adopted.

``--batchnorm`` puts ``nn.BatchNorm1d`` between every hidden fully connected layer of the
classifier and its ReLU (the paper's FCN has none), on the widths the registry fits without it:
its 2 trained values per unit leave the parameter count within the budget's tolerance.
``--no-batchnorm`` is the model without it; neither flag, the registry's model. Measured
2026-11-28/29 (results/recipe_study.md, session 17): TC ST-FCN Aff, 70 epochs, seeds 0-3:
2.07, 2.15, 2.17, 2.20% with batch norm against 2.15, 2.49, 2.36, 2.59% without. Adopted
(``choices.FCN_BATCHNORM``). Session 20: RTS ST-FCN Aff with two looks, seeds 0/1: 1.07/1.11%
with batch norm against 1.24/1.23% without (``iterative_st_explore.py --steps 2``). Adopted for
RTS too.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

# scripts/ is on the path
from loc_pool_explore import (
    add_run_arguments,
    changes_tag,
    recipe_changes,
    report,
    train_on_validation,
)
from torch import nn

from torchstn.models import registry
from torchstn.reproduce.recipes import RECIPES


def with_dropout(classifier: nn.Sequential, p: float) -> nn.Sequential:
    """``classifier`` with ``nn.Dropout(p)`` after each ReLU (the same layer objects)."""
    layers: list[nn.Module] = []
    for layer in classifier:
        layers.append(layer)
        if isinstance(layer, nn.ReLU):
            layers.append(nn.Dropout(p))
    return nn.Sequential(*layers)


def with_loc_batchnorm(model: nn.Module) -> None:
    """Put ``nn.BatchNorm1d`` between each fc layer of ``model``'s ST-FCN localisation net and
    its ReLU (in place; the regression layer after them keeps its identity initialisation)."""
    fc = model.transformer.localization[-1]
    layers: list[nn.Module] = []
    for layer in fc:
        layers.append(layer)
        if isinstance(layer, nn.Linear):
            layers.append(nn.BatchNorm1d(layer.out_features))
    model.transformer.localization[-1] = nn.Sequential(*layers)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="rts", choices=sorted(RECIPES))
    p.add_argument("--model", default="st-fcn-aff", help="a model with an FCN classifier")
    p.add_argument("--p", type=float, default=0.2, help="dropout probability (0: none)")
    p.add_argument("--batchnorm", action=argparse.BooleanOptionalAction, default=None,
                   help="batch norm before each hidden ReLU of the classifier, on the widths "
                        "fitted without it (default: the registry's model)")
    p.add_argument("--loc-batchnorm", action="store_true",
                   help="batch norm in the ST-FCN localisation net too (exploration only)")
    add_run_arguments(p)
    p.add_argument("--out", default="runs/explore/dropout")
    a = p.parse_args()
    if not 0 <= a.p < 1:
        p.error(f"--p: expected a probability in [0, 1), got {a.p}")

    def build_model(name, in_shape, num_classes):
        spec = registry.model_spec(name, in_shape, num_classes)
        if a.batchnorm is not None:  # measured this way: batch norm added, widths kept
            plain = registry.model_spec(name, in_shape, num_classes, batchnorm=False)
            spec = dataclasses.replace(plain, batchnorm=a.batchnorm)
        model = registry.build_from_spec(spec)
        if a.loc_batchnorm:
            with_loc_batchnorm(model)
        if a.p > 0:
            model.classifier = with_dropout(model.classifier, a.p)
        return model

    bn = {None: "", True: "-bn", False: "-nobn"}[a.batchnorm]
    bn += "-locbn" if a.loc_batchnorm else ""
    changed = recipe_changes(a)
    out = Path(a.out) / (f"{a.dataset}-{a.model}-p{a.p:g}{bn}"
                          f"-e{a.epochs}{changes_tag(changed)}-seed{a.seed}")
    errors = train_on_validation(a.dataset, a.model, a.epochs, a.seed, a.threads, out,
                                build_model, changed)
    if errors is not None:
        report({"dataset": a.dataset, "model": a.model, "p": a.p, "batchnorm": a.batchnorm,
                "loc_batchnorm": a.loc_batchnorm,
                "epochs": a.epochs, "seed": a.seed, **changed, **errors}, out)

if __name__ == "__main__":
    main()
