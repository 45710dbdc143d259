import math
import warnings

import pytest
import torch

import torchstn
from torchstn.train import TrainConfig, train
from torchstn.train.loop import make_optimizer
from torchstn.train.metrics import read_metrics


def config(tmp_path, **kw):
    base = {"dataset": "rts", "model": "cnn", "out": str(tmp_path / "run"), "epochs": 2,
            "batch_size": 32, "limit": 192, "lr": 0.05, "schedule": "constant",
            "tensorboard": False, "extra": {"fake_data": True}}
    return TrainConfig(**{**base, **kw})


def test_two_epochs_write_a_complete_run(tmp_path):
    result = train(config(tmp_path), progress=False)
    run = tmp_path / "run"
    assert result.status == "done" and result.epoch == 2 and result.step == 12
    for name in ("config.json", "metrics.jsonl", "state.pt", "last.safetensors",
                 "model.safetensors", "summary.json"):
        assert (run / name).is_file(), name
    history = read_metrics(run)
    assert [r["epoch"] for r in history] == [1, 2]
    assert history[1]["loss"] < history[0]["loss"]
    assert all(r["images_per_s"] > 0 for r in history)
    model = torchstn.load_model(run)
    assert model(torch.rand(1, 1, 42, 42)).shape == (1, 10)


def test_existing_run_needs_resume_or_overwrite(tmp_path):
    train(config(tmp_path, epochs=1), progress=False)
    with pytest.raises(ValueError, match="already holds a run"):
        train(config(tmp_path, epochs=1), progress=False)
    assert train(config(tmp_path, epochs=1), overwrite=True, progress=False).epoch == 1


def test_resume_extends_and_refuses_changed_settings(tmp_path):
    train(config(tmp_path, epochs=1), progress=False)
    with pytest.raises(ValueError, match="lr was 0.05 in the saved run"):
        train(config(tmp_path), resume=True, overrides={"lr": 0.1}, progress=False)
    result = train(config(tmp_path), resume=True, overrides={"epochs": 2}, progress=False)
    assert result.epoch == 2
    assert [r["epoch"] for r in read_metrics(tmp_path / "run")] == [1, 2]


