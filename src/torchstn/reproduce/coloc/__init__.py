"""Co-localisation (the paper's appendix A.2): ``torchstn reproduce coloc``.

For one digit class, 100 images (84x84, the digit at a random place, optionally with clutter:
:func:`torchstn.data.coloc_set`) and nothing else: no boxes, no labels. An attention transformer
(scale, translation) with the paper's localisation net is trained with the triplet hinge loss

    mean_n mean_{m != n} max(0, |e(T_n) - e(T_m)|^2 - |e(T_n) - e(R_n)|^2 + margin)

where ``T_n`` is the transformer's 28x28 output for image ``n``, ``R_n`` a random 28x28 crop of
the same image (drawn afresh every step) and ``e`` the L2-normalised activations of a trained
MNIST CNN (the paper's "activations": its last convolutional feature maps without clutter,
:func:`map_embedding`, its last hidden activations with clutter, :func:`feature_embedding`). An
image is localised when the transformer's box has IoU > 0.5 with the digit's true 28x28 box.

The recipe departs from the paper's set-up as we first read it; :mod:`.config` says where and why.

* :mod:`.config`: the recipe (:class:`ColocConfig`) and the experiment's constants.
* :mod:`.transformer`: the attention transformer with the paper's localisation net.
* :mod:`.boxes`: the box a transformer looks at, in pixels, and its IoU with the true box.
* :mod:`.loss`: the triplet hinge and the random crops it compares the views with.
* :mod:`.embedding`: ``e``, a frozen MNIST CNN's softmax, hidden activations or feature maps.
* :mod:`.fit`: the scale curriculum, the training stages, the restarts and the choice among them.
* :mod:`.runs`: the result files, one a class and setting, and which recipe made each.
* :mod:`.driver`: ``torchstn reproduce coloc`` end to end: each missing class, then the report.
* :mod:`.report`: ``colocalisation.json`` and ``colocalisation.md``.
* :mod:`.figure`: the true and predicted boxes of the first images of each class.
"""

from .boxes import box_iou, boxes_from_params, predict_boxes
from .config import (
    DIGITS,
    EMBEDDINGS,
    ENCODER,
    IOU_THRESHOLD,
    LEGACY_ENCODER,
    N_IMAGES,
    PER_SETTING,
    REFINE,
    ColocConfig,
)
from .driver import reproduce_coloc, run_class
from .embedding import Embed, feature_embedding, make_embedding, map_embedding, softmax_embedding
from .figure import FIGURE_IMAGES, FIGURE_NAME, write_figure
from .fit import (
    EVAL_DRAWS,
    EVAL_SEED,
    LOG_EVERY,
    hold_scale,
    localise,
    localise_best,
    mean_loss,
    scale_at,
    train_stage,
)
from .loss import random_crops, triplet_loss
from .report import JSON_NAME, MD_NAME, PAPER, SPLIT_WORDS, render_markdown, write_report
from .runs import RUNS_DIR, load_rows, result_path
from .transformer import (
    LOC_CONV,
    LOC_HIDDEN,
    LOC_POOL,
    InsideAttention,
    coloc_transformer,
    inside_params,
    localization_net,
)

__all__ = [
    # config
    "ColocConfig", "DIGITS", "EMBEDDINGS", "ENCODER", "IOU_THRESHOLD", "LEGACY_ENCODER",
    "N_IMAGES", "PER_SETTING", "REFINE",
    # transformer and boxes
    "InsideAttention", "LOC_CONV", "LOC_HIDDEN", "LOC_POOL", "coloc_transformer", "inside_params",
    "localization_net", "box_iou", "boxes_from_params", "predict_boxes",
    # loss, embedding, fit
    "random_crops", "triplet_loss", "Embed", "feature_embedding", "make_embedding",
    "map_embedding", "softmax_embedding", "EVAL_DRAWS", "EVAL_SEED", "LOG_EVERY", "hold_scale",
    "localise", "localise_best", "mean_loss", "scale_at", "train_stage",
    # runs, driver, report, figure
    "RUNS_DIR", "load_rows", "result_path", "reproduce_coloc", "run_class", "JSON_NAME",
    "MD_NAME", "PAPER", "SPLIT_WORDS", "render_markdown", "write_report", "FIGURE_IMAGES",
    "FIGURE_NAME", "write_figure",
]
