"""HEAD's commit read from the repository's files (``harness.gitfiles``) equals ``git rev-parse
HEAD`` — in this checkout, with loose and packed refs, detached, in a linked worktree — and
``provenance.git_state`` tells a modified tracked file from a clean tree without writing the
index."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import gitfiles, provenance

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git not found on PATH")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """A repository with two commits on ``main`` and a tag; no git variables in the way."""
    for variable in gitfiles.GIT_ENV:
        monkeypatch.delenv(variable, raising=False)
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "harness@example.org")
    git(root, "config", "user.name", "harness")
    for text in ("one\n", "two\n"):
        (root / "tracked.txt").write_text(text)
        git(root, "add", "tracked.txt")
        git(root, "commit", "-q", "-m", text.strip())
    git(root, "tag", "-a", "-m", "annotated", "v1")
    return root


def test_this_checkout():
    if git(provenance._SOURCE, "rev-parse", "--is-inside-work-tree") != "true":
        pytest.skip("the harness's source is not a git checkout")
    sha = git(provenance._SOURCE, "rev-parse", "HEAD")
    assert gitfiles.head_commit(provenance._SOURCE) == sha
    assert provenance.git_state()[0] == sha


def test_loose_packed_detached_and_from_a_subdirectory(repo):
    sub = repo / "a" / "b"
    sub.mkdir(parents=True)
    assert (repo / ".git" / "refs" / "heads" / "main").is_file()
    assert gitfiles.head_commit(sub) == git(repo, "rev-parse", "HEAD")
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert "refs/heads/main" in (repo / ".git" / "packed-refs").read_text()
    assert gitfiles.head_commit(repo) == git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "--detach", "HEAD~1")
    assert gitfiles.head_commit(repo) == git(repo, "rev-parse", "HEAD")


def test_linked_worktree_and_relative_gitdir(repo, tmp_path):
    git(repo, "pack-refs", "--all")
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", "-b", "side", str(linked))
    (linked / "tracked.txt").write_text("three\n")
    git(linked, "commit", "-q", "-am", "three")
    assert (linked / ".git").is_file()
    assert gitfiles.head_commit(linked) == git(linked, "rev-parse", "HEAD")
    assert gitfiles.head_commit(repo) == git(repo, "rev-parse", "HEAD")
    assert gitfiles.head_commit(linked) != gitfiles.head_commit(repo)
    # a submodule-style ``.git`` file with a relative path
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (moved / ".git").write_text("gitdir: ../repo/.git\n")
    assert gitfiles.head_commit(moved) == git(repo, "rev-parse", "HEAD")


def test_unusual_layouts_are_left_to_git(repo, tmp_path, monkeypatch):
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / ".git").write_text("not a gitdir line\n")
    assert gitfiles.head_commit(odd) is None
    (repo / ".git" / "reftable").mkdir()
    assert gitfiles.head_commit(repo) is None
    (repo / ".git" / "reftable").rmdir()
    monkeypatch.setenv("GIT_DIR", str(repo / ".git"))
    assert gitfiles.head_commit(repo) is None
    monkeypatch.delenv("GIT_DIR")
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/../../../etc\n")
    assert gitfiles.head_commit(repo) is None
    assert provenance.git_state(repo) == (None, None)  # git refuses that HEAD too


def test_git_state_falls_back_to_git_when_the_files_say_nothing(repo, monkeypatch):
    monkeypatch.setattr(gitfiles, "head_commit", lambda start: None)
    assert provenance.git_state(repo) == (git(repo, "rev-parse", "HEAD"), False)


def test_dirty_means_a_tracked_file_differs_and_the_index_is_not_written(repo):
    index = repo / ".git" / "index"
    assert provenance.git_state(repo) == (git(repo, "rev-parse", "HEAD"), False)
    (repo / "untracked.txt").write_text("not tracked\n")
    assert provenance.git_state(repo)[1] is False
    before = (index.read_bytes(), index.stat().st_mtime_ns)
    tracked = repo / "tracked.txt"
    # a new time stamp, same content: still clean (diff-index without a refresh says dirty)
    stamp = tracked.stat().st_mtime_ns + 10**9
    os.utime(tracked, ns=(stamp, stamp))
    assert provenance.git_state(repo)[1] is False
    assert (index.read_bytes(), index.stat().st_mtime_ns) == before
    tracked.write_text("changed\n")
    assert provenance.git_state(repo)[1] is True
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == "M tracked.txt"
    git(repo, "add", "tracked.txt")  # staged counts too
    assert provenance.git_state(repo)[1] is True
