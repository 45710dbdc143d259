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

