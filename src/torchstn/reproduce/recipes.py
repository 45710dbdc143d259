"""Table 1 of the paper as data: its cells, the paper's test errors, and one training recipe per
column (data set).

The cells: the 8 models x 4 distortions of Table 1 (R, RTS, P, E), plus the translated-cluttered
MNIST row (TC) that the paper reports beside it with four models. The paper's "ST-FCN" and
"ST-CNN" on TC are taken to be the **affine** variants (``st-fcn-aff``, ``st-cnn-aff``): the
paper names no transform for TC and affine is its general-purpose choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..models.registry import VOLUME_MODEL_NAMES

TABLE1_DATASETS = ("r", "rts", "p", "e")
TABLE1_MODELS = ("fcn", "cnn", "st-fcn-aff", "st-fcn-proj", "st-fcn-tps", "st-cnn-aff",
                 "st-cnn-proj", "st-cnn-tps")
TC_MODELS = ("fcn", "cnn", "st-fcn-aff", "st-cnn-aff")  # ST variants on TC: affine (see above)
COLUMNS: dict[str, tuple[str, ...]] = {**{d: TABLE1_MODELS for d in TABLE1_DATASETS},
                                       "tc": TC_MODELS}
COLUMN_TITLES = {"r": "R", "rts": "RTS", "p": "P", "e": "E", "tc": "TC", "addition": "Addition",
                 "3d": "3D"}

# The paper's test errors in %: /work/shared/spec/PAPER.md §2 (Table 1, and the TC line below it).
# Reference values, not computed results.
_PAPER_TABLE = {  # model -> (R, RTS, P, E)
    "fcn": (2.1, 5.2, 3.1, 3.2),
    "cnn": (1.2, 0.8, 1.5, 1.4),
    "st-fcn-aff": (1.2, 0.8, 1.5, 2.7),
    "st-fcn-proj": (1.3, 0.9, 1.4, 2.6),
    "st-fcn-tps": (1.1, 0.8, 1.4, 2.4),
    "st-cnn-aff": (0.7, 0.5, 0.8, 1.2),
    "st-cnn-proj": (0.8, 0.6, 0.8, 1.3),
    "st-cnn-tps": (0.7, 0.5, 0.8, 1.1),
}
_PAPER_TC = {"fcn": 13.2, "cnn": 3.5, "st-fcn-aff": 2.0, "st-cnn-aff": 1.7}
# MNIST addition (appendix A.1, PAPER.md §3): one number per row of the paper's table, used for
# both the affine and the TPS variant of a row.
ADDITION_MODELS = ("fcn", "cnn", "st-fcn-aff", "st-fcn-tps", "2xst-fcn-aff", "2xst-fcn-tps")
_PAPER_ADDITION = {"fcn": 47.7, "cnn": 14.7, "st-fcn-aff": 18.5, "st-fcn-tps": 18.5,
                   "2xst-fcn-aff": 5.8, "2xst-fcn-tps": 5.8}
PAPER_ERRORS: dict[tuple[str, str], float] = {
    **{(d, m): row[i] for m, row in _PAPER_TABLE.items() for i, d in enumerate(TABLE1_DATASETS)},
    **{("tc", m): v for m, v in _PAPER_TC.items()},
    **{("addition", m): v for m, v in _PAPER_ADDITION.items()},
}

# 3D MNIST (appendix A.3, PAPER.md §3): the paper reports pictures only, no error; the models are
# the registry's volume models (proj-cnn: the same classifier without the transformer, st3d-cnn)
# experiment -> its columns (data set -> models); `torchstn reproduce <experiment>` trains them
EXPERIMENTS: dict[str, dict[str, tuple[str, ...]]] = {
    "table1": COLUMNS,
    "addition": {"addition": ADDITION_MODELS},
    "3d": {"3d": VOLUME_MODEL_NAMES},
}

# ---- recipes ---------------------------------------------------------------------------------
# A recipe is a dict of TrainConfig fields (any flag of `torchstn train`); it applies to every model
# of its column. When a recipe changes, the runs of the old one are superseded: left out of the
# report and trained again (torchstn.reproduce.superseded). The recipe below was chosen from short
# exploratory runs of st-cnn-aff and cnn on RTS whose test error was looked at (disclosed in
# results/exploration.md): AdamW with a one-cycle schedule reached 0.74% after 40 epochs (lr 2e-3)
# where the paper's SGD recipe needs far more steps; bf16 autocast trains ~1.3x faster on this CPU.
# 70 epochs of an ST-CNN on RTS fit in 30 minutes on one core of the 2-core development machine.
# results/recipe_study.md redoes the choice on the validation split (held-out training digits).
DEFAULT_RECIPE: dict[str, Any] = {
    "optimizer": "adamw",
    "lr": 2e-3,
    "schedule": "onecycle",
    "epochs": 70,
    "batch_size": 256,
    "bf16": True,
    "loc_lr_mult": 1.0,
}
RECIPES: dict[str, dict[str, Any]] = {
    d: dict(DEFAULT_RECIPE) for columns in EXPERIMENTS.values() for d in columns
}
# 3D: a 60^3 volume costs ~1 s per batch of 256 to generate on one core of the development
# machine (the 2D sets: milliseconds), so an epoch is ~8 minutes; 6 epochs fit a session's budget
RECIPES["3d"]["epochs"] = 6
# RTS: decoupled weight decay 0.1 instead of AdamW's 0.01, chosen on the validation split
# (results/recipe_study.md: RTS ST-CNN Aff 0.72% -> 0.54%, R ST-CNN Aff 0.84% -> 0.68% on held-out
# training digits; the ST-FCNs unchanged within noise, 1.40% -> 1.47%)
RECIPES["rts"]["weight_decay"] = 0.1
# RTS: batch 128 instead of 256, chosen on the validation split (results/recipe_study.md, session
# 22): ST-CNN Aff 0.67% -> 0.58% (mean of seeds 0-3, lower on 4 of 4), ST-CNN Tps 0.73% -> 0.63%
# (seed 0); the ST-FCN Aff 1.03% -> 1.06% (higher on 4 of 4: the price, within a run's spread)
RECIPES["rts"]["batch_size"] = 128
# R: the same change, on the same evidence (R ST-CNN Aff 0.84% -> 0.68% on validation, R ST-FCN Aff
# 1.41% -> 1.42%); chosen before any R test error under it was seen
RECIPES["r"]["weight_decay"] = 0.1
# Addition: at 70 epochs every model was still under-fitted (training accuracy at the last epoch:
# CNN 71%, 2xST-FCN Aff 85%, on freshly distorted pairs), so the column trained 150 epochs; at 150
# they still were (2xST-FCN Aff: 7.2% error on pairs of training digits, 8.6% on test pairs; CNN
# 19.7% and 21.5%), so the column now trains the paper's 150k iterations of batch 256: 640 epochs
RECIPES["addition"]["epochs"] = 640
# seeds per cell when --seeds is not given: one, so that a first full table fits about a day on a
# 2-core CPU; the paper averages 3 seeds, and the committed results are written with --seeds 3
DEFAULT_SEEDS = 1


@dataclass(frozen=True)
class Cell:
    """One cell of the table: a model trained on a data set."""

    dataset: str
    model: str

    @property
    def key(self) -> str:
        """``"rts:st-cnn-aff"``: the form ``--cells`` takes."""
        return f"{self.dataset}:{self.model}"

    @property
    def paper_error(self) -> float | None:
        """The paper's test error in % (PAPER.md §2); None where the paper gives none (3D)."""
        return PAPER_ERRORS.get((self.dataset, self.model))


def experiment_of(dataset: str) -> str:
    """The experiment whose cells train on ``dataset`` (``"table1"``, ``"addition"``)."""
    for name, columns in EXPERIMENTS.items():
        if dataset in columns:
            return name
    raise ValueError(f"no experiment trains on dataset {dataset!r}")


def all_cells(experiment: str = "table1") -> list[Cell]:
    """Every cell of ``experiment``, column by column (Table 1: R, RTS, P, E, TC), models in the
    paper's row order."""
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; expected one of: "
                         f"{', '.join(EXPERIMENTS)}")
    return [Cell(d, m) for d, models in EXPERIMENTS[experiment].items() for m in models]


def recipe(dataset: str) -> dict[str, Any]:
    """A copy of the training recipe of column ``dataset``."""
    if dataset not in RECIPES:
        raise ValueError(f"no recipe for dataset {dataset!r}; expected one of: "
                         f"{', '.join(RECIPES)}")
    return dict(RECIPES[dataset])
