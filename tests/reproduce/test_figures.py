"""Which model a figure shows: the report's first seed, else the lowest finished seed here."""

from __future__ import annotations

from torchstn.reproduce.figures import figure_model, finished_run, reported_models
from torchstn.reproduce.recipes import Cell

from .test_table1 import make_run


def test_a_figure_shows_the_reported_checkpoint_before_a_local_run(tmp_path):
    runs = tmp_path / "runs"
    cell = Cell("rts", "st-cnn-aff")
    assert figure_model(runs, cell) is None  # nothing anywhere
    local = make_run(runs, "rts", "st-cnn-aff", 2)  # only seed 2 here, as after a partial pull
    assert figure_model(runs, cell) == finished_run(runs, cell) == local
    committed = tmp_path / "ck" / "rts" / "st-cnn-aff-seed0.safetensors"
    committed.parent.mkdir(parents=True)
    committed.write_bytes((local / "model.safetensors").read_bytes())
    rows = [{"dataset": "rts", "model": "st-cnn-aff",
             "checkpoint": "ck/rts/st-cnn-aff-seed0.safetensors"},
            {"dataset": "rts", "model": "cnn", "checkpoint": "ck/rts/absent.safetensors"},
            {"dataset": "r", "model": "cnn", "checkpoint": None}]
    reported = reported_models(rows, tmp_path)
    assert reported == {("rts", "st-cnn-aff"): committed}  # files not here are left out
    assert figure_model(runs, cell, reported) == committed
    assert figure_model(runs, Cell("rts", "cnn"), reported) is None
