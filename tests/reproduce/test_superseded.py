"""Runs of an older recipe or model: compared field by field, left out of the report, trained
again."""

from __future__ import annotations

import dataclasses
import json

import pytest

from torchstn.cli.main import main
from torchstn.io import read_model_file, save_model
from torchstn.models import ModelSpec, build_from_spec
from torchstn.models.registry import model_spec
from torchstn.reproduce import driver, evaluation, jobs, recipes, table1
from torchstn.reproduce.recipes import Cell, recipe
from torchstn.reproduce.superseded import (
    SUPERSEDED_DIR,
    config_changes,
    config_from_command,
    model_file_changes,
    recipe_changes,
    record_changes,
    set_aside,
    spec_changes,
)
from torchstn.train.config import TrainConfig

from .test_table1 import dirs, make_run


def load_spec(path) -> ModelSpec:
    """The model record of run folder ``path``."""
    return ModelSpec.from_dict(read_model_file(path)[1]["model"])


def config(dataset: str = "rts", **changes) -> TrainConfig:
    return TrainConfig(dataset=dataset, model="st-cnn-aff", out="x",
                       **{**recipe(dataset), **changes})


def test_a_run_of_the_current_recipe_has_no_changes():
    assert recipe_changes(config(), "rts") == {}
    # settings that do not change what is learnt never supersede a run
    assert recipe_changes(config(threads=7, device="cpu", prefetch=3, save_dtype="float16",
                                 tensorboard=False, data_root="/elsewhere"), "rts") == {}


def test_changes_name_the_run_value_and_the_recipe_value(monkeypatch):
    # AdamW's default weight decay (0.01, filled in) against a recipe that asks for 0.1
    monkeypatch.setitem(recipes.RECIPES, "rts", {"optimizer": "adamw", "epochs": 5})
    old = config()
    monkeypatch.setitem(recipes.RECIPES, "rts", {**recipe("rts"), "weight_decay": 0.1})
    assert recipe_changes(old, "rts") == {"weight_decay": [0.01, 0.1]}
    assert recipe_changes(config(), "rts") == {}
    epochs = recipe("rts")["epochs"]
    assert recipe_changes(config(epochs=epochs + 1), "rts") == {"epochs": [epochs + 1, epochs]}
    # a saved config.json (a dict) is compared the same way; no config: nothing to compare
    assert config_changes(old.to_dict(), "rts") == {"weight_decay": [0.01, 0.1]}
    assert config_changes(None, "rts") == {} and config_changes({"bogus": 1}, "rts") == {}


def test_recorded_commands_are_parsed_with_the_train_parser(monkeypatch):
    monkeypatch.setitem(recipes.RECIPES, "rts", {"optimizer": "adamw", "lr": 0.002})
    cmd = ("torchstn train --dataset rts --model st-cnn-aff --out runs/table1/rts/st-cnn-aff/seed0"
           " --seed 0 --optimizer adamw --lr 0.002 --weight-decay 0.1 --bf16 --threads 1")
    cfg = config_from_command(cmd)
    assert (cfg.optimizer, cfg.lr, cfg.weight_decay, cfg.bf16, cfg.seed) == ("adamw", 0.002, 0.1,
                                                                             True, 0)
    with pytest.raises(ValueError, match="unrecognized arguments"):
        config_from_command("torchstn train --out x --dataset r --model cnn --bogus 1")
    with pytest.raises(ValueError, match="not a `torchstn train` command"):
        config_from_command("torchstn eval x")
    assert record_changes({"error": 1.0}, "rts") == {}  # no command: nothing to compare
    assert record_changes({"command": cmd}, "rts")["weight_decay"] == [0.1, 0.01]


@pytest.mark.parametrize("field, value, default", [("label_smoothing", 0.1, 0.0),
                                                    ("ema", 0.999, None)])
def test_a_recipe_field_goes_through_the_command_and_supersedes(monkeypatch, field, value,
                                                                default):
    monkeypatch.setitem(recipes.RECIPES, "rts", {**recipe("rts"), field: value})
    words = table1.train_args(Cell("rts", "st-cnn-aff"), 0, "runs/x")
    assert words[words.index("--" + field.replace("_", "-")) + 1] == str(value)
    assert getattr(config_from_command("torchstn train " + " ".join(words)), field) == value
    monkeypatch.setitem(recipes.RECIPES, "rts", {k: v for k, v in recipe("rts").items()
                                                 if k != field})
    assert recipe_changes(config(**{field: value}), "rts") == {field: [value, default]}


