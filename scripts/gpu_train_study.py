"""Recipe study on the validation split: train several (data set, model, epochs) runs at
once, each with its column's Table 1 recipe but its own number of epochs (and optionally other
settings), on the first 50,000
training digits, then measure the validation error on the last 10,000 (never the test set).

Made for a lent GPU machine (one process per run, all sharing the GPU; the data are generated on
the CPU cores), it runs anywhere: ``--device cpu`` and a small ``--limit`` make a smoke test.
Runs still going at ``--deadline-s`` are interrupted (they checkpoint, and resume with
``torchstn train --out RUN --resume``) and reported as unfinished, with their epochs so far.

    python scripts/gpu_train_study.py --out $OUT/study --deadline-s 420 \
        --jobs r:st-cnn-aff:70,r:st-cnn-aff:210,rts:st-fcn-aff:70,rts:st-fcn-aff:140

Writes ``study.md`` (a table) and ``study.json`` into ``--out``, the run folders under
``--out/runs``, and each run's log beside its folder.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from torchstn.cli.eval import TRAIN_DIGITS, evaluate_path
from torchstn.data.sets import VALIDATION_SIZE
from torchstn.reproduce.recipes import recipe
from torchstn.reproduce.table1 import config_args
from torchstn.train.metrics import read_metrics

GRACE_S = 30  # after SIGINT, time for a run to write its checkpoint before it is killed


def parse_jobs(text: str) -> list[tuple[str, str, int, dict]]:
    """``"r:st-cnn-aff:70,rts:cnn:140:weight_decay=0.1+lr=0.001"`` -> ``[("r", "st-cnn-aff", 70,
    {}), ("rts", "cnn", 140, {"weight_decay": 0.1, "lr": 0.001})]``: the settings replace those of
    the column's recipe (any TrainConfig field)."""
    jobs = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        parts = item.split(":")
        if len(parts) not in (3, 4) or not parts[2].isdigit() or int(parts[2]) < 1:
            raise SystemExit(f"--jobs: expected DATASET:MODEL:EPOCHS[:KEY=VALUE+...] items, "
                             f"got {item!r}")
        settings = {}
        for pair in filter(None, parts[3].split("+")) if len(parts) == 4 else []:
            key, sep, value = pair.partition("=")
            if not sep:
                raise SystemExit(f"--jobs: expected KEY=VALUE, got {pair!r} in {item!r}")
            settings[key] = _value(value)
        jobs.append((parts[0], parts[1], int(parts[2]), settings))
    if not jobs:
        raise SystemExit("--jobs: no job given")
    return jobs


