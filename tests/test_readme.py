"""The README's usage example runs as written, and its set-up lines are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_usage_example_runs():
    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no python example"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["logits"].shape == (8, 10)
    assert namespace["warped"].shape == (8, 1, 42, 42)
    assert namespace["theta"].shape == (8, 6)


def test_first_lines_are_the_two_setup_commands():
    lines = README.read_text().splitlines()
    commands = [line.strip() for line in lines[:4] if line.startswith("    ")]
    assert len(commands) == 2
    assert commands[0].endswith("torchstn demo")
    assert "[test]" in commands[1] and "pytest" in commands[1]


def test_results_section_matches_the_reports():
    # the README's results tables are copies of results/*.md (scripts/update_readme_results.py)
    import subprocess
    import sys

    script = README.parent / "scripts" / "update_readme_results.py"
    res = subprocess.run([sys.executable, str(script), "--check"], capture_output=True,
                         text=True, check=False)
    assert res.returncode == 0, res.stderr


def readme_script():
    """scripts/update_readme_results.py, imported."""
    import importlib.util

    script = README.parent / "scripts" / "update_readme_results.py"
    spec = importlib.util.spec_from_file_location("update_readme_results", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_clause_names_the_cells_with_gpu_seeds(tmp_path):
    import json

    module = readme_script()
    report = tmp_path / "table1.json"
    cpu = {"gpus": []}
    report.write_text(json.dumps([
        {"dataset": "r", "model": "cnn", "runs": [{"seed": 0, **cpu}, {"seed": 1, **cpu}]},
        {"dataset": "p", "model": "st-cnn-aff",
         "runs": [{"seed": 0, **cpu}, {"seed": 1, "gpus": ["GPU A"]},
                  {"seed": 2, "gpus": ["GPU A", "GPU B"]}]},
        {"dataset": "tc", "model": "fcn", "runs": [{"seed": 0}]},  # a record from before gpus
    ]))
    text = module.gpu_text(report)
    assert text.endswith("GPU A / GPU B (several runs sharing it): P ST-CNN Aff (seeds 1, 2)")
    report.write_text(json.dumps([{"dataset": "r", "model": "cnn", "runs": [{"seed": 0, **cpu}]}]))
    assert module.gpu_text(report) == ""
    assert module.gpu_text(tmp_path / "absent.json") == ""


def test_intro_names_the_columns_whose_recipe_departs_from_the_default(monkeypatch):
    from torchstn.reproduce import recipes

    module = readme_script()
    for d in recipes.COLUMNS:
        monkeypatch.setitem(recipes.RECIPES, d, dict(recipes.DEFAULT_RECIPE))
    assert module.column_settings("batch_size") == ""
    monkeypatch.setitem(recipes.RECIPES, "r", {**recipes.DEFAULT_RECIPE, "weight_decay": 0.1})
    monkeypatch.setitem(recipes.RECIPES, "e", {**recipes.DEFAULT_RECIPE, "weight_decay": 0.1})
    monkeypatch.setitem(recipes.RECIPES, "tc", {**recipes.DEFAULT_RECIPE, "weight_decay": 0.05,
                                                "batch_size": 64})
    assert module.column_settings("weight_decay") == (
        " (R and E: 0.1; TC: 0.05, chosen on held-out training digits)")
    assert "batch 256 (TC: 64, chosen" in module.intro()


def test_the_model_tables_are_what_torchstn_models_prints():
    from torchstn.cli.models import format_table, labelled_datasets
    from torchstn.models.registry import dataset_info, parameter_table

    text = README.read_text()
    for dataset in labelled_datasets():
        table = format_table(dataset, parameter_table(dataset), *dataset_info(dataset),
                             markdown=True)
        assert table in text, f"README: the table of {dataset} is not `torchstn models` output"
