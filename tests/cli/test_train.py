"""``torchstn train`` / ``eval`` end to end in real processes: learning, resume, torchrun."""

from __future__ import annotations

import json
import signal
import sys

import pytest
import torch
from safetensors.torch import load_file

import torchstn
from torchstn.train.data import DataSource
from torchstn.train.loop import KILL_ENV
from torchstn.train.metrics import read_metrics

from .conftest import cli

# tiny run: 192 images in batches of 32 = 6 steps per epoch
TINY = ["--limit", "192", "--batch-size", "32", "--threads", "1", "--no-progress",
        "--no-tensorboard"]
STEPS_PER_EPOCH = 6


def tiny_run(out, data_args, *extra, env=None, check=True):
    return cli("train", "--dataset", "rts", "--model", "st-cnn-aff", "--out", str(out),
               "--epochs", "2", *TINY, *data_args, *extra, env=env, check=check)


def same_weights(a, b) -> bool:
    wa, wb = load_file(str(a)), load_file(str(b))
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory, data_args):
    """An uninterrupted 2-epoch run that the resumed runs must reproduce bit for bit."""
    out = tmp_path_factory.mktemp("ref") / "run"
    tiny_run(out, data_args)
    return out


def test_end_to_end_learns_and_eval_agrees_with_load_model(tmp_path, data_args):
    out = tmp_path / "run"
    cli("train", "--dataset", "rts", "--model", "st-cnn-aff", "--out", str(out),
        "--epochs", "2", "--limit", "1000", "--batch-size", "50", "--lr", "0.02",
        "--schedule", "constant", "--threads", "1", "--no-progress", *data_args)
    history = read_metrics(out)
    assert [r["epoch"] for r in history] == [1, 2]
    assert history[1]["loss"] < history[0]["loss"]
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "st-cnn-aff" and config["lr"] == 0.02

    proc = cli("eval", str(out), "--limit", "300", "--json", *data_args)
    stats = json.loads(proc.stdout)
    assert stats["n"] == 300 and stats["ci_low"] <= stats["error"] <= stats["ci_high"]

    model = torchstn.load_model(out)
    root = data_args[1] if data_args[0] == "--data-dir" else None
    images, labels = DataSource("rts", 1, root=root, fake=root is None).test_set(300)
    with torch.no_grad():
        errors = int((model(images).argmax(1) != labels).sum())
    assert errors == stats["errors"]

    # the validation set: held-out training digits, allowed since the run used only 1000
    proc = cli("eval", str(out), "--validation", "--limit", "200", "--json", *data_args)
    val = json.loads(proc.stdout)
    assert val["split"] == "validation (10000)" and val["n"] == 200
    images, labels = DataSource("rts", 1, root=root, fake=root is None).validation_set(10000, 200)
    with torch.no_grad():
        assert int((model(images).argmax(1) != labels).sum()) == val["errors"]
    # a model that trained on the whole split (no train_limit in its record) is refused
    whole = tmp_path / "whole.safetensors"
    torchstn.save_model(model, whole, dataset="rts")
    refused = cli("eval", str(whole), "--validation", "--limit", "10", *data_args, check=False)
    assert refused.returncode == 2 and "--limit 50000" in refused.stderr


def test_resume_after_sigkill_mid_epoch_is_bit_identical(tmp_path, data_args, reference_run):
    out = tmp_path / "run"
    killed = tiny_run(out, data_args, env={KILL_ENV: str(STEPS_PER_EPOCH + 2)}, check=False)
    assert killed.returncode == -signal.SIGKILL
    assert not (out / "model.safetensors").exists()
    assert [r["epoch"] for r in read_metrics(out)] == [1]  # checkpoint of epoch 1 only
    cli("train", "--out", str(out), "--resume", "--threads", "1", "--no-progress")
    assert same_weights(out / "model.safetensors", reference_run / "model.safetensors")
    assert read_metrics(out)[1]["loss"] == read_metrics(reference_run)[1]["loss"]


def test_ctrl_c_saves_mid_epoch_and_resume_is_bit_identical(tmp_path, data_args, reference_run):
    out = tmp_path / "run"
    stopped = tiny_run(out, data_args, env={KILL_ENV: f"{STEPS_PER_EPOCH + 3}:INT"}, check=False)
    assert stopped.returncode == 130
    assert "Traceback" not in stopped.stderr and "--resume" in stopped.stderr
    state = torch.load(out / "state.pt", weights_only=True)
    assert (state["epoch"], state["batches_done"]) == (1, 3)
    cli("train", "--out", str(out), "--resume", "--threads", "1", "--no-progress")
    assert same_weights(out / "model.safetensors", reference_run / "model.safetensors")


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed missing")
def test_torchrun_two_processes_gloo(tmp_path, data_args):
    out = tmp_path / "run"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc-per-node", "2"]
    cli("train", "--dataset", "rts", "--model", "st-cnn-aff", "--out", str(out),
        "--epochs", "1", "--device", "cpu", *TINY, *data_args, launcher=launcher)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["replicas_identical"]
    # each rank does half the batches: 192 / 2 / 32 = 3 steps
    assert summary["step"] == STEPS_PER_EPOCH // 2
    cli("train", "--out", str(out), "--resume", "--epochs", "2", "--no-progress",
        launcher=launcher)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epoch"] == 2 and summary["replicas_identical"]
    assert [r["epoch"] for r in read_metrics(out)] == [1, 2]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed missing")
def test_torchrun_batch_norm_statistics_end_the_same_on_every_rank(tmp_path, data_args):
    # each rank normalises its own half-batch and updates its own running statistics; rank 0's
    # are given to all at the end, so the replicas agree
    out = tmp_path / "run"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc-per-node", "2"]
    cli("train", "--dataset", "tc", "--model", "fcn", "--out", str(out), "--epochs", "1",
        "--device", "cpu", *TINY, *data_args, launcher=launcher)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["replicas_identical"]
    assert torchstn.load_model(out).spec.batchnorm
