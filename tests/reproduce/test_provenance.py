"""Where a result came from: the commit of a checkout, and of a copy of one without .git."""

from __future__ import annotations

import subprocess

from torchstn.reproduce import provenance


def test_commit_of_this_checkout(monkeypatch):
    monkeypatch.setenv(provenance.COMMIT_ENV, "not-this")  # a real checkout wins over the variable
    got = provenance.git_commit()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=provenance.PACKAGE_DIR,
                          capture_output=True, text=True)
    if head.returncode != 0:  # an installed copy outside any checkout
        assert got["dirty"] is None
        return
    assert got["commit"] == head.stdout.strip()
    assert isinstance(got["dirty"], bool)


def test_a_copy_without_git_takes_the_commit_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(provenance.COMMIT_ENV, "abc123")
    assert provenance.git_commit(tmp_path) == {"commit": "abc123", "dirty": None}
    monkeypatch.delenv(provenance.COMMIT_ENV)
    assert provenance.git_commit(tmp_path) == {"commit": None, "dirty": None}