def test_set_aside_moves_everything_but_the_kept_names(tmp_path):
    run = tmp_path / "cnn" / "seed0"
    run.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "driver.lock"):
        (run / name).write_text(name)
    first = set_aside(run, keep=("driver.lock",))
    assert first.parent == tmp_path / "cnn" / SUPERSEDED_DIR and first.name.startswith("seed0-")
    assert sorted(p.name for p in first.iterdir()) == ["config.json", "model.safetensors"]
    assert [p.name for p in run.iterdir()] == ["driver.lock"]
    (run / "config.json").write_text("again")
    second = set_aside(run, keep=("driver.lock",))  # within the same second: its own folder
    assert second != first and (second / "config.json").read_text() == "again"


def test_a_recipe_change_supersedes_finished_runs(tmp_path, monkeypatch, capsys):
    """The column's recipe changes after two seeds finished: the report counts neither (and
    names them), the plan trains both again, and training moves the old folder aside first."""
    runs = tmp_path / "runs"
    for seed in (0, 1):
        make_run(runs, "r", "cnn", seed)
    cell = Cell("r", "cnn")
    assert [j.action for j in jobs.plan([cell], 2, runs)] == ["skip", "skip"]
    report_args = ["reproduce", "table1", "--report-only", "--fake-data", "--threads", "1",
                   "--no-figures", *dirs(tmp_path)]
    assert main(report_args) == 0  # measured (and cached in the folders) under the old recipe
    before = next(r for r in json.loads((tmp_path / "results" / "table1.json").read_text())
                  if (r["dataset"], r["model"]) == ("r", "cnn"))["errors"]

    monkeypatch.setitem(recipes.RECIPES, "r", {**recipe("r"), "lr": 0.123})
    planned = jobs.plan([cell], 2, runs, threads=1)
    assert [j.action for j in planned] == ["retrain", "retrain"]
    assert "older recipe" in planned[0].describe() and "--lr 0.123" in planned[0].describe()

    ctx = evaluation.Context(runs, tmp_path / "ck", fake=True)
    row = evaluation.cell_result(cell, ctx)
    assert row["error"] is None and row["runs"] == []
    assert [s["seed"] for s in row["superseded"]] == [0, 1]
    lr = row["superseded"][0]["changes"]["lr"]
    assert lr[1] == 0.123 and lr[0] != 0.123

    assert main(report_args) == 0
    md = (tmp_path / "results" / "table1.md").read_text()
    assert "Runs of an older recipe or model, not counted" in md and "R CNN seeds 0, 1 (lr" in md
    assert f"test errors {before[0]:.2f}, {before[1]:.2f}%" in md  # from the cached tests

    argvs = []
    monkeypatch.setattr(jobs, "run_child", lambda argv: argvs.append(argv) or 0)
    assert jobs.train_job(planned[0], threads=1, progress=False) == 0
    old = list((runs / "r" / "cnn" / SUPERSEDED_DIR).iterdir())
    assert len(old) == 1 and (old[0] / "model.safetensors").is_file()
    assert not (planned[0].path / "model.safetensors").exists()
    assert "--resume" not in argvs[0] and "--overwrite" not in argvs[0]
    assert argvs[0][argvs[0].index("--lr") + 1] == "0.123"
    # the superseded folder is not a seed folder: the cell now has one seed to (re)train left
    assert [s for s, _ in table1.seed_dirs(runs, cell)] == [0, 1]


def test_recorded_runs_of_an_older_recipe_are_trained_again(tmp_path, monkeypatch):
    """In a fresh clone (no run folders), a seed the committed report holds is not trained
    again, unless its recorded command used another recipe than the column's current one."""
    runs = tmp_path / "runs"
    cmd = table1.show("train", table1.train_args(Cell("r", "cnn"), 0, runs / "r/cnn/seed0"))
    report = tmp_path / "table1.json"
    report.write_text(json.dumps([{"dataset": "r", "model": "cnn", "runs": [
        {"seed": 0, "error": 1.0, "command": cmd, "checkpoint": "ck.safetensors"}]}]))
    opts_recorded = evaluation.recorded_runs(report)
    monkeypatch.setattr(driver, "recorded", lambda opts: opts_recorded)
    out = tmp_path / "plan.txt"
    with out.open("w") as f:
        driver.reproduce_table1(driver.Options(cells=[Cell("r", "cnn")], seeds=1, runs_dir=runs,
                                               results_dir=tmp_path), dry_run=True, out=f)
    assert "in the committed report" in out.read_text()

    monkeypatch.setitem(recipes.RECIPES, "r", {**recipe("r"), "weight_decay": 0.5})
    with out.open("w") as f:
        driver.reproduce_table1(driver.Options(cells=[Cell("r", "cnn")], seeds=1, runs_dir=runs,
                                               results_dir=tmp_path), dry_run=True, out=f)
    assert out.read_text().startswith("train   r:cnn seed 0")
    row = evaluation.cell_result(Cell("r", "cnn"), evaluation.Context(
        runs, tmp_path / "ck", fake=True, recorded=opts_recorded))
    assert row["runs"] == [] and row["superseded"][0]["changes"]["weight_decay"][1] == 0.5
    # the next report (from this one's JSON) still names it: superseded records are kept whole
    report.write_text(json.dumps([row]))
    again = evaluation.cell_result(Cell("r", "cnn"), evaluation.Context(
        runs, tmp_path / "ck", fake=True, recorded=evaluation.recorded_runs(report)))
    assert [(x["seed"], x["command"]) for x in again["superseded"]] == [(0, cmd)]
    assert again["runs"] == []


