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
