"""Model registry keyed by the paper's names, with parameter-matched widths.

Names: ``fcn``, ``cnn`` and ``st-{fcn,cnn}-{aff,proj,tps,att,rts,pwa}``, plus the paper's
parallel form ``2xst-...`` (two transformers side by side, each seeing and warping every channel,
outputs concatenated channel-wise before the classifier: the MNIST-addition "2xST-FCN"), and
the 3D experiment's ``proj-cnn`` / ``st3d-cnn`` (:mod:`.volume`: a volume ``(D, H, W)`` seen as
an image through its maximum along depth, without or with a 3D affine transformer; both have
the same CNN, the comparison the paper makes, so they are not parameter-matched).
For one data set every model gets (within :data:`TOLERANCE`) the parameter count of the CNN
baseline with :data:`BASE_CNN_WIDTHS` filters: the FCN's hidden width and the ST models'
classifier widths are found by a search, so a transformer's localisation net is paid for by a
narrower classifier. What validation chose per input shape (the ST-FCNs' views, localisation
pools and looks, batch norm in the FCN classifiers) is read from :mod:`.choices`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..checks import check_bool, check_size
from ..modules import ParallelTransformers, SpatialTransformer
from . import choices
from .choices import MNIST_SIDE
from .classifiers import cnn_classifier, count_on_meta, count_parameters, fcn_classifier
from .st_models import DigitClassifier, cnn_transformer, fcn_transformer
from .volume import VIEW_POOL, VolumeView, volume_transformer

# suffix of the model name -> transform family
TRANSFORM_SUFFIXES = {
    "aff": "affine",
    "proj": "projective",
    "tps": "tps",
    "att": "attention",
    "rts": "rts",
    "pwa": "pwa",
}
CLASSIFIERS = ("fcn", "cnn")
MODEL_NAMES: tuple[str, ...] = (*CLASSIFIERS, *(
    f"st-{c}-{s}" for c in CLASSIFIERS for s in TRANSFORM_SUFFIXES
))
PARALLEL_PREFIX = "2x"  # "2xst-fcn-aff": two transformers in parallel
PARALLEL_COPIES = 2
PARALLEL_MODEL_NAMES: tuple[str, ...] = tuple(
    PARALLEL_PREFIX + n for n in MODEL_NAMES if n not in CLASSIFIERS
)
# volume models (data set "3d") -> transform family of their transformer
VOLUME_MODELS = {"proj-cnn": None, "st3d-cnn": "affine3d"}
VOLUME_MODEL_NAMES: tuple[str, ...] = tuple(VOLUME_MODELS)
ALL_MODEL_NAMES = MODEL_NAMES + PARALLEL_MODEL_NAMES + VOLUME_MODEL_NAMES
BASE_CNN_WIDTHS = (32, 64)  # paper: 32-64 filters [S]
CNN_WIDTH_RATIO = 2  # second conv has twice the filters of the first, as in the base CNN
TOLERANCE = 0.10  # every model within 10% of the CNN's parameter count
MAX_PARAMS = 500_000
# sanity limits on records read from files (far above anything the registry builds)
MAX_SIDE = 4096
MAX_LOAD_PARAMS = 100 * MAX_PARAMS
MAX_ITERATIONS = 8  # localisation passes of an iterative transformer a record may ask for
# inputs larger than a digit are average-pooled 2x (the paper's RTS and TC rule)
LARGE_INPUT_POOL = 2


@dataclass(frozen=True)
class ModelSpec:
    """Everything that rebuilds a model: stored as JSON beside its weights."""

    name: str
    in_shape: tuple[int, int, int]
    num_classes: int
    widths: tuple[int, ...]
    pool: int
    loc_pool: int | None = None  # the ST-FCN localisation nets' input pool (None: ``pool``)
    view: int | None = None  # the side of the transformers' square output (None: input's)
    batchnorm: bool = False  # an FCN classifier with batch norm before each hidden ReLU
    iterations: int = 1  # how many times the transformers' localisation nets look

    @property
    def localization_pool(self) -> int:
        return self.pool if self.loc_pool is None else self.loc_pool

    def to_dict(self) -> dict:
        d = {"name": self.name, "in_shape": list(self.in_shape),
             "num_classes": self.num_classes, "widths": list(self.widths), "pool": self.pool}
        optional = {"loc_pool": self.loc_pool, "view": self.view,
                    "batchnorm": self.batchnorm or None,
                    "iterations": None if self.iterations == 1 else self.iterations}
        return {**d, **{k: v for k, v in optional.items() if v is not None}}

    @classmethod
    def from_dict(cls, d: dict) -> ModelSpec:
        """The spec of a stored record, checked before anything is allocated for it."""
        try:
            spec = cls(name=str(d["name"]), in_shape=tuple(int(v) for v in d["in_shape"]),
                       num_classes=int(d["num_classes"]),
                       widths=tuple(int(v) for v in d["widths"]), pool=int(d["pool"]),
                       loc_pool=None if d.get("loc_pool") is None else int(d["loc_pool"]),
                       view=None if d.get("view") is None else int(d["view"]),
                       batchnorm=d.get("batchnorm", False),
                       iterations=d.get("iterations", 1))
        except (KeyError, TypeError, ValueError) as e:
            got = sorted(d) if isinstance(d, dict) else d
            raise ValueError(f"model record: expected name, in_shape, num_classes, widths, "
                             f"pool; got {got!r} ({e})") from None
        spec.validate()
        return spec

    def validate(self) -> None:
        """Sane sizes: a file cannot make the loader allocate an absurd model."""
        kind, _ = parse_name(self.name)
        c, h, w = check_size(self.in_shape, 3, "model record in_shape")
        check_size(self.widths, len(self.widths) or 1, "model record widths")
        check_size(self.num_classes, 1, "model record num_classes")
        check_size(self.pool, 1, "model record pool")
        check_size(self.localization_pool, 1, "model record loc_pool")
        check_loc_pool(self.name, self.localization_pool, self.pool, "model record loc_pool")
        smallest = max(self.pool, self.localization_pool)
        if max(c, h, w) > MAX_SIDE or h < smallest or w < smallest:
            raise ValueError(f"model record: in_shape {self.in_shape} with pool {self.pool} and "
                             f"loc_pool {self.localization_pool} is "
                             f"out of range (sides 1..{MAX_SIDE})")
        if self.view is not None:
            check_view(self.name, self.view, self.pool, "model record view")
        check_batchnorm(self.name, self.batchnorm, "model record batchnorm")
        check_iterations(self.name, self.iterations, "model record iterations")
        n = count_on_meta(_classifier_builder(kind, self.batchnorm),
                          _classifier_input(self.name, self.in_shape, self.pool, self.view),
                          self.num_classes, self.widths)
        if n > MAX_LOAD_PARAMS:
            raise ValueError(f"model record: a classifier of {n} parameters is out of range "
                             f"(at most {MAX_LOAD_PARAMS})")


def parse_name(name: str) -> tuple[str, str | None]:
    """``"st-cnn-aff"`` and ``"2xst-cnn-aff"`` -> ``("cnn", "affine")``; ``"fcn"`` ->
    ``("fcn", None)``; ``"st3d-cnn"`` -> ``("cnn", "affine3d")``."""
    if name not in ALL_MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; expected one of: "
                         f"{', '.join(ALL_MODEL_NAMES)}")
    if name in CLASSIFIERS:
        return name, None
    if name in VOLUME_MODELS:
        return "cnn", VOLUME_MODELS[name]
    _, kind, suffix = name.split("-")
    return kind, TRANSFORM_SUFFIXES[suffix]


def transformer_copies(name: str) -> int:
    """How many transformers model ``name`` runs in parallel (0 for the baselines)."""
    kind, transform = parse_name(name)
    if transform is None:
        return 0
    if name in VOLUME_MODELS:
        return 1
    return PARALLEL_COPIES if name.startswith(PARALLEL_PREFIX) else 1


def default_pool(in_shape: tuple[int, int, int]) -> int:
    """2 for inputs larger than an MNIST digit (RTS, TC, addition), else 1."""
    return LARGE_INPUT_POOL if min(in_shape[1:]) > MNIST_SIDE else 1


def _classifier_builder(kind: str, batchnorm: bool = False
                        ) -> Callable[[tuple[int, int, int], int, tuple[int, ...]], nn.Module]:
    if kind == "cnn":
        return cnn_classifier
    return functools.partial(fcn_classifier, batchnorm=batchnorm)


def _widths(kind: str, w: int) -> tuple[int, ...]:
    """Widths of a classifier from one size knob ``w``."""
    return (w, CNN_WIDTH_RATIO * w) if kind == "cnn" else (w, w)


def _pooled(in_shape: tuple[int, int, int], pool: int, copies: int = 1,
            view: int | None = None) -> tuple[int, int, int]:
    """The classifier's input: ``copies`` transformer outputs of side ``view`` (None: the
    input's; or the image), concatenated and pooled."""
    c, h, w = in_shape if view is None else (in_shape[0], view, view)
    return (c * max(copies, 1), h // pool, w // pool)


def _classifier_input(name: str, in_shape: tuple[int, int, int], pool: int,
                      view: int | None = None) -> tuple[int, int, int]:
    """``(C, H, W)`` of the classifier's input: a volume model's one-channel view, else
    :func:`_pooled`."""
    if name in VOLUME_MODELS:
        return (1, in_shape[1] // pool, in_shape[2] // pool)
    return _pooled(in_shape, pool, transformer_copies(name), view)


def has_fcn_classifier(name: str) -> bool:
    """Does model ``name`` classify with an FCN (the FCN baseline and the ST-FCNs)?"""
    kind, _ = parse_name(name)
    return kind == "fcn" and name not in VOLUME_MODELS


def is_st_fcn(name: str) -> bool:
    """Is model ``name`` an ST-FCN (one transformer or parallel ones; not a volume model)?"""
    return has_fcn_classifier(name) and parse_name(name)[1] is not None


def has_2d_transformer(name: str) -> bool:
    """Does model ``name`` have a 2D spatial transformer (an ST-FCN or an ST-CNN; not a volume
    model)?"""
    return name not in VOLUME_MODELS and parse_name(name)[1] is not None


def check_batchnorm(name: str, batchnorm: bool, what: str = "batchnorm") -> bool:
    """``batchnorm`` checked for model ``name``: a bool, True only for an FCN classifier."""
    if check_bool(batchnorm, what) and not has_fcn_classifier(name):
        raise ValueError(f"{what}: only models with an FCN classifier take batch norm, got "
                         f"model {name!r}")
    return batchnorm


def classifier_batchnorm(name: str, in_shape: tuple[int, int, int]) -> bool:
    """Does model ``name``'s classifier normalise its hidden layers on inputs ``in_shape``
    (:data:`~.choices.FCN_BATCHNORM`)?"""
    return has_fcn_classifier(name) and tuple(in_shape) in choices.FCN_BATCHNORM


def check_iterations(name: str, iterations: int, what: str = "iterations") -> int:
    """``iterations`` checked for model ``name``: an int in 1..:data:`MAX_ITERATIONS`, above 1
    only for a model with a 2D spatial transformer (an ST-FCN or an ST-CNN)."""
    if not isinstance(iterations, int) or isinstance(iterations, bool) \
            or not 1 <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"{what}: expected an int in 1..{MAX_ITERATIONS}, got {iterations!r}")
    if iterations > 1 and not has_2d_transformer(name):
        raise ValueError(f"{what}: expected 1 for {name!r} (only the transformers of ST-FCNs "
                         f"and ST-CNNs iterate), got {iterations}")
    return iterations


def transformer_iterations(name: str, in_shape: tuple[int, int, int]) -> int:
    """How many times model ``name``'s localisation nets look on inputs ``in_shape``
    (:data:`~.choices.ST_FCN_ITERATIONS`; 1 elsewhere)."""
    return choices.ST_FCN_ITERATIONS.get((name, tuple(in_shape)), 1)


def check_view(name: str, view: int, pool: int, what: str = "view") -> int:
    """``view`` (the side of a transformer's square output) checked for model ``name``: only
    2D ST models (ST-FCNs and ST-CNNs) take one, at least ``pool`` and at most
    :data:`MAX_SIDE` pixels a side."""
    if not has_2d_transformer(name):
        raise ValueError(f"{what}: only ST-FCN and ST-CNN models take an output view, got "
                         f"model {name!r}")
    if not isinstance(view, int) or not pool <= view <= MAX_SIDE:
        raise ValueError(f"{what}: expected an integer side in {pool}..{MAX_SIDE} (at least "
                         f"the pool, {pool}), got {view!r}")
    return view


def check_loc_pool(name: str, loc_pool: int, pool: int, what: str = "loc_pool") -> int:
    """``loc_pool`` (a localisation net's input pool) checked for model ``name``: only ST-FCNs
    take one other than the classifier's ``pool``; an ST-CNN's localisation net always reads the
    input pooled 2x after its own layers (``cnn_transformer``, PAPER.md §2), so a record or an
    argument that said otherwise would describe a model that is not the one built."""
    if loc_pool != pool and not is_st_fcn(name):
        raise ValueError(f"{what}: only ST-FCN models take a localisation pool other than the "
                         f"classifier's ({pool}), got {loc_pool} for model {name!r}")
    return loc_pool


def transformer_pool(name: str, in_shape: tuple[int, int, int]) -> int:
    """The average pool between model ``name``'s transformer(s) and its classifier:
    :func:`default_pool`, raised for parallel ST-FCNs until their transformers' concatenated
    outputs hold no more values than one output at :func:`default_pool` (what a single ST-FCN's
    classifier reads). On MNIST addition (2x42x42) the 2xST-FCNs' 4x21x21 became 4x14x14: for the
    same parameter budget their classifier has 115 hidden units instead of 57, and the transformers
    can zoom so that a digit fills their view. Validation error at 70 epochs fell from 11.28% to
    6.69% (Tps) and from 9.93% to 6.47% (Aff) (``scripts/loc_pool_explore.py --pool 3``)."""
    base = default_pool(in_shape)
    copies = transformer_copies(name)
    if copies == 1 or not is_st_fcn(name):
        return base
    c, h, w = in_shape
    budget = c * (h // base) * (w // base)
    pool = base
    while copies * c * (h // pool) * (w // pool) > budget:
        pool += 1
    return pool


def transformer_view(name: str, in_shape: tuple[int, int, int]) -> int | None:
    """The side of model ``name``'s transformer output when it is not the input's: that of
    :data:`~.choices.ST_FCN_VIEWS` for a single ST-FCN, else None."""
    if not is_st_fcn(name) or transformer_copies(name) > 1:
        return None
    return choices.ST_FCN_VIEWS.get(tuple(in_shape))


def localization_pool(name: str, in_shape: tuple[int, int, int], pool: int) -> int:
    """The input pool of model ``name``'s ST-FCN localisation nets: for one transformer that of
    :data:`~.choices.ST_FCN_LOC_POOLS`, else ``pool`` (the classifier's); for parallel ST-FCNs
    :func:`default_pool` times the number of copies.
    Side by side, two nets that each see the whole input at the classifier's resolution took
    half of the parameter budget on MNIST addition (2x42x42) and left a classifier of two hidden
    layers of 35 units; seeing the input pooled 4x instead, the classifier gets 58 units and the
    validation error of the 2xST-FCN Aff fell from 16.09% to 9.93% at 70 epochs
    (``scripts/loc_pool_explore.py``)."""
    copies = transformer_copies(name)
    if not is_st_fcn(name):
        return pool
    if copies == 1:
        return choices.ST_FCN_LOC_POOLS.get(tuple(in_shape), pool)
    return default_pool(in_shape) * copies


def _transformer(name: str, in_shape: tuple[int, int, int], pool: int,
                 loc_pool: int | None = None, view: int | None = None,
                 iterations: int = 1) -> nn.Module | None:
    """The transformer(s) of model ``name``: None, one, :class:`ParallelTransformers`, or a
    volume model's :class:`~torchstn.models.volume.VolumeView`. ``loc_pool``: the ST-FCN
    localisation nets' input pool (default ``pool``); ``view``: the side of the
    transformers' square output (default the input's); ``iterations``: how many times their
    localisation nets look."""
    kind, transform = parse_name(name)
    if name in VOLUME_MODELS:
        return VolumeView(None if transform is None else volume_transformer(in_shape, pool), pool)
    if transform is None:
        return None

    out_size = None if view is None else (view, view)

    def one() -> SpatialTransformer:
        return (cnn_transformer(in_shape, transform, iterations, out_size) if kind == "cnn"
                else fcn_transformer(in_shape, transform, loc_pool or pool, out_size,
                                     iterations))

    copies = transformer_copies(name)
    return one() if copies == 1 else ParallelTransformers(*(one() for _ in range(copies)))


def build_from_spec(spec: ModelSpec) -> DigitClassifier:
    """The model of ``spec`` (freshly initialised)."""
    kind, _ = parse_name(spec.name)
    in_shape = check_size(tuple(spec.in_shape), 3, "in_shape")
    classifier = _classifier_builder(kind, spec.batchnorm)(
        _classifier_input(spec.name, in_shape, spec.pool, spec.view), spec.num_classes,
        spec.widths)
    transformer = _transformer(spec.name, in_shape, spec.pool, spec.localization_pool, spec.view,
                               spec.iterations)
    # a volume model's view pools by itself; the classifier reads it as it is
    pool = 1 if spec.name in VOLUME_MODELS else spec.pool
    model = DigitClassifier(classifier, in_shape, transformer, pool)
    model.spec = spec
    return model


def fit_width(count: Callable[[int], int], target: int) -> int:
    """Smallest-error ``w >= 1`` for a count that increases with ``w`` (doubling + bisection)."""
    hi = 1
    while count(hi) < target:
        hi *= 2
    lo = max(1, hi // 2)
    while hi - lo > 1:  # invariant: count(lo) < target <= count(hi), or lo == 1
        mid = (lo + hi) // 2
        if count(mid) < target:
            lo = mid
        else:
            hi = mid
    return min((lo, hi), key=lambda w: abs(count(w) - target))


def _pool_or(value: int | None, default: int, name: str) -> int:
    """``value`` (a pool factor given by the caller) checked, or ``default`` when it is None."""
    if value is None:
        return default
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected a positive integer or None, got {value!r}")
    return value


def model_spec(name: str, in_shape: tuple[int, int, int], num_classes: int,
               loc_pool: int | None = None, pool: int | None = None,
               view: int | None = None, batchnorm: bool | None = None,
               iterations: int | None = None) -> ModelSpec:
    """The parameter-matched spec of model ``name`` for inputs ``in_shape`` and ``num_classes``;
    ``loc_pool``: the ST-FCN localisation nets' input pool, if not :func:`localization_pool`'s;
    ``pool``: the average pool after the transformer, if not :func:`transformer_pool`'s (the
    parameter budget stays the CNN's at :func:`default_pool`); ``view``: the side of an ST
    model's transformer output (square), if not :func:`transformer_view`'s (the input's size if that
    is None; the output size is free, PAPER.md §1); ``batchnorm``: an FCN classifier with batch
    norm, if not :func:`classifier_batchnorm`'s; ``iterations``: how many times an ST-FCN's or
    ST-CNN's localisation nets look, if not :func:`transformer_iterations`'s (the parameters,
    and so the widths, do not depend on it).
    All five are exploration knobs: ``scripts/loc_pool_explore.py``,
    ``scripts/classifier_dropout_explore.py``, ``scripts/iterative_st_explore.py``."""
    for what, value in (("loc_pool", loc_pool), ("pool", pool), ("view", view)):
        # checked before the cache, where 3.0 would find the entry of 3
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{what}: expected an integer or None, got {value!r}")
    if batchnorm is not None:  # checked before the cache, where 1 would find the entry of True
        check_batchnorm(name, batchnorm)
    spec = cached_model_spec(name, tuple(in_shape), num_classes, loc_pool, pool, view, batchnorm)
    if iterations is not None:
        spec = dataclasses.replace(spec, iterations=check_iterations(name, iterations))
    return spec


@functools.lru_cache(maxsize=256)
def cached_model_spec(name: str, in_shape: tuple[int, int, int], num_classes: int,
                      loc_pool: int | None, pool: int | None, view: int | None,
                      batchnorm: bool | None = None) -> ModelSpec:
    """:func:`model_spec`, computed once per argument tuple."""
    kind, _ = parse_name(name)
    in_shape = check_size(tuple(in_shape), 3, "in_shape")
    (num_classes,) = check_size(num_classes, 1, "num_classes")
    if name in VOLUME_MODELS:  # the same CNN with and without the transformer
        if min(in_shape) < VIEW_POOL * MNIST_SIDE:
            raise ValueError(f"model {name!r}: expected a volume (D, H, W) of at least "
                             f"{VIEW_POOL * MNIST_SIDE} voxels a side, got {in_shape}")
        return ModelSpec(name, in_shape, num_classes, BASE_CNN_WIDTHS, VIEW_POOL)
    base_pool = default_pool(in_shape)
    target = count_on_meta(cnn_classifier, _pooled(in_shape, base_pool), num_classes,
                           BASE_CNN_WIDTHS)
    pool = _pool_or(pool, transformer_pool(name, in_shape), "pool")
    view = transformer_view(name, in_shape) if view is None else check_view(name, view, pool)
    if view is not None and (view, view) == in_shape[1:]:
        view = None  # the input's own size: the record says nothing, as before views existed
    loc_pool = check_loc_pool(
        name, _pool_or(loc_pool, localization_pool(name, in_shape, pool), "loc_pool"), pool)
    if name == "cnn" and pool == base_pool:
        return ModelSpec(name, in_shape, num_classes, BASE_CNN_WIDTHS, pool)
    if batchnorm is None:
        batchnorm = classifier_batchnorm(name, in_shape)
    # built only to be counted: on a forked RNG, so that the spec cache being cold or warm
    # cannot change the random draws of the model built next (its initialisation)
    with torch.random.fork_rng(devices=[]):
        transformer = _transformer(name, in_shape, pool, loc_pool, view)
    loc = 0 if transformer is None else count_parameters(transformer)
    pooled = _pooled(in_shape, pool, transformer_copies(name), view)
    build = _classifier_builder(kind, batchnorm)

    def count(w: int) -> int:
        return loc + count_on_meta(build, pooled, num_classes, _widths(kind, w))

    w = fit_width(count, target)
    total = count(w)
    if abs(total - target) > TOLERANCE * target:
        raise ValueError(
            f"model {name!r} cannot be matched to the CNN's {target} parameters on inputs "
            f"{in_shape}: the best width gives {total} (localisation net {loc})"
        )
    return ModelSpec(name, in_shape, num_classes, _widths(kind, w), pool,
                     None if loc_pool == pool else loc_pool, view, batchnorm,
                     transformer_iterations(name, in_shape))


def build_model(
    name: str, in_shape: tuple[int, int, int], num_classes: int,
    widths: tuple[int, ...] | None = None,
) -> DigitClassifier:
    """Model ``name`` for inputs ``(C, H, W)`` with parameter-matched widths (or ``widths``)."""
    spec = model_spec(name, tuple(in_shape), num_classes)
    if widths is not None:
        spec = dataclasses.replace(spec, widths=tuple(widths))
    return build_from_spec(spec)


def dataset_info(dataset: str) -> tuple[tuple[int, int, int], int]:
    """``(in_shape, num_classes)`` of a registered data set; errors name the valid ones."""
    from ..data import DATASETS

    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of: {', '.join(DATASETS)}")
    info = DATASETS[dataset]
    num_classes = getattr(info, "num_classes", None)
    if not num_classes:
        usable = [k for k, v in DATASETS.items() if getattr(v, "num_classes", None)]
        raise ValueError(f"dataset {dataset!r} has no class labels; classification models are "
                         f"built for: {', '.join(usable)}")
    return tuple(info.in_shape), int(num_classes)


def dataset_models(dataset: str) -> tuple[str, ...]:
    """The models built for ``dataset``: the volume models on volumes (``"3d"``), else
    :data:`MODEL_NAMES`."""
    return VOLUME_MODEL_NAMES if _is_volume(dataset) else MODEL_NAMES


def baseline_model(dataset: str) -> str:
    """The model the others of ``dataset`` are compared with: ``cnn`` (``proj-cnn`` on
    volumes)."""
    return VOLUME_MODEL_NAMES[0] if _is_volume(dataset) else "cnn"


def _is_volume(dataset: str) -> bool:
    from ..data import DATASETS

    dataset_info(dataset)
    return DATASETS[dataset].volume


def build_for_dataset(name: str, dataset: str) -> DigitClassifier:
    """Model ``name`` sized for data set ``dataset`` (``"rts"``, ``"tc"``...)."""
    in_shape, num_classes = dataset_info(dataset)
    return build_model(name, in_shape, num_classes)


def parameter_table(dataset: str, names: tuple[str, ...] | None = None) -> list[dict]:
    """One row per model (default: :func:`dataset_models`): name, widths, localisation/classifier/
    total parameters, % of the data set's baseline (the CNN; ``proj-cnn`` on volumes), which
    comes first."""
    in_shape, num_classes = dataset_info(dataset)
    base = baseline_model(dataset)
    names = dataset_models(dataset) if names is None else tuple(names)
    cnn_total = None
    rows = []
    for name in (base, *(n for n in names if n != base)):
        model = build_model(name, in_shape, num_classes)
        loc = 0 if model.transformer is None else count_parameters(model.transformer)
        total = count_parameters(model)
        cnn_total = cnn_total or total
        if total > MAX_PARAMS:
            raise ValueError(f"model {name!r} on {dataset!r} has {total} parameters, over the "
                             f"{MAX_PARAMS} limit")
        rows.append({"model": name, "widths": list(model.spec.widths), "pool": model.spec.pool,
                     "loc_pool": model.spec.localization_pool, "view": model.spec.view,
                     "batchnorm": model.spec.batchnorm, "iterations": model.spec.iterations,
                     "localization": loc,
                     "classifier": total - loc, "total": total,
                     "vs_cnn": total / cnn_total - 1})
    order = {n: i for i, n in enumerate(names)}
    return sorted(rows, key=lambda r: order.get(r["model"], -1))
