"""One training step of ST-CNN (affine) against the CNN on RTS, and the peak memory of each.

    python benchmarks/train_step.py [--threads 2] [--quick] [--repeat 3] [--batch 256]
                                    [--data-root DIR] [--no-memory] [--components] [--profile]
                                    [--out FILE]

The step is the training loop's own (``torchstn.train.loop.Trainer.train_step``): the registry's
parameter-matched model, SGD with momentum and the localisation parameter groups, channels-last
images and weights, bfloat16 autocast for the "bf16" rows, cross-entropy in float32, backward,
optimizer step and the running statistics. Batches are real RTS batches (42x42, generated from
MNIST test digits before timing) when the MNIST files are found, else random images.
"GFLOP/step" counts the convolutions and matmuls of one step, forward and backward
(``torch.utils.flop_counter``): the ratio the step time would have at equal efficiency.

Peak memory, each model and precision in a fresh subprocess: the highest "Total Allocated" of
torch's CPU allocator seen by ``torch.profiler(profile_memory=True)`` while the model and optimizer
are built and three steps run, i.e. weights, gradients, momentum, activations and temporaries (the
input batches are made before and not counted). The process's resident size
(``getrusage().ru_maxrss``) was tried and rejected: after the ~240 MB of the runtime its growth
over the steps is set by oneDNN's kernel caches and the allocator's retention (measured: the CNN
"grew" more than ST-CNN), not by the tensors.

"ratio" is ST-CNN / CNN (targets: step time <= 1.15, peak memory <= 1.3). The "recompute"
columns are the same ST-CNN with ``SpatialTransformer(recompute=True)``: the transformer keeps
only its input for backward and runs again there (less memory, one more transformer forward).
``--profile`` appends torch.profiler's table of the top ops of each step (self CPU time).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from common import best_median_ms, header, table, write_out

from torchstn.train import distributed as D
from torchstn.train.config import TrainConfig
from torchstn.train.loop import Trainer

DATASET = "rts"
MODELS = ("cnn", "st-cnn-aff")
RECOMPUTE = "st-cnn-aff+recompute"  # the ST-CNN with SpatialTransformer(recompute=True)
PRECISIONS = {"fp32": False, "bf16": True}
N_BATCHES = 4  # distinct batches cycled through while timing
MEMORY_STEPS = 3
MB = 2**20


def make_trainer(model: str, bf16: bool, batch: int, run_dir: str) -> Trainer:
    """The training loop's Trainer for ``model`` on RTS (fake data source: batches come from us);
    :data:`RECOMPUTE` is the ST-CNN whose transformer recomputes its activations in backward."""
    name, _, option = model.partition("+")
    cfg = TrainConfig(dataset=DATASET, model=name, out=run_dir, batch_size=batch, bf16=bf16,
                      recompute=option == "recompute", tensorboard=False, device="cpu",
                      extra={"fake_data": True}).resolved()
    return Trainer(cfg, D.setup(cfg.device), Path(run_dir))


def rts_batches(batch: int, n: int = N_BATCHES, seed: int = 0,
                root: str | None = None) -> tuple[list, str]:
    """``n`` (images (B, 1, 42, 42), labels (B,)) batches: RTS from MNIST test digits if found
    (in ``root``, else ``$TORCHSTN_DATA``, else the cache)."""
    g = torch.Generator().manual_seed(seed)
    try:
        from torchstn import data
        from torchstn.data import mnist

        images, labels = mnist.load("test", root)
    except FileNotFoundError:
        from torchstn.models import dataset_info

        (c, h, w), k = dataset_info(DATASET)
        return ([(torch.rand(batch, c, h, w, generator=g), torch.randint(0, k, (batch,),
                                                                          generator=g))
                 for _ in range(n)], "random images (MNIST not found)")
    out = []
    for _ in range(n):
        idx = torch.randint(0, images.shape[0], (batch,), generator=g)
        out.append((data.rts(mnist.to_float(images[idx]), g), labels[idx]))
    return out, "RTS batches generated from MNIST test digits"


class Stepper:
    """Calls ``trainer.train_step`` on the prepared batches in turn."""

    def __init__(self, trainer: Trainer, batches: list) -> None:
        self.trainer, self.batches, self.i = trainer, batches, 0

    def __call__(self) -> None:
        images, labels = self.batches[self.i % len(self.batches)]
        self.i += 1
        self.trainer.train_step(images, labels)


# -- memory (run in a fresh subprocess per model and precision) -----------------------------------
def memory_child(model: str, precision: str, batch: int, root: str | None = None) -> dict:
    from torch.profiler import ProfilerActivity, profile

    batches, _ = rts_batches(batch, root=root)
    with tempfile.TemporaryDirectory() as tmp:
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            step = Stepper(make_trainer(model, PRECISIONS[precision], batch, tmp), batches)
            for _ in range(MEMORY_STEPS):
                step()
        trace = os.path.join(tmp, "trace.json")
        prof.export_chrome_trace(trace)
        with open(trace) as f:
            events = json.load(f)["traceEvents"]
    totals = [e["args"]["Total Allocated"] for e in events if e.get("name") == "[memory]"]
    return {"peak_tensor": max(totals, default=0)}


def measure_memory(model: str, precision: str, args) -> float:
    """Peak tensor bytes of one model and precision, measured in a fresh Python process."""
    cmd = [sys.executable, os.path.abspath(__file__), "--memory-child", model, precision,
           "--threads", str(args.threads), "--batch", str(args.batch)]
    if args.data_root:
        cmd += ["--data-root", args.data_root]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"memory child {model} {precision} failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])["peak_tensor"]


# -- timing and profile ---------------------------------------------------------------------------
def step_gflops(step: Stepper) -> float:
    """Floating-point operations of one step (convolutions and matmuls, forward and backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return counter.get_total_flops() / 1e9


def time_rows(args, batches) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for precision, bf16 in PRECISIONS.items():
            steps = [Stepper(make_trainer(m, bf16, args.batch, os.path.join(tmp, m + precision)),
                             batches) for m in (*MODELS, RECOMPUTE)]
            flops = [step_gflops(s) for s in steps[:2]]
            cnn, st, st_re = best_median_ms(steps, args.min_time, args.repeat)
            rows.append({"precision": precision, "cnn ms/step": cnn, "st-cnn-aff ms/step": st,
                         "cnn images/s": f"{args.batch / cnn * 1e3:,.0f}",
                         "st-cnn-aff images/s": f"{args.batch / st * 1e3:,.0f}",
                         "ratio (target <= 1.15)": st / cnn,
                         "GFLOP/step cnn, st": f"{flops[0]:.3g}, {flops[1]:.3g}",
                         "GFLOP ratio": flops[1] / flops[0],
                         "recompute ms/step": st_re, "recompute ratio": st_re / cnn})
    return rows


def component_rows(args, batches) -> list[dict]:
    """Where the ST-CNN's extra time goes: forward + backward of its parts on one batch."""
    import torch.nn.functional as F

    from torchstn.models import build_for_dataset

    images, labels = batches[0]
    images = images.contiguous(memory_format=torch.channels_last)
    models = {m: build_for_dataset(m, DATASET).to(memory_format=torch.channels_last)
              for m in MODELS}
    st_model = models["st-cnn-aff"]
    st = st_model.transformer
    rows = []
    for precision, bf16 in PRECISIONS.items():
        def run(fn, bf16=bf16):
            def call():
                with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                    out = fn()
                out.float().square().mean().backward()
            return call

        def classifier_with_input_grad():
            x = images.clone().requires_grad_()
            return st_model.classifier(st_model.pool(st_model.normalize(x)))

        parts = {
            "cnn: whole model": run(lambda: F.cross_entropy(models["cnn"](images).float(),
                                                           labels)),
            "st-cnn: whole model": run(lambda: F.cross_entropy(st_model(images).float(),
                                                              labels)),
            "st-cnn: localisation net + regression": run(
                lambda: st.regressor(st.localization(images).flatten(1))),
            "st-cnn: transformer (loc net, grid, sampler)": run(lambda: st(images)),
            "st-cnn: classifier, with its input gradient": run(classifier_with_input_grad),
        }
        times = best_median_ms(list(parts.values()), args.min_time, args.repeat)
        cnn = times[0]
        for name, t in zip(parts, times, strict=True):
            rows.append({"precision": precision, "part (forward + backward)": name,
                         "ms": t, "share of a cnn step": t / cnn})
    return rows


def memory_rows(args) -> list[dict]:
    rows = []
    for precision in PRECISIONS:
        cnn, st, st_re = (measure_memory(m, precision, args) / MB
                          for m in (*MODELS, RECOMPUTE))
        rows.append({"precision": precision, "cnn peak tensor MB": cnn,
                     "st-cnn-aff peak tensor MB": st, "ratio (target <= 1.3)": st / cnn,
                     "recompute peak tensor MB": st_re, "recompute ratio": st_re / cnn})
    return rows


def profile_tables(args, batches, row_limit: int = 15) -> str:
    from torch.profiler import ProfilerActivity, profile

    parts = []
    with tempfile.TemporaryDirectory() as tmp:
        for precision, bf16 in PRECISIONS.items():
            for m in MODELS:
                step = Stepper(make_trainer(m, bf16, args.batch, os.path.join(tmp, m + precision)),
                               batches)
                for _ in range(3):  # warm-up: momentum buffers, oneDNN primitive caches
                    step()
                with profile(activities=[ProfilerActivity.CPU]) as prof:
                    for _ in range(args.profile_steps):
                        step()
                table_text = prof.key_averages().table(sort_by="self_cpu_time_total",
                                                       row_limit=row_limit)
                parts += [f"### {m}, {precision}: top ops over {args.profile_steps} steps", "",
                          "```", table_text.strip(), "```", ""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--data-root", help="MNIST directory (default: $TORCHSTN_DATA or the "
                        "cache); random images if not found")
    parser.add_argument("--quick", action="store_true", help="short timings, fewer repeats")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many medians")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory rows")
    parser.add_argument("--components", action="store_true",
                        help="also time the ST-CNN's parts (what bounds the ratio)")
    parser.add_argument("--profile", action="store_true", help="append the top-ops tables")
    parser.add_argument("--profile-steps", type=int, default=5)
    parser.add_argument("--out", help="also write the markdown to this file")
    parser.add_argument("--memory-child", nargs=2, metavar=("MODEL", "PRECISION"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.memory_child:
        print(json.dumps(memory_child(*args.memory_child, batch=args.batch,
                                      root=args.data_root)))
        return 0
    args.min_time = 0.3 if args.quick else 2.0
    if args.quick:
        args.repeat = min(args.repeat, 2)
    batches, source = rts_batches(args.batch, root=args.data_root)
    parts = [header("Training step: ST-CNN (affine) against CNN on RTS"),
             f"- one `Trainer.train_step` (SGD momentum, channels-last, batch {args.batch}, "
             f"{source}); median of each, best of {args.repeat}; ratio = st-cnn-aff / cnn", "",
             table(time_rows(args, batches)), ""]
    if args.components:
        parts += ["Parts of one step (model forward + backward only, no optimizer; same batch):",
                  "", table(component_rows(args, batches)), ""]
    if not args.no_memory:
        parts += ["Peak memory (fresh process per model and precision; method in the script's "
                  "docstring):", "", table(memory_rows(args)), ""]
    if args.profile:
        parts.append(profile_tables(args, batches))
    text = "\n".join(parts)
    print(text)
    write_out(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
