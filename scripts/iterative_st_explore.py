"""Does a localisation net looking twice at its input help (ST-FCN or ST-CNN)? On validation.

    python scripts/iterative_st_explore.py --dataset rts --model st-fcn-aff --steps 2 --seed 0
    python scripts/iterative_st_explore.py --dataset rts --model st-fcn-aff --steps 1 --seed 0

An inverse compositional spatial transformer (Lin & Lucey, CVPR 2017;
``SpatialTransformer(iterations=)``): the localisation net looks at the input, predicts a warp,
looks again at the input warped by it and predicts a correction, which composes with the first
warp (``Transform.refine``); the input is sampled once with the result. The same parameters
(``--steps 1`` is the paper's transformer), one more localisation pass and one more sampling per
step. Builds ``--model`` as the registry does with ``--steps`` looks, trains it with the column's
recipe on the first 50,000 training digits and prints the error on the validation set made of
the last 10,000 (`torchstn.data.validation_set`): the test set is not looked at.

Measured 2026-11-29 (results/recipe_study.md, session 18), RTS ST-FCN Aff, 70 epochs, seeds
0/1: 1.14/1.17% with 2 looks against 1.27/1.33% with one (session 16's runs of the same model);
session 19, both arms side by side: RTS ST-FCN Proj 1.24/1.10% against 1.59/1.46%, Tps
1.16/1.18% against 1.42/1.31%; the 28x28 ST-FCNs (R, P, E) lower in 13 pairs of 14. Adopted
for the ST-FCNs of R, RTS, P and E and the TC ST-FCN Aff (``choices.ST_FCN_ITERATIONS``); the
RTS ST-CNN Aff does not gain (0.72/0.69% against 0.71/0.56%). Session 20: three looks for the R
ST-FCN Aff, seeds 0-3: 1.58/1.61/1.53/1.38% against 1.46/1.36/1.37/1.31% for two; not adopted.
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

from torchstn.models import registry
from torchstn.reproduce.recipes import RECIPES


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="rts", choices=sorted(RECIPES))
    p.add_argument("--model", default="st-fcn-aff", help="an ST-FCN or ST-CNN model of the "
                   "data set")
    p.add_argument("--steps", type=int, default=2, help="how many times the localisation "
                   "net looks (1: the paper's transformer)")
    add_run_arguments(p)
    p.add_argument("--out", default="runs/explore/iterative")
    a = p.parse_args()

    def build_model(name, in_shape, num_classes):
        spec = registry.model_spec(name, in_shape, num_classes, iterations=a.steps)
        return registry.build_from_spec(spec)

    changed = recipe_changes(a)
    out = Path(a.out) / (f"{a.dataset}-{a.model}-steps{a.steps}-e{a.epochs}{changes_tag(changed)}"
                          f"-seed{a.seed}")
    errors = train_on_validation(a.dataset, a.model, a.epochs, a.seed, a.threads, out,
                                build_model, changed)
    if errors is not None:
        report({"dataset": a.dataset, "model": a.model, "steps": a.steps, "epochs": a.epochs,
                "seed": a.seed, **changed, **errors}, out)


if __name__ == "__main__":
    main()
