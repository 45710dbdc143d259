"""The training loop: one process, or one of several under ``torchrun``.

Exactness of ``--resume``: the data of an epoch is a pure function of (seed, epoch, rank), the
learning rate a pure function of the step, and the checkpoint holds the weights, the optimizer
state, the RNG state and the position inside the epoch. A resumed run therefore repeats the
uninterrupted run's arithmetic step for step (bit for bit on CPU with the same thread count).

Stopping: SIGINT (Ctrl-C) and SIGTERM finish the current step, write a checkpoint and return
``status="interrupted"`` (:mod:`.stop`).
"""

from __future__ import annotations

import gc
import itertools
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..io import LAST_FILE, MODEL_FILE, STATE_FILE, model_record, save_model
from ..models import VOLUME_MODEL_NAMES, build_model, parse_name
from ..modules import SpatialTransformer
from . import distributed as D
from .checkpoint import atomic_write_text, save_state
from .config import TrainConfig, save_config
from .data import DataSource, check_data_root
from .ema import WeightAverage
from .metrics import MetricsLogger, RunningStats, truncate_metrics
from .run_dir import SUMMARY_FILE, load_resume_state, prepare_run_dir, resume_config
from .schedule import lr_factor
from .stop import KILL_ENV, StopRequest, kill_plan

POSTFIX_EVERY = 10  # steps between progress-bar updates
STATE_VERSION = 1
GPU_PREFETCH = 2  # batches generated ahead in a thread while the GPU computes
SINGLE_IMAGE_SKIPPED = ("a training batch of one image was skipped: batch norm needs two or more "
                        "(the epoch's last batch; change --batch-size or --limit to keep it)")

__all__ = ["train", "TrainResult", "Trainer", "make_optimizer", "KILL_ENV", "cpu_native_bf16"]

BF16_SLOW = (
    "bf16: this CPU has no native bfloat16 arithmetic (ATen capability {}), so bf16 autocast "
    "emulates it and is slower than float32 (an AVX2-only CPU took 2-20x longer per training "
    "step: benchmarks/train_step.py); leave out --bf16 for speed, knowing that it changes the "
    "numerics of a recipe that names it"
)


def cpu_native_bf16() -> bool:
    """Does oneDNN run bfloat16 natively here (AVX-512 or newer), not by emulation?"""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # no oneDNN build: nothing to say
        return True


@dataclass
class TrainResult:
    status: str  # "done" or "interrupted"
    run_dir: Path
    epoch: int  # completed epochs
    step: int
    history: list[dict[str, Any]] = field(default_factory=list)
    replicas_identical: bool = True
    is_main: bool = True  # this process logged and wrote the files (rank 0)