def test_a_model_record_is_compared_with_the_registrys_model():
    # the addition 2xST-FCNs as trained before their outputs were pooled 3x
    old = {"name": "2xst-fcn-tps", "in_shape": [2, 42, 42], "num_classes": 19,
           "widths": [57, 57], "pool": 2, "loc_pool": 4}
    changes = spec_changes(old, "addition")
    assert sorted(changes) == ["pool", "widths"] and changes["pool"] == [2, 3]
    assert changes["widths"][0] == [57, 57] and changes["widths"][1][0] > 57
    now = {**old, "pool": 3, "widths": changes["widths"][1]}
    assert spec_changes(now, "addition") == {}
    # a record without a localisation pool (the classifier's) is read as that pool: the TC
    # ST-FCN before its localisation net read the input pooled 4x
    tc = model_spec("st-fcn-aff", (1, 60, 60), 10)
    before = {**tc.to_dict(), "loc_pool": None, "widths": [193, 193]}
    assert spec_changes(before, "tc")["loc_pool"] == [tc.pool, tc.localization_pool]
    # a record without batch norm (written before it existed) is read as none
    plain = {k: v for k, v in tc.to_dict().items() if k != "batchnorm"}
    assert spec_changes(plain, "tc") == {"batchnorm": [False, True]}
    # a record without iterations (written before the transformer could look twice) is one look
    rts = model_spec("st-fcn-aff", (1, 42, 42), 10).to_dict()
    once = {k: v for k, v in rts.items() if k != "iterations"}
    assert spec_changes(once, "rts") == {"iterations": [1, 2]} and spec_changes(rts, "rts") == {}
    # nothing to compare: no record, a broken one, an unknown model
    for bad in (None, {}, {**old, "pool": "x"}, {**old, "name": "nope"}):
        assert spec_changes(bad, "addition") == {}


def test_a_run_of_an_older_architecture_is_superseded(tmp_path):
    """A finished run whose saved model is not the one the registry builds now (other widths)
    is left out of the report and trained again; so is a recorded run whose checkpoint is."""
    runs = tmp_path / "runs"
    cell = Cell("r", "st-fcn-aff")
    path = make_run(runs, "r", "st-fcn-aff", 0)
    assert table1.folder_changes(path, "r") == {}
    assert [j.action for j in jobs.plan([cell], 1, runs)] == ["skip"]
    spec = load_spec(path)
    older = dataclasses.replace(spec, widths=tuple(w + 1 for w in spec.widths))
    save_model(build_from_spec(older), path / "model.safetensors", dataset="r")
    want = {"widths": [list(older.widths), list(spec.widths)]}
    assert table1.folder_changes(path, "r") == want == model_file_changes(path, "r")
    planned = jobs.plan([cell], 1, runs)
    assert [j.action for j in planned] == ["retrain"]
    assert (f"widths {list(older.widths)} (model now {list(spec.widths)})"
            in planned[0].describe())
    row = evaluation.cell_result(cell, evaluation.Context(runs, tmp_path / "ck", fake=True))
    assert row["runs"] == [] and row["superseded"][0]["changes"] == want

    # a record of the committed report: its checkpoint (relative to the root) is read
    cmd = table1.show("train", table1.train_args(cell, 0, path))
    save_model(build_from_spec(spec), tmp_path / "now.safetensors", dataset="r")
    record = {"seed": 0, "command": cmd, "checkpoint": "now.safetensors"}
    assert record_changes(record, "r", root=tmp_path) == {}
    assert record_changes({**record, "checkpoint": "seed0/model.safetensors"}, "r",
                          root=path.parent) == want
    assert record_changes({**record, "checkpoint": "absent.safetensors"}, "r",
                          root=tmp_path) == {}
