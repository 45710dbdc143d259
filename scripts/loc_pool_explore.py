"""How much of its input should an ST-FCN's localisation net see? Exploratory, on validation.

    python scripts/loc_pool_explore.py --loc-pool 4 --epochs 70 --out runs/explore/addition
    python scripts/loc_pool_explore.py --loc-pool 2 --epochs 70 --out runs/explore/addition
    python scripts/loc_pool_explore.py --dataset r --model st-fcn-aff --loc-pool 2
    python scripts/loc_pool_explore.py --model 2xst-fcn-tps --weight-decay 0 --epochs 70
    python scripts/loc_pool_explore.py --model 2xst-fcn-tps --pool 3 --epochs 70
    python scripts/loc_pool_explore.py --dataset tc --model st-fcn-aff --loc-pool 2 --view 40

An ST-FCN's localisation net is three fully connected layers of 32 units; its first layer, fed
the input at the classifier's resolution, takes a large share of the parameter budget that every
model of a data set shares (`torchstn models --dataset DATASET`). This script builds ``--model``
with the localisation nets' input average-pooled ``--loc-pool`` times instead, fits the
classifier's width to the same budget, trains it with the column's recipe on the first 50,000
training digits and prints the error on the validation set made of the last 10,000
(`torchstn.data.validation_set`): the test set is not looked at. ``--lr`` and ``--weight-decay``
replace the recipe's, to compare recipes the same way (every validation script takes them).

Measured 2026-11-26 on the development machine (2 vCPU AMD EPYC Zen 4, one thread, 2-4 runs
sharing the cores), addition, 2xst-fcn-aff, 70 epochs, seed 0: validation error 16.09% with
--loc-pool 2 (classifier 35/35) and 9.93% with --loc-pool 4 (classifier 58/58). The registry's
parallel ST-FCNs now use the latter (`torchstn.models.registry.localization_pool`).

``--pool`` changes the average pool after the transformers instead, the budget unchanged (by
default the registry's: 2 on 42x42 for one transformer; 3 for the 2xST-FCNs since 2026-11-28,
`torchstn.models.registry.transformer_pool`, 2 before). 2026-11-28, the 2-vCPU Intel Xeon VM:
addition, 70 epochs, seed 0, pool 3 (classifier 115/115): 2xst-fcn-tps 6.69% (pool 2: 11.28%),
2xst-fcn-aff 6.47% (pool 2: 9.93%) (results/recipe_study.md, session 14). The registry adopted it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from torch import nn

import torchstn.train.loop as loop
from torchstn.data.sets import VALIDATION_SIZE, validation_set
from torchstn.evaluate import evaluate
from torchstn.models import registry
from torchstn.models.classifiers import count_parameters
from torchstn.models.st_models import DigitClassifier
from torchstn.reproduce.recipes import RECIPES
from torchstn.train.config import DECAY_SCOPES, OPTIMIZERS, TrainConfig

MNIST_TRAIN = 60_000
# the recipe fields that a flag of the same name may replace (add_run_arguments)
RECIPE_FLAGS = ("batch_size", "optimizer", "lr", "loc_lr_mult", "weight_decay", "decay_scope",
                "ema")


def build(name: str, in_shape, num_classes: int, loc_pool: int,
          pool: int | None = None, view: int | None = None) -> DigitClassifier:
    """``name`` (an ST-FCN or ``2xst-fcn-*`` model) with its localisation nets' input pooled
    ``loc_pool`` times, the transformer's output sampled at ``view`` x ``view`` pixels (None:
    the input's size) and pooled ``pool`` times (None: the registry's), and the classifier's
    width fitted to the data set's parameter budget
    (:func:`torchstn.models.registry.model_spec`)."""
    spec = registry.model_spec(name, tuple(in_shape), num_classes, loc_pool, pool, view)
    model = registry.build_from_spec(spec)
    target = count_parameters(registry.build_model("cnn", in_shape, num_classes))
    print(f"{name} loc-pool {loc_pool}, view {spec.view}, pool {spec.pool}: classifier widths "
          f"{'/'.join(map(str, spec.widths))}, total {count_parameters(model)} (CNN {target})",
          flush=True)
    return model


def train_on_validation(dataset: str, model: str, epochs: int, seed: int, threads: int,
                        out: Path, build_model, changed: dict) -> dict[str, float] | None:
    """Train ``model`` built by ``build_model`` (the registry's signature) with the column's
    recipe, ``changed`` replacing its fields, on the first 50,000 training digits; return the
    error (%) on the validation set of the last 10,000 as ``{"validation_error": e}``, or None
    while the run is unfinished. With ``changed["ema"]`` the error is the weight average's (what
    the run saves) and ``"validation_error_last_weights"`` adds that of the last weights, both
    from the one run. Re-running the same ``out`` resumes it."""
    from torchstn import load_model

    built: list[nn.Module] = []

    def build_and_keep(name, in_shape, num_classes, widths=None):
        built.append(build_model(name, in_shape, num_classes))
        return built[-1]

    loop.build_model = build_and_keep  # the trainer builds this variant instead of the registry's
    recipe = {k: v for k, v in RECIPES[dataset].items() if k in TrainConfig.__dataclass_fields__}
    cfg = TrainConfig(**{**recipe, **changed, "dataset": dataset, "model": model,
                         "out": str(out), "epochs": epochs, "seed": seed, "threads": threads,
                         "limit": MNIST_TRAIN - VALIDATION_SIZE, "tensorboard": False})
    result = loop.train(cfg, resume=(out / "state.pt").exists(), progress=False)
    if result.status != "done":
        return None
    x, y = validation_set(dataset)

    def error(m: nn.Module) -> float:
        return round(100 * evaluate(m.eval(), x, y)["error"], 2)

    if cfg.ema is None:
        return {"validation_error": error(built[-1])}
    return {"validation_error": error(load_model(out)),
            "validation_error_last_weights": error(built[-1])}


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """The flags every validation script shares: ``--epochs``, ``--seed``, ``--threads``, and
    ``--batch-size``/``--optimizer``/``--lr``/``--loc-lr-mult``/``--weight-decay``/
    ``--decay-scope``/``--ema`` to replace the column recipe's (:func:`recipe_changes`)."""
    p.add_argument("--epochs", type=int, default=70)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch-size", type=int, help="instead of the recipe's")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help="instead of the recipe's")
    p.add_argument("--lr", type=float, help="instead of the recipe's")
    p.add_argument("--loc-lr-mult", type=float, help="instead of the recipe's")
    p.add_argument("--weight-decay", type=float, help="instead of the recipe's")
    p.add_argument("--decay-scope", choices=DECAY_SCOPES, help="instead of the recipe's")
    p.add_argument("--ema", type=float, metavar="DECAY", help="keep a moving average of the "
                   "weights (`torchstn train --ema`): its error, and the last weights'")


