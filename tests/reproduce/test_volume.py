"""``torchstn reproduce 3d``: the cells, the recipe, the report and its figure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from torchstn.cli.main import main
from torchstn.reproduce import table1
from torchstn.reproduce.recipes import EXPERIMENTS, Cell, all_cells, recipe
from torchstn.reproduce.report import model_title

from .test_table1 import dirs, fake_error, make_run


@pytest.mark.real_recipes
def test_cells_have_no_paper_number_and_a_recipe():
    cells = all_cells("3d")
    assert [c.model for c in cells] == ["proj-cnn", "st3d-cnn"] == list(EXPERIMENTS["3d"]["3d"])
    assert all(c.paper_error is None for c in cells)  # the paper shows pictures only
    assert recipe("3d")["epochs"] < recipe("rts")["epochs"]
    assert table1.parse_cells("3d:st3d-cnn", "3d") == [Cell("3d", "st3d-cnn")]
    assert table1.reproduce_command(Cell("3d", "proj-cnn"), 1) == \
        "torchstn reproduce 3d --cells 3d:proj-cnn"
    assert (model_title("st3d-cnn"), model_title("proj-cnn")) == ("3D ST-CNN", "CNN")


def test_report_and_figure_from_finished_runs(tmp_path):
    pytest.importorskip("matplotlib")
    runs = tmp_path / "runs"
    st = make_run(runs, "3d", "st3d-cnn", 0)
    make_run(runs, "3d", "proj-cnn", 0, finished=False)
    args = ["reproduce", "3d", "--report-only", "--fake-data", "--threads", "1", *dirs(tmp_path)]
    assert main(args) == 0
    rows = json.loads((tmp_path / "results" / "3d.json").read_text())
    by = {r["model"]: r for r in rows}
    assert by["st3d-cnn"]["error"] == pytest.approx(fake_error(st, "3d"))
    assert by["st3d-cnn"]["paper_error"] is None and by["st3d-cnn"]["beats_paper"] is None
    assert by["proj-cnn"]["error"] is None and by["proj-cnn"]["unfinished"]
    md = (tmp_path / "results" / "3d.md").read_text()
    assert "synthetic test data" in md and "| 3D ST-CNN |" in md and "| – |" in md
    figure = tmp_path / "results" / "figures" / "3d-st3d-cnn.png"
    assert figure.stat().st_size > 0 and "figures/3d-st3d-cnn.png" in md


def test_dry_run_uses_the_3d_runs_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["reproduce", "3d", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "--model st3d-cnn" in out and str(Path("runs/3d/3d")) in out
    assert f"--epochs {recipe('3d')['epochs']}" in out


def test_cell_titles_do_not_repeat_the_column():
    from torchstn.reproduce.report import cell_title

    assert cell_title({"dataset": "3d", "model": "st3d-cnn"}) == "3D ST-CNN"
    assert cell_title({"dataset": "3d", "model": "proj-cnn"}) == "3D CNN"
    assert cell_title({"dataset": "rts", "model": "st-cnn-aff"}) == "RTS ST-CNN Aff"
