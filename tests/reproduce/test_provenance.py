"""Where a result came from: the commit of a checkout, and of a copy of one without .git."""

from __future__ import annotations

import subprocess

from torchstn.reproduce import provenance


def test_commit_of_this_checkout(monkeypatch):
    monkeypatch.delenv(provenance.COMMIT_ENV, raising=False)
    got = provenance.git_commit()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=provenance.PACKAGE_DIR,
                          capture_output=True, text=True)
    if head.returncode != 0:  # an installed copy outside any checkout
        assert got == {"commit": None, "dirty": None}
        return
    assert got["commit"] == head.stdout.strip()
    assert isinstance(got["dirty"], bool)


def test_the_environment_names_the_commit_of_a_copy(tmp_path, monkeypatch):
    """A copy of the tree on another machine may have no .git or a stale one: the variable wins
    over both, and whether the copy had changes is unknown."""
    monkeypatch.setenv(provenance.COMMIT_ENV, "abc123")
    assert provenance.git_commit(tmp_path) == {"commit": "abc123", "dirty": None}
    assert provenance.git_commit() == {"commit": "abc123", "dirty": None}
    monkeypatch.delenv(provenance.COMMIT_ENV)
    assert provenance.git_commit(tmp_path) == {"commit": None, "dirty": None}


def test_report_names_each_seeds_machines_when_they_differ():
    from torchstn.reproduce.report import fmt_machine, fmt_wall

    cpu = {"machine": "Xeon", "device": "cpu", "threads": 1}
    gpu = {"machine": "NVIDIA H200", "device": "cuda", "threads": 1}
    label = {k: provenance.machine_label(v) for k, v in (("cpu", cpu), ("gpu", gpu))}
    assert label == {"cpu": "Xeon (cpu, 1 threads)", "gpu": "NVIDIA H200 (cuda, 1 threads)"}
    same = {"error": 1.0, "wall_time_s": 90.0,
            "runs": [{"seed": 0, **cpu, "wall_time_s": 60.0},
                     {"seed": 1, **cpu, "machines": [label["cpu"]], "wall_time_s": 120.0}]}
    assert fmt_machine(same) == label["cpu"] and fmt_wall(same) == "1.5 min"
    mixed = {"error": 1.0, "wall_time_s": 0.0,
             "runs": [{"seed": 0, **cpu, "wall_time_s": 1200.0},
                      {"seed": 1, **gpu, "machines": [label["gpu"]], "wall_time_s": 420.0},
                      {"seed": 2, **gpu, "machines": [label["cpu"], label["gpu"]],
                       "wall_time_s": 600.0}]}
    assert fmt_machine(mixed) == (f"seed 0: {label['cpu']}; seed 1: {label['gpu']}; "
                                  f"seed 2: {label['cpu']} + {label['gpu']}")
    assert fmt_wall(mixed) == "20.0 min, 7.0 min, 10.0 min (per seed)"
    assert fmt_machine({"error": None, "runs": []}) == ""