def recipe_changes(a: argparse.Namespace) -> dict:
    """The recipe fields of :data:`RECIPE_FLAGS` that their flags replace (those given)."""
    return {k: getattr(a, k) for k in RECIPE_FLAGS if getattr(a, k) is not None}


def changes_tag(changed: dict) -> str:
    """A run-folder suffix naming the replaced recipe fields ("" when none): -weightdecay0.2."""
    return "".join(f"-{k.replace('_', '')}{v if isinstance(v, str) else format(v, 'g')}"
                   for k, v in changed.items())


def report(line: dict, out: Path) -> None:
    """Print the result line and keep it beside the run."""
    print("RESULT", json.dumps(line), flush=True)
    (out / "validation.json").write_text(json.dumps(line, indent=2) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="addition", choices=sorted(RECIPES))
    p.add_argument("--model", default="2xst-fcn-aff", help="an ST-FCN model of the data set")
    p.add_argument("--loc-pool", type=int, default=4)
    p.add_argument("--pool", type=int, help="the transformer output's average pool, instead of "
                   "the registry's (transformer_pool); the parameter budget stays the same")
    p.add_argument("--view", type=int, help="the side of the transformer's square output, "
                   "instead of the input's (the output size is free)")
    add_run_arguments(p)
    p.add_argument("--out", default="runs/explore/loc_pool")
    a = p.parse_args()
    changed = recipe_changes(a)
    tag = changes_tag(changed)
    tag += "" if a.pool is None else f"-pool{a.pool}"
    tag += "" if a.view is None else f"-view{a.view}"
    out = Path(a.out) / f"{a.dataset}-{a.model}-locpool{a.loc_pool}-e{a.epochs}{tag}-seed{a.seed}"
    errors = train_on_validation(
        a.dataset, a.model, a.epochs, a.seed, a.threads, out,
        lambda name, in_shape, num_classes: build(name, in_shape, num_classes, a.loc_pool,
                                                  a.pool, a.view),
        changed)
    if errors is not None:
        report({"dataset": a.dataset, "model": a.model, "loc_pool": a.loc_pool, "pool": a.pool,
                "view": a.view, "epochs": a.epochs, "seed": a.seed, **changed,
                **errors}, out)

if __name__ == "__main__":
    main()