def make_optimizer(cfg: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    """SGD with momentum (paper) or AdamW; localisation nets at ``lr * loc_lr_mult``."""
    from ..modules import localization_param_groups

    groups = localization_param_groups(model, cfg.lr, cfg.loc_lr_mult,
                                       weight_decay=cfg.weight_decay)
    if cfg.decay_scope == "matrices":
        groups = decay_matrices_only(groups)
    for g in groups:
        g["base_lr"] = g["lr"]  # the schedule multiplies this
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    return torch.optim.AdamW(groups, lr=cfg.lr)


def decay_matrices_only(groups: list[dict]) -> list[dict]:
    """Each parameter group split in two: its matrices and kernels (``dim >= 2``) keep the
    group's weight decay, its vectors (biases, norm scales and shifts) get none. A regression
    layer's bias holds the identity transform (affine: ``[1, 0, 0, 0, 1, 0]``); decay would pull
    it towards the zero transform, which collapses the sampling grid to one point."""
    split = []
    for g in groups:
        matrices = [p for p in g["params"] if p.dim() >= 2]
        vectors = [p for p in g["params"] if p.dim() < 2]
        if matrices:
            split.append({**g, "params": matrices})
        if vectors:
            split.append({**g, "params": vectors, "name": g["name"] + "/no_decay",
                          "weight_decay": 0.0})
    return split


def data_source(cfg: TrainConfig) -> DataSource:
    return DataSource(cfg.dataset, cfg.batch_size, cfg.seed, cfg.limit, cfg.data_root,
                      fake=bool(cfg.extra.get("fake_data")), prefetch=cfg.prefetch or 0)


def train(
    cfg: TrainConfig,
    *,
    resume: str | bool = False,
    overrides: dict[str, Any] | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Train ``cfg.model`` on ``cfg.dataset`` into the run folder ``cfg.out``.

    Args:
        cfg: the configuration (when resuming only ``out`` is used: the saved configuration
            applies, with ``overrides`` for the fields of ``run_dir.RESUME_OVERRIDABLE``).
        resume: ``True`` to continue from ``cfg.out/state.pt``, or a path to a state file.
        overrides: settings given on the command line when resuming (``None`` = not given).
        overwrite: start afresh in a folder that already holds a run.
        progress: show a progress bar (rank 0 only).
    """
    run_dir = Path(cfg.out)
    state = None
    if resume:
        state = load_resume_state(run_dir, resume)
        cfg = resume_config(state, {**(overrides or {}), "out": cfg.out})
    else:
        cfg = cfg.resolved()
    parse_name(cfg.model)
    check_data_root(cfg.data_root)
    data_source(cfg).info()  # an unknown data set fails before joining a process group
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    info = D.setup(cfg.device)
    try:
        return Trainer(cfg, info, run_dir, state, overwrite=overwrite).run(progress)
    finally:
        # the DDP wrapper (held in reference cycles) must go before its process group does,
        # or gloo's threads can abort the process at exit
        gc.collect()
        D.cleanup()


class Trainer:
    """Model, optimizer, data and counters of one run (one process of it)."""

    def __init__(self, cfg: TrainConfig, info: D.DistInfo, run_dir: Path,
                 state: dict[str, Any] | None = None, overwrite: bool = False) -> None:
        self.cfg, self.info, self.run_dir = cfg, info, run_dir
        self.source = data_source(cfg)
        if cfg.prefetch is None:  # a generating thread competes with torch for CPU cores
            self.source.prefetch = GPU_PREFETCH if info.device.type == "cuda" else 0
        in_shape, num_classes = self.source.info()
        self.steps_per_epoch = self.source.num_batches(info.world_size)
        self.total_steps = self.steps_per_epoch * cfg.epochs
        if info.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            if state is None:
                prepare_run_dir(run_dir, overwrite)
            save_config(cfg, run_dir)
        D.barrier(info)

        torch.manual_seed(cfg.seed)
        self.model = build_model(cfg.model, in_shape, num_classes)
        if cfg.recompute:
            for m in self.model.modules():
                if isinstance(m, SpatialTransformer):
                    m.recompute = True
        self.record = model_record(self.model, dataset=cfg.dataset)
        # batch norm in training mode cannot normalise a batch of one image
        self.min_batch = 2 if any(isinstance(m, nn.modules.batchnorm._BatchNorm)
                                  for m in self.model.modules()) else 1
        self.optimizer = make_optimizer(cfg, self.model)
        self.epoch = self.step = self.batches_done = 0  # batches_done: inside this epoch
        self.stats = RunningStats()
        if state is not None:
            self._restore(state)
        # channels_last is a 4-D layout: volume models (Conv3d weights; inputs (N, D, H, W)
        # whose "channels" are depth) keep the default one
        channels_last = cfg.channels_last and cfg.model not in VOLUME_MODEL_NAMES
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model.to(info.device, memory_format=self.memory_format)
        _optimizer_to(self.optimizer, info.device)
        # the moving average of the weights (cfg.ema): what the run's model files hold
        self.ema = None if cfg.ema is None else WeightAverage(self.model, cfg.ema)
        if self.ema is not None and state is not None:
            if "ema" not in state:
                raise ValueError("--resume: the checkpoint holds no weight average (ema); it was "
                                 "written by a run without --ema")
            self.ema.load_state_dict(state["ema"])
        self.net: nn.Module = self.model
        if info.distributed:
            from torch.nn.parallel import DistributedDataParallel

            ids = [info.device] if info.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        self.autocast = torch.autocast(info.device.type, dtype=torch.bfloat16,
                                       enabled=cfg.bf16)
        if cfg.bf16 and info.device.type == "cpu" and info.is_main and not cpu_native_bf16():
            warnings.warn(BF16_SLOW.format(torch.backends.cpu.get_cpu_capability()),
                          stacklevel=2)
        self.logger = MetricsLogger(run_dir, enabled=info.is_main, tensorboard=cfg.tensorboard)
        self.history: list[dict[str, Any]] = []

    @property
    def saved_model(self) -> nn.Module:
        """The weights the run's model files hold: the moving average under ``ema``."""
        return self.model if self.ema is None else self.ema.module

    # -- checkpoints ----------------------------------------------------------------------------
    def _restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.batches_done = int(state["batches_done"])
        if self.batches_done and int(state.get("world_size", 1)) != self.info.world_size:
            raise ValueError(f"--resume: the run stopped inside an epoch with "
                             f"{state.get('world_size')} processes; resume it with as many")
        if self.info.is_main:  # the saved partial sums are global: count them once
            self.stats.load_tensor(state["stats"])
            truncate_metrics(self.run_dir, self.epoch)
        torch.set_rng_state(state["rng"])

    def checkpoint(self, partial: RunningStats) -> None:
        """Write ``state.pt`` (for ``--resume``) and ``last.safetensors`` (rank 0 only)."""
        if not self.info.is_main:
            return
        save_state(self.run_dir / STATE_FILE, {
            "format_version": STATE_VERSION, "config": self.cfg.to_dict(),
            "record": self.record,
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": _to_cpu(self.optimizer.state_dict()), "epoch": self.epoch,
            "step": self.step, "batches_done": self.batches_done, "stats": partial.as_tensor(),
            "rng": torch.get_rng_state(), "world_size": self.info.world_size,
            **({} if self.ema is None else {"ema": self.ema.state_dict()}),
        })
        save_model(self.saved_model, self.run_dir / LAST_FILE, dataset=self.cfg.dataset,
                   epoch=self.epoch, step=self.step, train_limit=self.cfg.limit or 0)

    # -- training -------------------------------------------------------------------------------
    def train_step(self, images: Tensor, labels: Tensor) -> None:
        cfg = self.cfg
        if labels.shape[0] < self.min_batch:  # every rank has the same batch sizes: all skip
            if self.info.is_main:
                warnings.warn(SINGLE_IMAGE_SKIPPED, stacklevel=2)
            self.step += 1
            self.batches_done += 1
            return
        images = images.to(self.info.device, non_blocking=True, memory_format=self.memory_format)
        labels = labels.to(self.info.device, non_blocking=True)
        factor = lr_factor(cfg.schedule, self.step, self.total_steps, cfg.lr_milestones,
                           cfg.lr_drop)
        for g in self.optimizer.param_groups:
            g["lr"] = g["base_lr"] * factor
        with self.autocast:
            logits = self.net(images)
        loss = F.cross_entropy(logits.float(), labels, label_smoothing=cfg.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update(self.model, self.step)
        self.stats.update(loss, logits, labels)
        self.step += 1
        self.batches_done += 1

    def run_epoch(self, stop: StopRequest, progress: bool, kill: tuple[int, int]) -> bool:
        """One (rest of an) epoch; False when a stop request ended it early."""
        info = self.info
        bar = _progress_bar(progress and info.is_main, self.steps_per_epoch, self.batches_done,
                            f"epoch {self.epoch + 1}/{self.cfg.epochs}")
        t0, seen, finished = time.perf_counter(), 0, True
        batches = self.source.batches(self.epoch, info.rank, info.world_size)
        for images, labels in itertools.islice(batches, self.batches_done, None):
            self.train_step(images, labels)
            seen += labels.shape[0] * info.world_size
            if self.step == kill[0]:
                os.kill(os.getpid(), kill[1])
            if bar is not None:
                bar.update(1)
                if self.batches_done % POSTFIX_EVERY == 0:
                    s = RunningStats.summary(self.stats.as_tensor())
                    bar.set_postfix(loss=f"{s['loss']:.4f}", acc=f"{100 * s['acc']:.2f}%",
                                    img_s=f"{seen / (time.perf_counter() - t0):.0f}",
                                    refresh=False)
            if stop.should_stop(self.batches_done, info):
                finished = False
                break
        elapsed = time.perf_counter() - t0
        if bar is not None:
            bar.close()
        totals = RunningStats()
        totals.load_tensor(D.all_reduce_sum(self.stats.as_tensor(), info))
        if not finished:
            self.checkpoint(totals)
            return False
        self.epoch += 1
        record = {"epoch": self.epoch, "step": self.step,
                  **RunningStats.summary(totals.as_tensor()),
                  "lr": self.optimizer.param_groups[-1]["lr"],
                  "images_per_s": seen / max(elapsed, 1e-9), "epoch_time_s": elapsed}
        self.history.append(record)
        self.logger.log(record, step=self.step)  # before the checkpoint: see truncate_metrics
        self.stats, self.batches_done = RunningStats(), 0
        self.checkpoint(RunningStats())
        if info.is_main:
            print(_epoch_line(record, self.cfg.epochs), file=sys.stderr)
        return True

    def run(self, progress: bool = True) -> TrainResult:
        status = "done"
        kill = kill_plan()
        with StopRequest() as stop:
            while self.epoch < self.cfg.epochs:
                if not self.run_epoch(stop, progress, kill):
                    status = "interrupted"
                    break
        D.broadcast_buffers(self.model, self.info)
        identical = D.replicas_identical(self.model, self.info)
        if self.info.is_main:
            if status == "done":
                save_model(self.saved_model, self.run_dir / MODEL_FILE, dtype=self.cfg.save_dtype,
                           dataset=self.cfg.dataset, epoch=self.epoch, step=self.step,
                           train_limit=self.cfg.limit or 0)  # 0: the whole training split
            summary = {"status": status, "epoch": self.epoch, "step": self.step,
                       "world_size": self.info.world_size, "replicas_identical": identical,
                       "last": self.history[-1] if self.history else None}
            atomic_write_text(self.run_dir / SUMMARY_FILE,
                              json.dumps(summary, indent=2, sort_keys=True) + "\n")
        self.logger.close()
        self.net = self.model  # release the DDP wrapper
        D.barrier(self.info)  # every rank leaves after rank 0 has written the run's files
        return TrainResult(status, self.run_dir, self.epoch, self.step, self.history, identical,
                           self.info.is_main)


def _progress_bar(enabled: bool, total: int, initial: int, desc: str):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # optional dependency: train without a bar
        return None
    return tqdm(total=total, initial=initial, desc=desc, unit="step", leave=False,
                dynamic_ncols=True, file=sys.stderr)


def _epoch_line(r: dict[str, Any], epochs: int) -> str:
    return (f"epoch {r['epoch']}/{epochs}: loss {r['loss']:.4f}, accuracy {100 * r['acc']:.2f}%, "
            f"lr {r['lr']:.3g}, {r['images_per_s']:.0f} images/s")


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def _optimizer_to(optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    """Move loaded optimizer state (momentum buffers...) onto the parameters' device."""
    if device.type == "cpu":
        return
    for st in optimizer.state.values():
        for k, v in st.items():
            if isinstance(v, Tensor) and v.dim() > 0:
                st[k] = v.to(device)
