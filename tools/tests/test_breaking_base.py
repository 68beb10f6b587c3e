"""The base `make breaking` compares with, chosen in throwaway git repositories."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from breaking_base import BASELINE_FILE, Base, Git, choose

IDENTITY = {
    "GIT_AUTHOR_NAME": "Keel",
    "GIT_AUTHOR_EMAIL": "keel@example.com",
    "GIT_COMMITTER_NAME": "Keel",
    "GIT_COMMITTER_EMAIL": "keel@example.com",
}


class Repo:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir()
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        env = {**os.environ, **IDENTITY}
        done = subprocess.run(
            ["git", *args], cwd=self.root, env=env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    def write(self, path: str, text: str) -> None:
        file = self.root / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text)

    def commit(self, path: str, text: str) -> str:
        """Write one file and commit it; the new commit's id."""
        self.write(path, text)
        self.git("add", path)
        self.git("commit", "-q", "-m", f"change {path}")
        return self.git("rev-parse", "HEAD")

    def choose(self) -> Base:
        return choose(Git(self.root))


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


PROTO = "protos/keel/x/v1/x.proto"


def test_a_branch_compares_with_its_merge_base(repo: Repo) -> None:
    repo.commit(PROTO, "v1")
    fork = repo.commit("README.md", "docs")
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit(PROTO, "v2")
    repo.commit(PROTO, "v3")
    repo.git("checkout", "-q", "main")
    repo.commit(PROTO, "main moved on")  # later main changes do not move the merge base
    repo.git("checkout", "-q", "feature")
    assert repo.choose() == Base(fork, "merge base with main")


def test_origin_main_is_preferred_to_a_stale_local_main(repo: Repo) -> None:
    repo.commit(PROTO, "v1")
    stale = repo.git("rev-parse", "HEAD")
    fresh = repo.commit(PROTO, "v2")
    repo.git("update-ref", "refs/remotes/origin/main", fresh)
    repo.git("checkout", "-q", "-b", "feature")
    repo.git("branch", "-q", "-f", "main", stale)
    repo.commit(PROTO, "v3")
    assert repo.choose() == Base(fresh, "merge base with origin/main")


def test_main_compares_with_the_state_before_its_newest_proto_change(repo: Repo) -> None:
    repo.commit(PROTO, "v1")
    before = repo.commit("README.md", "docs")
    changed = repo.commit(PROTO, "v2")
    repo.commit("README.md", "more docs")  # later commits without proto changes do not count
    assert repo.choose() == Base(
        before, f"on main: before the newest change to protos/ ({changed[:12]})"
    )


def test_uncommitted_proto_changes_on_main_compare_with_head(repo: Repo) -> None:
    repo.commit(PROTO, "v1")
    head = repo.commit(PROTO, "v2")
    repo.write(PROTO, "v3, not committed")
    assert repo.choose() == Base(head, "on main: HEAD, protos/ has uncommitted changes")


def test_the_baseline_wins_over_an_older_base(repo: Repo) -> None:
    repo.commit(PROTO, "v1")
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit(PROTO, "breaking cleanup")
    baseline = repo.commit(BASELINE_FILE, "compatibility from here: the cleanup")
    repo.commit(PROTO, "compatible addition")
    # The merge base predates the baseline: the branch is checked from the baseline on.
    assert repo.choose() == Base(
        baseline, f"the baseline ({BASELINE_FILE}, changed in {baseline[:12]})"
    )
    # Landed on main, the baseline is newer than the state before the newest proto change
    # only while it is the newest change; later changes are checked from their predecessor.
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--ff-only", "feature")
    assert repo.choose().commit == baseline
    before = repo.git("rev-parse", "HEAD")
    repo.commit(PROTO, "another addition")
    assert repo.choose().commit == before


def test_the_baseline_on_the_newest_change_of_main_is_the_base(repo: Repo) -> None:
    repo.commit(PROTO, "v1")
    repo.write(PROTO, "breaking cleanup")
    repo.write(BASELINE_FILE, "compatibility from here")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "cleanup")
    head = repo.git("rev-parse", "HEAD")
    assert repo.choose().commit == head  # not its parent: that would fail on purpose


def test_an_older_baseline_takes_nothing_away(repo: Repo) -> None:
    repo.commit(PROTO, "v1")
    repo.commit(BASELINE_FILE, "from here")
    fork = repo.commit(PROTO, "v2")
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit(PROTO, "v3")
    assert repo.choose() == Base(fork, "merge base with main")


def test_without_a_main_branch_the_newest_proto_change_is_checked(repo: Repo) -> None:
    repo.commit(PROTO, "v1")
    before = repo.commit("README.md", "docs")
    repo.commit(PROTO, "v2")
    repo.git("branch", "-q", "-m", "main", "feature")
    base = repo.choose()
    assert base.commit == before
    assert base.reason.startswith("no main branch here")


def test_nothing_to_compare_with_before_the_first_protos(repo: Repo) -> None:
    repo.commit(PROTO, "v1")
    assert repo.choose() == Base(None, "on main: no commit before the newest change to protos/")


def test_a_shallow_clone_says_so(repo: Repo, tmp_path: Path) -> None:
    repo.commit(PROTO, "v1")
    repo.commit(PROTO, "v2")
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{repo.root}", str(clone)],
        check=True,
        capture_output=True,
    )
    base = choose(Git(clone))
    assert base.commit is None and base.reason.startswith("shallow clone")
