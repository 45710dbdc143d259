"""Does batch norm or dropout in a CNN classifier help an ST-CNN? Exploratory, on validation.

    python scripts/cnn_classifier_explore.py --dataset rts --model st-cnn-aff --batchnorm
    python scripts/cnn_classifier_explore.py --dataset rts --model st-cnn-aff --dropout 0.3

Builds ``--model`` (a CNN or an ST-CNN) as the registry does, then changes its classifier (not
the localisation net): ``--batchnorm`` puts ``nn.BatchNorm2d`` between each convolution and its
ReLU (the paper's CNN has none; 2 trained values per channel, on the registry's widths),
``--dropout P`` puts ``nn.Dropout(P)`` before the final linear layer. Trains it with the
column's recipe on the first 50,000 training digits and prints the error on the validation set
made of the last 10,000 (`torchstn.data.validation_set`): the test set is not looked at. Neither
flag is the registry's model (the baseline: ``scripts/iterative_st_explore.py --steps 1`` trains
the same model and run, with its results in results/recipe_study.md).

Measured 2026-11-29 (results/recipe_study.md, session 20): RTS ST-CNN Aff, 70 epochs: batch norm
0.71% (seed 0) against 0.71%; dropout 0.3 0.65/0.68% (seeds 0/1) against 0.71/0.56%. Neither
adopted.
"""

from __future__ import annotations

import argparse
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


def with_batchnorm(classifier: nn.Sequential) -> nn.Sequential:
    """``classifier`` with ``nn.BatchNorm2d`` after each convolution (the same layer objects)."""
    layers: list[nn.Module] = []
    for layer in classifier:
        layers.append(layer)
        if isinstance(layer, nn.Conv2d):
            layers.append(nn.BatchNorm2d(layer.out_channels))
    return nn.Sequential(*layers)


def with_dropout(classifier: nn.Sequential, p: float) -> nn.Sequential:
    """``classifier`` with ``nn.Dropout(p)`` before its last linear layer."""
    last = max(i for i, layer in enumerate(classifier) if isinstance(layer, nn.Linear))
    layers = list(classifier)
    return nn.Sequential(*layers[:last], nn.Dropout(p), *layers[last:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="rts", choices=sorted(RECIPES))
    p.add_argument("--model", default="st-cnn-aff", help="a CNN or ST-CNN model of the data set")
    p.add_argument("--batchnorm", action="store_true",
                   help="batch norm between each convolution of the classifier and its ReLU")
    p.add_argument("--dropout", type=float, default=0.0,
                   help="dropout probability before the classifier's last layer (0: none)")
    add_run_arguments(p)
    p.add_argument("--out", default="runs/explore/cnn_classifier")
    a = p.parse_args()
    if not 0 <= a.dropout < 1:
        p.error(f"--dropout: expected a probability in [0, 1), got {a.dropout}")
    if "cnn" not in a.model:
        p.error(f"--model: expected a CNN or an ST-CNN, got {a.model!r}")

    def build_model(name, in_shape, num_classes):
        model = registry.build_from_spec(registry.model_spec(name, in_shape, num_classes))
        if a.batchnorm:
            model.classifier = with_batchnorm(model.classifier)
        if a.dropout > 0:
            model.classifier = with_dropout(model.classifier, a.dropout)
        return model

    changed = recipe_changes(a)
    tag = ("-bn" if a.batchnorm else "") + (f"-drop{a.dropout:g}" if a.dropout else "")
    tag += changes_tag(changed)
    out = Path(a.out) / f"{a.dataset}-{a.model}{tag}-e{a.epochs}-seed{a.seed}"
    errors = train_on_validation(a.dataset, a.model, a.epochs, a.seed, a.threads, out,
                                build_model, changed)
    if errors is not None:
        report({"dataset": a.dataset, "model": a.model, "batchnorm": a.batchnorm,
                "dropout": a.dropout, "epochs": a.epochs, "seed": a.seed, **changed,
                **errors}, out)


if __name__ == "__main__":
    main()
