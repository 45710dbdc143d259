"""``torchstn reproduce``: the paper's Table 1 (train, resume, evaluate, report) and figures."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..reproduce.coloc import EMBEDDINGS, ColocConfig
from ..reproduce.coloc import N_IMAGES as COLOC_IMAGES
from ..reproduce.coloc import RUNS_DIR as COLOC_RUNS_DIR
from ..reproduce.figures import FIGURE_MODEL, FIGURE_ROWS
from ..reproduce.recipes import DEFAULT_SEEDS
from ..reproduce.table1 import CHECKPOINTS_DIR, RESULTS_DIR, RUNS_DIR


def _common(p: argparse.ArgumentParser, runs_dir: str = RUNS_DIR,
            layout: str = "<dataset>/<model>/seed<k>") -> None:
    p.add_argument("--runs-dir", default=runs_dir,
                   help=f"run folders {layout} (default {runs_dir})")
    p.add_argument("--results-dir", default=RESULTS_DIR,
                   help=f"where the report goes (default {RESULTS_DIR})")
    p.add_argument("--data-dir", "--data-root", dest="data_root",
                   help="folder holding the MNIST files (default $TORCHSTN_DATA)")
    p.add_argument("--threads", type=int, help="torch intra-op threads (training and testing)")
    p.add_argument("--fake-data", action="store_true", help=argparse.SUPPRESS)  # tests only


def _train_options(t: argparse.ArgumentParser, experiment: str) -> None:
    """The options of an experiment that trains cells: seeds, checkpoints, dry run, report."""
    t.add_argument("--seeds", type=int, default=DEFAULT_SEEDS,
                   help=f"seeds 0..N-1 per cell (default {DEFAULT_SEEDS})")
    t.add_argument("--checkpoints-dir", default=CHECKPOINTS_DIR,
                   help=f"committed models <dataset>/<model>-seed<k>.safetensors "
                        f"(default {CHECKPOINTS_DIR})")
    t.add_argument("--dry-run", action="store_true", help="print what would be trained")
    t.add_argument("--report-only", action="store_true",
                   help="train nothing: (re)write the report from the finished runs")
    t.add_argument("--no-figures", action="store_true", help="do not draw the figures")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")
    t.add_argument("--jobs", type=int, default=1,
                   help="runs trained at once, each in its own process (default 1; e.g. 2 on a "
                        "2-core CPU with --threads 1, or 8 sharing one GPU); no progress bars "
                        "when above 1")
    _common(t, f"runs/{experiment}")
    t.set_defaults(func=run_table1, experiment=experiment)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "reproduce", help="reproduce the paper's Table 1, MNIST addition, co-localisation and 3D",
        description="Reproduce the paper's experiments: `table1` trains, resumes, tests and "
                    "reports the distorted-MNIST table; `addition` the MNIST-addition "
                    "experiment; `coloc` co-localisation; `3d` the 3D experiment; `figures` "
                    "draws the ST-CNNs.")
    sub = p.add_subparsers(dest="what", metavar="WHAT")
    p.set_defaults(func=lambda args: p.print_help() or 2)

    t = sub.add_parser(
        "table1", help="train the missing cells of Table 1 and write the report",
        description="Train every missing cell (run folder <runs-dir>/<dataset>/<model>/"
                    "seed<k>) with its column's recipe, resume unfinished ones, skip finished "
                    "ones, then test every finished run on the fixed test set and write "
                    "<results-dir>/table1.json and table1.md (and checkpoints, figures).")
    t.add_argument("--cells", help="DATASET:MODEL[,...], e.g. rts:st-cnn-aff,r:cnn; DATASET "
                                   "alone is a whole column (default: the whole table)")
    _train_options(t, "table1")
    a = sub.add_parser(
        "addition", help="MNIST addition (appendix A.1): train the missing models, report",
        description="Train every missing model of the MNIST-addition experiment (FCN, CNN, "
                    "ST-FCN and 2xST-FCN, affine and TPS; run folders <runs-dir>/addition/"
                    "<model>/seed<k>), resume unfinished ones, then test them and write "
                    "<results-dir>/addition.json, addition.md and the 2xST-FCN figure.")
    a.add_argument("--cells", help="addition:MODEL[,...], e.g. addition:2xst-fcn-aff "
                                   "(default: every model)")
    _train_options(a, "addition")
    v = sub.add_parser(
        "3d", help="3D MNIST (appendix A.3): train the 3D transformer and its baseline, report",
        description="Train the missing models of the 3D experiment (proj-cnn: the volume's "
                    "maximum along depth read by a CNN; st3d-cnn: the same CNN behind a 3D affine "
                    "transformer; run folders <runs-dir>/3d/<model>/seed<k>), resume unfinished "
                    "ones, then test them and write <results-dir>/3d.json, 3d.md and a figure "
                    "of the learned projections.")
    v.add_argument("--cells", help="3d:MODEL[,...], e.g. 3d:st3d-cnn (default: both models)")
    _train_options(v, "3d")

    c = sub.add_parser(
        "coloc", help="co-localisation (appendix A.2): localise each digit class, report",
        description="For every digit class and setting (without and with clutter) not yet in "
                    "<runs-dir>/<setting>/digit<k>.json, train an attention transformer on the "
                    "class's 100 images with the triplet loss only (about two minutes per "
                    "restart and class on one core), then write <results-dir>/colocalisation.json, "
                    "colocalisation.md and figures/coloc.png.")
    c.add_argument("--digits", default="0-9",
                   help="classes, e.g. 3 or 0,1,2 or 0-9 (default 0-9)")
    c.add_argument("--clutter", choices=("no", "yes", "both"), default="both",
                   help="which setting(s) to run (default both)")
    c.add_argument("--steps", type=int, default=ColocConfig.steps,
                   help=f"Adam steps per class (default {ColocConfig.steps})")
    c.add_argument("--anneal", type=float, default=ColocConfig.anneal,
                   help="share of the steps over which the scale goes from 1 to 28/84 "
                        f"(default {ColocConfig.anneal})")
    c.add_argument("--lr", type=float, default=ColocConfig.lr,
                   help=f"Adam learning rate (default {ColocConfig.lr})")
    c.add_argument("--seed", type=int, default=ColocConfig.seed,
                   help=f"first seed (default {ColocConfig.seed})")
    c.add_argument("--restarts", type=int, default=ColocConfig.restarts,
                   help="runs per class from seeds SEED, SEED+1, ...; the one of lowest loss is "
                        f"kept (default {ColocConfig.restarts}); a class already run with fewer "
                        "runs only the missing ones")
    c.add_argument("--clutter-restarts", type=int, default=ColocConfig.clutter_restarts,
                   help="restarts on cluttered canvases, if other than --restarts")
    c.add_argument("--outside", action="store_true",
                   help="let the view leave the canvas (plain attention; the recipe before "
                        "2026-11-27)")
    c.add_argument("--contrast", action="store_true",
                   help="embed views by the softmax of the encoder's logits minus those of an "
                        "empty view (an empty view then embeds as the uniform distribution)")
    c.add_argument("--embedding", choices=EMBEDDINGS, default=ColocConfig.embedding,
                   help="e: the encoders' class probabilities (softmax), their last hidden "
                        "activations (features) or their last convolutional feature maps (maps), "
                        "both L2-normalised (default %(default)s)")
    c.add_argument("--clutter-embedding", choices=EMBEDDINGS,
                   default=ColocConfig.clutter_embedding,
                   help="e on cluttered canvases, if other than --embedding (default "
                        "%(default)s)")
    c.add_argument("--split", choices=("train", "test"), default="train",
                   help="the MNIST split the class's images come from (default train; test: a "
                        "check on digits the recipe was not chosen on)")
    c.add_argument("--images", type=int, default=COLOC_IMAGES,
                   help=f"images per class (default {COLOC_IMAGES}, the paper's)")
    c.add_argument("--encoder", default=ColocConfig.encoder,
                   help=f"the MNIST CNN whose activations (or softmax: --embedding) are the "
                        f"embedding (default {ColocConfig.encoder})")
    c.add_argument("--clutter-encoder",
                   help="the encoder on cluttered canvases, if other than --encoder")
    c.add_argument("--refine", default=format_refine(ColocConfig.refine),
                   help="stages after the curriculum, scale held: ENCODER:STEPS[,...], each "
                        "CNN the encoder of the embedding for its steps, or 'none' "
                        "(default %(default)s)")
    c.add_argument("--report-only", action="store_true",
                   help="localise nothing: (re)write the report from the result files")
    c.add_argument("--no-figures", action="store_true", help="do not draw the figure")
    _common(c, COLOC_RUNS_DIR, "<plain|clutter>/digit<k>.json")
    c.set_defaults(func=run_coloc)

    f = sub.add_parser(
        "figures", help="Figure-1-style pictures of the trained ST-CNNs",
        description="For every distortion with a finished run of the model, write "
                    "<results-dir>/figures/<dataset>-st-cnn.png: test images with the sampling "
                    "grid, the transformer's output and the prediction.")
    f.add_argument("--model", default=FIGURE_MODEL, help=f"default {FIGURE_MODEL}")
    f.add_argument("--rows", type=int, default=FIGURE_ROWS, help="test images per picture")
    _common(f)
    f.set_defaults(func=run_figures)


def run_table1(args: argparse.Namespace) -> int:
    from ..reproduce.driver import Options, reproduce_table1
    from ..reproduce.table1 import parse_cells

    if args.dry_run and args.report_only:
        raise ValueError("--dry-run and --report-only: expected at most one of them")
    opts = Options(cells=parse_cells(args.cells, args.experiment), seeds=args.seeds,
                   experiment=args.experiment, runs_dir=Path(args.runs_dir),
                   results_dir=Path(args.results_dir),
                   checkpoints_dir=Path(args.checkpoints_dir), threads=args.threads,
                   data_root=args.data_root, fake=args.fake_data,
                   progress=not args.no_progress, figures=not args.no_figures,
                   jobs=args.jobs)
    return reproduce_table1(opts, dry_run=args.dry_run, report_only=args.report_only)


def parse_digits(text: str) -> tuple[int, ...]:
    """``"0-9"``, ``"3"``, ``"0,2,5"`` -> the digit classes."""
    digits: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            digits += range(int(lo), int(hi or lo) + 1)
    except ValueError:
        raise ValueError(f"--digits: expected classes like 3, 0,2,5 or 0-9, got {text!r}") from None
    if not digits or any(not 0 <= d <= 9 for d in digits):
        raise ValueError(f"--digits: expected classes in 0..9, got {text!r}")
    return tuple(dict.fromkeys(digits))


def parse_refine(text: str) -> tuple[tuple[str, int], ...]:
    """``"a.safetensors:500,b.safetensors:300"`` -> ``(("a.safetensors", 500), ...)``; ``"none"``
    -> ``()``."""
    if text.strip() == "none":
        return ()
    stages = []
    for part in text.split(","):
        path, _, steps = part.strip().rpartition(":")
        if not path or not steps.isdigit() or int(steps) < 1:
            raise ValueError(f"--refine: expected ENCODER:STEPS[,...] with positive STEPS, or "
                             f"'none', got {text!r}")
        stages.append((path, int(steps)))
    return tuple(stages)


def format_refine(stages: tuple[tuple[str, int], ...]) -> str:
    """The ``--refine`` text of ``stages`` (:func:`parse_refine` reads it back)."""
    return ",".join(f"{p}:{n}" for p, n in stages) or "none"


def run_coloc(args: argparse.Namespace) -> int:
    import torch

    from ..reproduce.coloc import reproduce_coloc
    from ..train.data import check_data_root

    if args.fake_data:
        raise ValueError("torchstn reproduce coloc: --fake-data is not supported; pass "
                         "--data-dir with (fake) MNIST files")
    check_data_root(args.data_root)
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = {"no": (False,), "yes": (True,), "both": (False, True)}[args.clutter]
    cfg = ColocConfig(steps=args.steps, anneal=args.anneal, lr=args.lr, seed=args.seed,
                      restarts=args.restarts, clutter_restarts=args.clutter_restarts,
                      inside=not args.outside, contrast=args.contrast,
                      embedding=args.embedding, clutter_embedding=args.clutter_embedding,
                      refine=parse_refine(args.refine), encoder=args.encoder,
                      clutter_encoder=args.clutter_encoder)
    # the command that redoes one class: the recipe spelled out, the class left to fill in
    command = (f"torchstn reproduce coloc --digits DIGIT --clutter {{no,yes}} --steps {cfg.steps} "
               f"--anneal {cfg.anneal} --lr {cfg.lr} --seed {cfg.seed} --restarts {cfg.restarts} "
               f"--clutter-restarts {cfg.for_setting(True).restarts} "
               f"{'--outside ' if args.outside else ''}"
               f"{'--contrast ' if args.contrast else ''}"
               f"--embedding {cfg.embedding} "
               f"--clutter-embedding {cfg.for_setting(True).embedding} "
               f"--images {args.images} --split {args.split} "
               f"--encoder {cfg.encoder} --clutter-encoder {cfg.for_setting(True).encoder} "
               f"--refine {format_refine(cfg.refine)}")
    reproduce_coloc(parse_digits(args.digits), settings, cfg, runs_dir=args.runs_dir,
                    results_dir=args.results_dir, root=args.data_root,
                    report_only=args.report_only, figure=not args.no_figures, command=command,
                    images=args.images, split=args.split)
    return 0


def run_figures(args: argparse.Namespace) -> int:
    import torch

    from ..reproduce.figures import write_figures
    from ..train.data import check_data_root

    check_data_root(args.data_root)
    if args.threads:
        torch.set_num_threads(args.threads)
    written = write_figures(args.runs_dir, args.results_dir, model=args.model, rows=args.rows,
                            data_root=args.data_root, fake=args.fake_data)
    if not written:
        print(f"no finished {args.model} run in {args.runs_dir}: no figures written")
    return 0
