"""``torchstn reproduce``: cells, run-folder states, dry run, the report, figures, the driver."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from torchstn.cli.main import main
from torchstn.evaluate import evaluate
from torchstn.io import load_model, save_model
from torchstn.models import build_for_dataset
from torchstn.reproduce import evaluation, jobs, recipes, table1
from torchstn.reproduce.recipes import COLUMNS, PAPER_ERRORS, Cell, all_cells, recipe
from torchstn.reproduce.report import REQUIRED_KEYS, above_line, beat_line, model_title
from torchstn.train.config import TrainConfig, save_config
from torchstn.train.data import DataSource
from torchstn.train.loop import KILL_ENV

PAPER_MD = Path(__file__).resolve().parents[3] / "shared" / "spec" / "PAPER.md"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
EPOCH_TIMES = (1.5, 2.5)
N_CELLS = 8 * 4 + 4


# ---- helpers ----------------------------------------------------------------------------------
def make_run(runs_dir: Path, dataset: str, model: str, seed: int, *, finished: bool = True
             ) -> Path:
    """A run folder as `torchstn train` and the driver leave it (untrained weights), trained with
    its column's recipe (whose epochs `conftest.short_recipes` sets to ``len(EPOCH_TIMES)``)."""
    path = table1.run_dir(runs_dir, Cell(dataset, model), seed)
    path.mkdir(parents=True)
    save_config(TrainConfig(dataset=dataset, model=model, out=str(path), seed=seed,
                            **{**recipe(dataset), "epochs": len(EPOCH_TIMES)}).resolved(), path)
    lines = [json.dumps({"epoch": i + 1, "epoch_time_s": t}) for i, t in enumerate(EPOCH_TIMES)]
    (path / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    if not finished:
        (path / "state.pt").write_bytes(b"not read by run_state")
        return path
    torch.manual_seed(seed)
    save_model(build_for_dataset(model, dataset), path / "model.safetensors", dataset=dataset,
               epoch=len(EPOCH_TIMES))
    (path / "summary.json").write_text(json.dumps({"status": "done", "epoch": len(EPOCH_TIMES)}))
    (path / "provenance.json").write_text(json.dumps({
        "command": f"torchstn train --dataset {dataset} --model {model} --seed {seed}",
        "sessions": [{"commit": COMMIT, "dirty": False, "machine": "Test CPU", "threads": 1,
                      "device": "cpu"}]}))
    return path


def fake_error(path: Path, dataset: str) -> float:
    """Test error in % of a run's model on the fake test set, computed here independently."""
    images, labels = DataSource(dataset, 1, fake=True).test_set()
    return 100 * evaluate(load_model(path), images, labels)["error"]


def dirs(tmp_path: Path) -> list[str]:
    return ["--runs-dir", str(tmp_path / "runs"), "--results-dir", str(tmp_path / "results"),
            "--checkpoints-dir", str(tmp_path / "ck")]


# ---- the table --------------------------------------------------------------------------------
def test_the_table_has_every_cell_with_a_paper_number():
    cells = all_cells()
    assert len(cells) == N_CELLS == len(set(cells))
    assert {(c.dataset, c.model) for c in cells} == {k for k in PAPER_ERRORS if k[0] in COLUMNS}
    assert COLUMNS["tc"] == ("fcn", "cnn", "st-fcn-aff", "st-cnn-aff")
    for d in COLUMNS:
        assert set(recipe(d)) >= {"optimizer", "lr", "schedule", "epochs", "batch_size"}
        TrainConfig(dataset=d, model="cnn", out="x", **recipe(d)).resolved()


@pytest.mark.skipif(not PAPER_MD.is_file(), reason="the spec is not beside the checkout")
def test_paper_numbers_are_those_of_the_spec():
    text = PAPER_MD.read_text()
    rows = 0
    for line in text.splitlines():
        m = re.match(r"\| (FCN|CNN|ST-(?:FCN|CNN) \w+)\s*\|(.*)\|\s*$", line)
        if m:
            name = m.group(1).lower().replace(" ", "-")
            values = [float(v) for v in m.group(2).split("|")]
            assert values == [PAPER_ERRORS[(d, name)] for d in ("r", "rts", "p", "e")]
            rows += 1
    assert rows == len(recipes.TABLE1_MODELS)
    tc = re.search(r"FCN (\d+\.\d), CNN (\d+\.\d), ST-FCN (\d+\.\d), ST-CNN (\d+\.\d)", text)
    assert [float(v) for v in tc.groups()] == [PAPER_ERRORS[("tc", m)] for m in COLUMNS["tc"]]


def test_parse_cells():
    assert table1.parse_cells(None) == all_cells() == table1.parse_cells("all")
    assert table1.parse_cells("RTS:ST-CNN-AFF, r:cnn,rts:st-cnn-aff") == [
        Cell("rts", "st-cnn-aff"), Cell("r", "cnn")]
    assert table1.parse_cells("tc") == [Cell("tc", m) for m in COLUMNS["tc"]]


@pytest.mark.parametrize("text, message", [
    ("x:cnn", "unknown dataset 'x'"),
    ("rts:resnet", "'rts:resnet' is not a cell of table1"),
    ("tc:st-cnn-proj", "the models of tc are"),
    (",", "expected DATASET:MODEL"),
])
def test_bad_cells_are_one_line_errors(text, message, tmp_path, capsys):
    assert main(["reproduce", "table1", "--dry-run", "--cells", text, *dirs(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_unknown_recipe_setting_names_the_valid_ones(monkeypatch):
    monkeypatch.setitem(recipes.RECIPES, "r", {"epochz": 3})
    with pytest.raises(ValueError, match="unknown setting 'epochz'.*epochs"):
        table1.train_args(Cell("r", "cnn"), 0, "out")


# ---- run folders ------------------------------------------------------------------------------
def four_seeds(runs: Path) -> None:
    """Run folders of r:cnn: seed 0 done, 1 unfinished, 2 left files but no checkpoint, 3 none."""
    make_run(runs, "r", "cnn", 0)
    make_run(runs, "r", "cnn", 1, finished=False)
    leftover = table1.run_dir(runs, Cell("r", "cnn"), 2)
    leftover.mkdir(parents=True)
    (leftover / "config.json").write_text("{}")  # died before its first checkpoint


def test_run_states(tmp_path):
    runs = tmp_path / "runs"
    four_seeds(runs)
    states = [table1.run_state(table1.run_dir(runs, Cell("r", "cnn"), s)) for s in range(4)]
    assert [s.status for s in states] == ["done", "unfinished", "missing", "missing"]
    assert states[1].epoch == len(EPOCH_TIMES) and states[1].epochs == len(EPOCH_TIMES)
    assert states[2].leftovers and not states[3].leftovers


def test_dry_run_lists_what_it_would_train(tmp_path, capsys):
    make_run(tmp_path / "runs", "rts", "st-cnn-aff", 0, finished=False)
    assert main(["reproduce", "table1", "--dry-run", "--cells", "rts:st-cnn-aff,tc",
                 "--seeds", "2", *dirs(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln.split(" ")[0] in ("train", "resume")]
    assert len(lines) == 2 * 5
    assert lines[0].startswith("resume  rts:st-cnn-aff seed 0") and "epoch 2/2" in lines[0]
    epochs = recipe("rts")["epochs"]
    assert lines[1].startswith("train   rts:st-cnn-aff seed 1: torchstn train --dataset rts "
                               "--model st-cnn-aff --out ")
    assert "--seed 1 " in lines[1] and f"--epochs {epochs}" in lines[1]
    assert sum("--dataset tc" in ln for ln in lines) == 8
    assert not (tmp_path / "results").exists() and not (tmp_path / "ck").exists()


# ---- the report -------------------------------------------------------------------------------
@pytest.fixture
def finished(tmp_path):
    runs = tmp_path / "runs"
    return {"r0": make_run(runs, "r", "cnn", 0), "r1": make_run(runs, "r", "cnn", 1),
            "rts": make_run(runs, "rts", "st-cnn-aff", 0),
            "busy": make_run(runs, "p", "fcn", 0, finished=False)}


def test_report_from_finished_runs(finished, tmp_path, monkeypatch):
    args = ["reproduce", "table1", "--report-only", "--fake-data", "--threads", "1",
            "--no-figures", *dirs(tmp_path)]
    prov = finished["r1"] / "provenance.json"  # seed 1 was resumed on a GPU
    record = json.loads(prov.read_text())
    record["sessions"].append({"commit": COMMIT, "dirty": False, "machine": "Test GPU",
                               "threads": 1, "device": "cuda"})
    prov.write_text(json.dumps(record))
    assert main(args) == 0
    rows = json.loads((tmp_path / "results" / "table1.json").read_text())
    assert isinstance(rows, list) and len(rows) == N_CELLS
    assert all(k in r for r in rows for k in REQUIRED_KEYS)
    by = {(r["dataset"], r["model"]): r for r in rows}

    r = by[("r", "cnn")]
    per_seed = [fake_error(finished["r0"], "r"), fake_error(finished["r1"], "r")]
    assert r["errors"] == pytest.approx(per_seed) and r["seeds"] == [0, 1]
    assert r["error"] == pytest.approx(sum(per_seed) / 2)
    assert r["commit"] == COMMIT and r["epochs"] == len(EPOCH_TIMES)
    assert r["wall_time_s"] == pytest.approx(sum(EPOCH_TIMES))
    assert r["command"].startswith("torchstn train --dataset r --model cnn --seed 0")
    assert r["reproduce_command"] == "torchstn reproduce table1 --cells r:cnn --seeds 2"
    assert r["parameters"] == sum(p.numel() for p in load_model(finished["r0"]).parameters())
    assert [run["gpus"] for run in r["runs"]] == [[], ["Test GPU"]]
    assert r["paper_error"] == PAPER_ERRORS[("r", "cnn")]
    ck = Path(r["checkpoint"])
    ck = ck if ck.is_absolute() else evaluation.repo_root() / ck
    assert ck == tmp_path / "ck" / "r" / "cnn-seed0.safetensors"
    with safe_open(str(ck), "pt") as f:  # stored as float16 when that changes no prediction
        stored = {f.get_tensor(k).dtype for k in f.keys()}
    assert stored == {torch.float16 if r["runs"][0]["checkpoint_dtype"] == "float16"
                      else torch.float32}
    assert next(load_model(ck).parameters()).dtype == torch.float32

    assert by[("p", "fcn")]["error"] is None and by[("p", "fcn")]["unfinished"][0]["epoch"] == 2
    assert by[("tc", "fcn")]["error"] is None and by[("tc", "fcn")]["errors"] == []

    md = (tmp_path / "results" / "table1.md").read_text()
    assert "synthetic test data" in md
    columns = list(COLUMNS)
    for (d, m), paper in PAPER_ERRORS.items():  # every cell of the main table, in its place
        if d not in COLUMNS:
            continue
        row = next(ln for ln in md.splitlines() if ln.startswith(f"| {model_title(m)} |"))
        assert row.strip(" |").split(" | ")[1 + columns.index(d)].endswith(f"(paper {paper})")
    assert md.count("not run (paper") == N_CELLS - 2
    assert f"{by[('r', 'cnn')]['error']:.2f} ± " in md
    assert "Cells that beat the paper" in md and "epoch 2/2" in md

    # a second report reuses the cached test errors
    def no_testing(*args, **kwargs):
        raise AssertionError("a finished run was tested twice")

    monkeypatch.setattr(evaluation, "measure", no_testing)
    monkeypatch.setattr(evaluation, "commit_checkpoint", no_testing)
    assert main(args) == 0


def test_seeds_without_run_folders_keep_their_reported_results(finished, tmp_path):
    """A fresh clone has the committed report and checkpoints but no run folders: the report is
    rebuilt from the records for those seeds (a run folder that is here wins), and planning does
    not train them again; a record whose checkpoint is gone is a stated problem."""
    assert main(["reproduce", "table1", "--report-only", "--fake-data", "--threads", "1",
                 "--no-figures", *dirs(tmp_path)]) == 0
    report = tmp_path / "results" / "table1.json"
    before = {(r["dataset"], r["model"]): r for r in json.loads(report.read_text())}
    recorded = evaluation.recorded_runs(report)
    assert sorted(recorded[("r", "cnn")]) == [0, 1] and ("tc", "fcn") not in recorded
    runs = tmp_path / "runs"
    for path in (finished["r1"], finished["rts"]):  # these folders are not in the clone
        for f in sorted(path.iterdir()):
            f.unlink()
        path.rmdir()
    ctx = evaluation.Context(runs, tmp_path / "ck", fake=True, recorded=recorded)
    row = evaluation.cell_result(Cell("r", "cnn"), ctx)
    assert row["errors"] == pytest.approx(before[("r", "cnn")]["errors"])
    assert [r["source"] for r in row["runs"]] == [evaluation.SOURCE_RUN, evaluation.SOURCE_RECORD]
    assert row["status"] == "done" or row["status"] == "partial"
    rts = evaluation.cell_result(Cell("rts", "st-cnn-aff"), ctx)
    assert rts["errors"] == pytest.approx(before[("rts", "st-cnn-aff")]["errors"])

    Path(before[("r", "cnn")]["checkpoints"][1]).unlink()
    row = evaluation.cell_result(Cell("r", "cnn"), ctx)
    assert row["seeds"] == [0] and "reported earlier" in row["problems"][0]

    done = {("r", "cnn", 1)}
    planned = jobs.plan([Cell("r", "cnn")], 3, runs, recorded=done)
    assert [j.action for j in planned] == ["skip", "recorded", "train"]
    assert "committed report" in planned[1].describe()


def test_a_run_of_another_cell_is_not_reported(tmp_path, capsys):
    runs = tmp_path / "runs"
    src = make_run(runs, "r", "cnn", 0)
    wrong = table1.run_dir(runs, Cell("r", "fcn"), 0)
    wrong.parent.mkdir(parents=True)
    src.rename(wrong)
    ctx = evaluation.Context(runs, tmp_path / "ck", fake=True)
    row = evaluation.cell_result(Cell("r", "fcn"), ctx)
    assert row["error"] is None and "holds a run of r:cnn" in row["problems"][0]


def test_beat_line_lists_only_cells_below_the_paper():
    rows = [{"dataset": "rts", "model": "st-cnn-aff", "error": 0.4, "paper_error": 0.5,
             "beats_paper": True},
            {"dataset": "r", "model": "cnn", "error": 1.3, "paper_error": 1.2,
             "beats_paper": False},
            {"dataset": "e", "model": "cnn", "error": None, "paper_error": 1.4,
             "beats_paper": None}]
    line = beat_line(rows)
    assert "RTS ST-CNN Aff (0.40 vs 0.5)" in line and "1 of 2 run" in line and "R CNN" not in line
    assert "none yet" in beat_line(rows[2:])


def test_above_line_gives_each_gap_in_standard_errors():
    rows = [{"dataset": "rts", "model": "st-cnn-aff", "error": 0.4, "paper_error": 0.5,
             "beats_paper": True, "error_se": 0.07},
            {"dataset": "r", "model": "cnn", "error": 1.4, "paper_error": 1.2,
             "beats_paper": False, "error_se": 0.1},
            {"dataset": "p", "model": "fcn", "error": 3.1, "paper_error": 3.1,
             "beats_paper": False, "error_se": None},
            {"dataset": "e", "model": "cnn", "error": None, "paper_error": 1.4,
             "beats_paper": None, "error_se": None}]
    line = above_line(rows)
    assert "R CNN (+0.20, 2.0 SE)" in line and "P FCN (+0.00)" in line
    assert "RTS" not in line and "E CNN" not in line
    assert above_line(rows[:1]) == above_line(rows[3:]) == ""


def test_standard_error_of_a_mean_adds_the_seeds_and_the_test_digits():
    from torchstn.reproduce.evaluation import mean_standard_error

    # one seed: only the test set's binomial noise, sqrt(0.01 * 0.99 / 10000) = 0.000995 (0.0995%)
    assert mean_standard_error([1.0], 10_000) == pytest.approx(0.0995, abs=1e-4)
    # seeds 0.9, 1.0, 1.1: variance 0.01 (in %^2), over 3 seeds, plus the binomial 0.0995^2
    assert mean_standard_error([0.9, 1.0, 1.1], 10_000) == pytest.approx(
        (0.01 / 3 + 0.0995 ** 2) ** 0.5, abs=1e-4)
    # more test digits shrink only the binomial part
    assert mean_standard_error([0.9, 1.0, 1.1], 10 ** 9) == pytest.approx((0.01 / 3) ** 0.5,
                                                                          abs=1e-4)
    assert mean_standard_error([], 10_000) is None and mean_standard_error([1.0], None) is None


def test_figures_of_finished_st_cnns(finished, tmp_path, capsys):
    assert main(["reproduce", "figures", "--fake-data", "--rows", "2", "--runs-dir",
                 str(tmp_path / "runs"), "--results-dir", str(tmp_path / "results")]) == 0
    assert [p.name for p in (tmp_path / "results" / "figures").iterdir()] == ["rts-st-cnn.png"]


# ---- the driver -------------------------------------------------------------------------------
def test_driver_trains_stops_cleanly_resumes_and_skips(tmp_path, monkeypatch):
    tiny = {"epochs": 1, "batch_size": 32, "limit": 64, "tensorboard": False}  # 2 steps
    monkeypatch.setitem(recipes.RECIPES, "r", tiny)
    args = ["reproduce", "table1", "--cells", "r:cnn", "--fake-data", "--threads", "1",
            "--no-progress", "--no-figures", *dirs(tmp_path)]
    path = table1.run_dir(tmp_path / "runs", Cell("r", "cnn"), 0)

    monkeypatch.setenv(KILL_ENV, "1:INT")  # the child gets Ctrl-C after its first step
    assert main(args) == 130
    assert table1.run_state(path).status == "unfinished"
    monkeypatch.delenv(KILL_ENV)
    assert main(args) == 0  # resumes
    sessions = json.loads((path / "provenance.json").read_text())["sessions"]
    assert [s["action"] for s in sessions] == ["train", "resume"]
    assert [s["returncode"] for s in sessions] == [130, 0]
    row = next(r for r in json.loads((tmp_path / "results" / "table1.json").read_text())
               if (r["dataset"], r["model"]) == ("r", "cnn"))
    assert row["error"] == pytest.approx(fake_error(path, "r"))
    assert row["command"] == table1.show("train", table1.train_args(
        Cell("r", "cnn"), 0, path, threads=1, fake=True))
    assert row["commit"] == sessions[0]["commit"] and row["wall_time_s"] >= 0

    def no_child(argv):
        raise AssertionError(f"a finished cell was trained again: {argv}")

    monkeypatch.setattr(jobs, "run_child", no_child)
    assert main(args) == 0


def test_a_mean_equal_to_the_paper_does_not_beat_it():
    from torchstn.reproduce.evaluation import below

    assert (0.81 + 0.77 + 0.82) / 3 < 0.8  # the float mean: 0.7999...
    assert below((0.81 + 0.77 + 0.82) / 3, 0.8) is False
    assert below(0.79, 0.8) is True and below(0.81, 0.8) is False
    assert below(None, 0.8) is None and below(0.5, None) is None
