"""``torchstn reproduce addition``: the cells, the parallel models, the report and its figure."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from torchstn.cli.main import main
from torchstn.models import (
    ALL_MODEL_NAMES,
    MODEL_NAMES,
    build_for_dataset,
    count_parameters,
    parse_name,
    transformer_copies,
)
from torchstn.modules import ParallelTransformers
from torchstn.reproduce import table1
from torchstn.reproduce.recipes import EXPERIMENTS, PAPER_ERRORS, Cell, all_cells, experiment_of
from torchstn.reproduce.report import model_title

from .test_table1 import PAPER_MD, dirs, fake_error, make_run


def test_parallel_names_parse_and_count_their_transformers():
    assert parse_name("2xst-fcn-aff") == ("fcn", "affine")
    assert transformer_copies("2xst-fcn-aff") == 2
    assert transformer_copies("st-fcn-aff") == 1 and transformer_copies("cnn") == 0
    assert "2xst-cnn-tps" in ALL_MODEL_NAMES and "2xst-cnn-tps" not in MODEL_NAMES
    with pytest.raises(ValueError, match="unknown model '2xcnn'"):
        parse_name("2xcnn")
    assert model_title("2xst-fcn-aff") == "2xST-FCN Aff" and model_title("st-cnn-tps") == \
        "ST-CNN Tps"


def test_2xst_fcn_is_parameter_matched_and_concatenates_four_channels():
    cnn = count_parameters(build_for_dataset("cnn", "addition"))
    model = build_for_dataset("2xst-fcn-aff", "addition")
    assert isinstance(model.transformer, ParallelTransformers)
    assert len(model.transformer.branches) == 2
    assert abs(count_parameters(model) - cnn) <= 0.1 * cnn
    x = torch.rand(3, 2, 42, 42)
    assert model.warp(x).shape == (3, 4, 42, 42)  # each branch warps both channels
    torch.testing.assert_close(model.warp(x), torch.cat([x, x], 1))  # identity at start
    model(x).logsumexp(1).sum().backward()
    for name, p in model.named_parameters():  # both branches and the classifier learn
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    regressors = [b.regressor.weight.grad for b in model.transformer.branches]
    assert all(g.abs().sum() > 0 for g in regressors)
    assert not torch.allclose(*regressors)  # the classifier breaks the branches' symmetry


def test_cells_and_commands():
    cells = all_cells("addition")
    assert [c.model for c in cells] == list(EXPERIMENTS["addition"]["addition"])
    assert all(experiment_of(c.dataset) == "addition" for c in cells)
    assert table1.parse_cells("addition:2xst-fcn-aff", "addition") == [
        Cell("addition", "2xst-fcn-aff")]
    with pytest.raises(ValueError, match="unknown dataset 'rts'"):
        table1.parse_cells("rts:cnn", "addition")
    assert table1.reproduce_command(Cell("addition", "cnn"), 1) == \
        "torchstn reproduce addition --cells addition:cnn"


@pytest.mark.skipif(not PAPER_MD.is_file(), reason="the spec is not beside the checkout")
def test_paper_numbers_are_those_of_the_spec():
    text = PAPER_MD.read_text()
    m = re.search(r"FCN (\d+\.\d), CNN (\d+\.\d),\s+single\s+ST-FCN (\d+\.\d),\s+2xST-FCN"
                  r".*?\)\s*(\d+\.\d)", text, re.S)
    fcn, cnn, st, two = (float(v) for v in m.groups())
    assert (PAPER_ERRORS[("addition", "fcn")], PAPER_ERRORS[("addition", "cnn")]) == (fcn, cnn)
    assert PAPER_ERRORS[("addition", "st-fcn-aff")] == PAPER_ERRORS[("addition", "st-fcn-tps")]
    assert PAPER_ERRORS[("addition", "st-fcn-aff")] == st
    assert PAPER_ERRORS[("addition", "2xst-fcn-tps")] == two


def test_report_and_figure_from_finished_runs(tmp_path):
    pytest.importorskip("matplotlib")
    runs = tmp_path / "runs"
    two = make_run(runs, "addition", "2xst-fcn-aff", 0)
    make_run(runs, "addition", "fcn", 0, finished=False)
    args = ["reproduce", "addition", "--report-only", "--fake-data", "--threads", "1",
            *dirs(tmp_path)]
    assert main(args) == 0
    rows = json.loads((tmp_path / "results" / "addition.json").read_text())
    by = {r["model"]: r for r in rows}
    assert list(by) == list(EXPERIMENTS["addition"]["addition"])
    assert by["2xst-fcn-aff"]["error"] == pytest.approx(fake_error(two, "addition"))
    assert by["2xst-fcn-aff"]["paper_error"] == 5.8
    assert by["fcn"]["error"] is None and by["fcn"]["unfinished"]
    md = (tmp_path / "results" / "addition.md").read_text()
    assert "synthetic test data" in md and "| 2xST-FCN Aff |" in md
    figure = tmp_path / "results" / "figures" / "addition-2xst-fcn.png"
    assert figure.stat().st_size > 0 and "figures/addition-2xst-fcn.png" in md
    assert not (tmp_path / "results" / "table1.md").exists()


def test_dry_run_uses_the_addition_runs_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default runs folder is relative: nothing there yet
    assert main(["reproduce", "addition", "--dry-run", "--cells", "addition:2xst-fcn-tps"]) == 0
    out = capsys.readouterr().out
    assert "--model 2xst-fcn-tps" in out and str(Path("runs/addition/addition")) in out


def test_the_layout_phrase_comes_from_the_registry():
    from torchstn.models.registry import model_spec
    from torchstn.reproduce.addition import parallel_layout_phrase

    spec = model_spec("2xst-fcn-aff", (2, 42, 42), 19)
    phrase = parallel_layout_phrase("2xst-fcn-aff")
    assert f"pooled {spec.pool}x (4x{42 // spec.pool}x{42 // spec.pool}" in phrase
    assert f"average-pooled {spec.localization_pool}x" in phrase
    assert f"{spec.widths[0]} hidden units (2xST-FCN Aff)" in phrase