def test_resume_from_missing_state(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(config(tmp_path), resume=True, progress=False)


def test_optimizer_groups_and_adamw(tmp_path):
    cfg = config(tmp_path, model="st-cnn-aff", optimizer="adamw", loc_lr_mult=0.1,
                 lr=1e-3).resolved()
    model = torchstn.models.build_model("st-cnn-aff", (1, 42, 42), 10)
    opt = make_optimizer(cfg, model)
    assert isinstance(opt, torch.optim.AdamW)
    lrs = {g["name"]: g["base_lr"] for g in opt.param_groups}
    assert lrs == pytest.approx({"localization": 1e-4, "rest": 1e-3})
    assert all(g["weight_decay"] == 0.01 for g in opt.param_groups)


def test_decay_on_matrices_only_spares_biases_and_the_identity(tmp_path):
    model = torchstn.models.build_model("st-cnn-aff", (1, 42, 42), 10)
    cfg = config(tmp_path, model="st-cnn-aff", optimizer="adamw", loc_lr_mult=0.1, lr=1e-3,
                 weight_decay=0.1, decay_scope="matrices").resolved()
    groups = {g["name"]: g for g in make_optimizer(cfg, model).param_groups}
    assert sorted(groups) == ["localization", "localization/no_decay", "rest", "rest/no_decay"]
    for name, g in groups.items():
        # each half keeps its group's learning rate; only the vectors lose the decay
        assert g["base_lr"] == pytest.approx(1e-4 if name.startswith("loc") else 1e-3)
        assert g["weight_decay"] == (0.0 if name.endswith("no_decay") else 0.1)
        assert all((p.dim() < 2) == name.endswith("no_decay") for p in g["params"])
    bias = model.transformer.regressor.bias  # the identity transform
    assert any(p is bias for p in groups["localization/no_decay"]["params"])
    # every parameter exactly once
    ids = [id(p) for g in groups.values() for p in g["params"]]
    assert sorted(ids) == sorted(id(p) for p in model.parameters())
    # one AdamW step with a zero gradient: decay shrinks the kernels, leaves the identity
    bias_before = bias.detach().clone()
    conv = next(p for p in model.parameters() if p.dim() == 4)
    conv_before = conv.detach().clone()
    opt = make_optimizer(cfg, model)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    assert torch.equal(bias, bias_before)
    assert conv.abs().sum() < conv_before.abs().sum()


@pytest.mark.parametrize("schedule, bf16", [("cosine", True), ("onecycle", False)])
def test_bf16_and_schedules_train(tmp_path, schedule, bf16):
    result = train(config(tmp_path, epochs=1, bf16=bf16, schedule=schedule, limit=64,
                          model="st-cnn-aff"), progress=False)
    assert math.isfinite(result.history[0]["loss"])


@pytest.mark.parametrize("native", [True, False])
def test_bf16_on_a_cpu_that_emulates_it_warns(tmp_path, monkeypatch, native):
    from torchstn.train import loop

    assert isinstance(loop.cpu_native_bf16(), bool)
    monkeypatch.setattr(loop, "cpu_native_bf16", lambda: native)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        train(config(tmp_path, epochs=1, bf16=True, limit=16), progress=False)
        train(config(tmp_path, epochs=1, limit=16), overwrite=True, progress=False)  # float32
    slow = [w for w in seen if "no native bfloat16" in str(w.message)]
    assert len(slow) == (0 if native else 1) and all("--bf16" in str(w.message) for w in slow)


def test_recompute_trains_like_the_default(tmp_path):
    from torchstn.train import distributed as D
    from torchstn.train.loop import Trainer

    runs = {}
    for recompute in (False, True):
        cfg = config(tmp_path / str(recompute), model="st-cnn-aff", epochs=1, limit=64,
                     recompute=recompute)
        train(cfg, progress=False)
        runs[recompute] = torchstn.load_model(tmp_path / str(recompute) / "run")
    # same data, same initialisation: the same weights up to float rounding
    for (k, a), b in zip(runs[False].state_dict().items(), runs[True].state_dict().values(),
                         strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4, msg=k)
    cfg = config(tmp_path / "t", model="st-cnn-aff", recompute=True).resolved()
    trainer = Trainer(cfg, D.setup("cpu"), tmp_path / "t")
    assert trainer.model.transformer.recompute  # the flag reaches every transformer


def test_initialisation_does_not_depend_on_the_spec_cache(tmp_path):
    from torchstn.models import build_for_dataset
    from torchstn.models.registry import cached_model_spec

    cached_model_spec.cache_clear()  # the first build in a process computes the spec...
    torch.manual_seed(3)
    cold = build_for_dataset("st-fcn-tps", "rts").state_dict()
    torch.manual_seed(3)  # ...later builds find it cached
    warm = build_for_dataset("st-fcn-tps", "rts").state_dict()
    for k in cold:
        assert torch.equal(cold[k], warm[k]), k


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_loss_is_cross_entropy_with_the_configured_label_smoothing(tmp_path, smoothing):
    import torch.nn.functional as F

    from torchstn.train import distributed as D
    from torchstn.train.loop import Trainer

    cfg = config(tmp_path, label_smoothing=smoothing).resolved()
    trainer = Trainer(cfg, D.setup("cpu"), tmp_path / "run")
    torch.manual_seed(0)
    images, labels = torch.rand(8, 1, 42, 42), torch.randint(0, 10, (8,))
    with torch.no_grad():
        logits = trainer.net(images.contiguous(memory_format=trainer.memory_format))
    want = F.cross_entropy(logits, labels, label_smoothing=smoothing)
    trainer.train_step(images, labels)
    assert float(trainer.stats.loss_sum) / trainer.stats.count == pytest.approx(float(want),
                                                                                rel=1e-5)
    if smoothing:  # the smoothed loss is not the plain one
        assert float(want) != pytest.approx(float(F.cross_entropy(logits, labels)), rel=1e-3)


def test_a_batch_norm_model_skips_a_last_batch_of_one_image(tmp_path):
    from torchstn.train.loop import SINGLE_IMAGE_SKIPPED

    # TC's FCN normalises its hidden layers; 33 images in batches of 32 leave a batch of one
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = train(config(tmp_path, dataset="tc", model="fcn", limit=33), progress=False)
    assert result.status == "done" and result.step == 4  # the skipped batches count as steps
    assert sum(str(w.message) == SINGLE_IMAGE_SKIPPED for w in seen) == 2  # one an epoch
    model = torchstn.load_model(tmp_path / "run")
    assert model.spec.batchnorm
    norms = [m for m in model.classifier if isinstance(m, torch.nn.BatchNorm1d)]
    # statistics from the two full batches only
    assert len(norms) == 2 and all(int(m.num_batches_tracked) == 2 for m in norms)
    # without batch norm the batch of one trains as any other
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        train(config(tmp_path, dataset="r", model="fcn", limit=33), overwrite=True, progress=False)
    assert not any(str(w.message) == SINGLE_IMAGE_SKIPPED for w in seen)


def test_ema_runs_save_the_average_and_resume_exactly(tmp_path):
    from safetensors.torch import load_file

    ema = {"model": "st-cnn-aff", "ema": 0.9}
    whole = train(config(tmp_path / "whole", **ema), progress=False)
    assert whole.status == "done"
    saved = load_file(str(tmp_path / "whole" / "run" / "model.safetensors"))
    state = torch.load(tmp_path / "whole" / "run" / "state.pt", weights_only=True)
    assert any(not torch.equal(saved[k], state["model"][k]) for k in saved)  # not the last weights
    for k in saved:
        assert torch.equal(saved[k], state["ema"][k]), k
    # one epoch, then resumed to two: the same average as the uninterrupted run
    train(config(tmp_path / "split", epochs=1, **ema), progress=False)
    train(config(tmp_path / "split", **ema), resume=True, overrides={"epochs": 2}, progress=False)
    resumed = load_file(str(tmp_path / "split" / "run" / "model.safetensors"))
    for k in saved:
        assert torch.equal(saved[k], resumed[k]), k
    # a checkpoint without an average cannot continue a run that keeps one
    train(config(tmp_path / "plain", epochs=1), progress=False)
    plain = torch.load(tmp_path / "plain" / "run" / "state.pt", weights_only=True)
    plain["config"]["ema"] = 0.9
    torch.save(plain, tmp_path / "plain" / "run" / "state.pt")
    with pytest.raises(ValueError, match="holds no weight average"):
        train(config(tmp_path / "plain"), resume=True, overrides={"epochs": 2}, progress=False)