def _value(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def run_name(dataset: str, model: str, epochs: int, settings: dict) -> str:
    extra = "".join(f"-{k}{v}" for k, v in sorted(settings.items()))
    return f"{dataset}-{model}-e{epochs}{extra}"


def train_argv(dataset: str, model: str, epochs: int, settings: dict, out: Path,
               args: argparse.Namespace) -> list[str]:
    settings = {**recipe(dataset), **settings, "epochs": epochs}
    return [sys.executable, "-m", "torchstn.cli.main", "train", "--dataset", dataset,
            "--model", model, "--out", str(out), "--seed", str(args.seed), *config_args(settings),
            "--limit", str(args.limit), "--threads", str(args.threads), "--device", args.device,
            "--no-progress", "--no-tensorboard", *(["--data-dir", args.data_dir]
                                                  if args.data_dir else [])]


def last_metrics(run: Path) -> dict:
    rows = [r for r in read_metrics(run) if "epoch" in r and "acc" in r]
    if not rows:
        return {}
    times = [r["epoch_time_s"] for r in rows if "epoch_time_s" in r]
    return {"epochs_done": rows[-1]["epoch"], "train_acc": rows[-1]["acc"],  # epoch: 1-based
            "epoch_time_s": sum(times) / len(times) if times else None}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--jobs", required=True, help="DATASET:MODEL:EPOCHS items, comma-separated")
    p.add_argument("--out", required=True, help="folder for the runs, study.md and study.json")
    p.add_argument("--deadline-s", type=float, default=420.0,
                   help="interrupt runs still going after this many seconds")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--validation", type=int, default=VALIDATION_SIZE,
                   help="held-out training digits (the last ones) for the validation error")
    p.add_argument("--limit", type=int, default=None,
                   help="training digits per epoch (default: all but the validation ones)")
    p.add_argument("--eval-limit", type=int, default=None,
                   help="validation samples evaluated (default: all)")
    p.add_argument("--data-dir", default=None, help="MNIST folder (default $TORCHSTN_DATA)")
    args = p.parse_args()
    args.limit = args.limit or TRAIN_DIGITS - args.validation
    if args.limit > TRAIN_DIGITS - args.validation:
        raise SystemExit(f"--limit {args.limit} would train on the validation digits")
    jobs = parse_jobs(args.jobs)
    out = Path(args.out)
    (out / "runs").mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    procs = []
    for dataset, model, epochs, settings in jobs:
        run = out / "runs" / run_name(dataset, model, epochs, settings)
        log = open(out / "runs" / f"{run.name}.log", "w")  # noqa: SIM115 (closed below)
        procs.append((dataset, model, epochs, settings, run, log,
                      subprocess.Popen(train_argv(dataset, model, epochs, settings, run, args),
                                       stdout=log, stderr=subprocess.STDOUT)))
    print(f"started {len(procs)} runs", flush=True)
    while any(pr.poll() is None for *_, pr in procs):
        if time.monotonic() - started > args.deadline_s:
            print("deadline: interrupting the runs still going", flush=True)
            for *_, pr in procs:
                if pr.poll() is None:
                    pr.send_signal(signal.SIGINT)
            stop = time.monotonic() + GRACE_S
            while any(pr.poll() is None for *_, pr in procs) and time.monotonic() < stop:
                time.sleep(1)
            for *_, pr in procs:
                if pr.poll() is None:
                    pr.kill()
            break
        time.sleep(2)
    wall = time.monotonic() - started

    results = []
    for dataset, model, epochs, settings, run, log, pr in procs:
        log.close()
        rec = {"dataset": dataset, "model": model, "epochs": epochs, "settings": settings,
               "exit_code": pr.wait(),
               **last_metrics(run)}
        if rec["exit_code"] == 0 and (run / "model.safetensors").is_file():
            stats = evaluate_path(str(run), dataset, limit=args.eval_limit,
                                  data_root=args.data_dir, device=args.device,
                                  validation=args.validation)
            rec["val_error"] = 100 * stats["error"]
            rec["val_samples"] = stats["n"]
        results.append(rec)
        print(json.dumps(rec), flush=True)

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() and args.device != "cpu" \
        else platform.processor() or "cpu"
    header = (f"Recipe study on the validation split ({args.limit} training digits, the "
              f"last {args.validation} held out; seed {args.seed}); {len(jobs)} runs at once on "
              f"{device}, {os.cpu_count()} CPU cores, torch {torch.__version__}, {args.threads} "
              f"thread(s) per run; wall {wall / 60:.1f} min.\n\n")
    rows = ["| Data | Model | Epochs | Changed settings | Epochs done | Train acc (last epoch) "
            "| s / epoch | Validation error (%) |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        err = f"{r['val_error']:.2f}" if "val_error" in r else f"unfinished (exit {r['exit_code']})"
        acc = f"{100 * r['train_acc']:.2f}%" if "train_acc" in r else "—"
        sec = f"{r['epoch_time_s']:.1f}" if r.get("epoch_time_s") else "—"
        changed = ", ".join(f"{k} {v}" for k, v in sorted(r["settings"].items())) or "—"
        rows.append(f"| {r['dataset']} | {r['model']} | {r['epochs']} | {changed} | "
                    f"{r.get('epochs_done', 0)} | {acc} | {sec} | {err} |")
    (out / "study.md").write_text(header + "\n".join(rows) + "\n")
    (out / "study.json").write_text(json.dumps({"device": device, "wall_s": wall,
                                                "limit": args.limit,
                                                "validation": args.validation,
                                                "runs": results}, indent=2) + "\n")
    print(header + "\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
