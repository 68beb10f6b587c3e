"""Which commit `make breaking` compares protos/ with (docs/contracts.md, "Compatibility").

- on a branch: the merge base with origin/main (or main);
- on main itself: the state before the newest commit that changed protos/ (or HEAD when
  protos/ has uncommitted changes);
- never older than the baseline: the newest commit that changed protos/BREAKING_BASELINE,
  moved on purpose to accept an incompatible change.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

PROTOS = "protos"
BASELINE_FILE = "protos/BREAKING_BASELINE"
MAIN_REFS = ("origin/main", "main")


@dataclass(frozen=True, slots=True)
class Base:
    """The commit to compare with (None: nothing to compare with), and why."""

    commit: str | None
    reason: str


class Git:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args], cwd=self.root, capture_output=True, text=True, check=False
        )

    def commit(self, ref: str) -> str | None:
        """The full id of a commit, or None when there is no such commit."""
        found = self._run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        return found.stdout.strip() if found.returncode == 0 else None

    def is_shallow(self) -> bool:
        return self._run("rev-parse", "--is-shallow-repository").stdout.strip() == "true"

    def merge_base(self, a: str, b: str) -> str | None:
        found = self._run("merge-base", a, b)
        return found.stdout.strip() if found.returncode == 0 else None

    def is_ancestor(self, older: str, newer: str) -> bool:
        return self._run("merge-base", "--is-ancestor", older, newer).returncode == 0

    def last_change(self, path: str) -> str | None:
        """The newest commit on HEAD's first-parent line that changed `path` (a merge counts
        when it changed it relative to its first parent, i.e. the line it landed on)."""
        found = self._run("log", "-1", "--first-parent", "--format=%H", "HEAD", "--", path)
        return found.stdout.strip() or None

    def has_uncommitted_changes(self, path: str) -> bool:
        return bool(self._run("status", "--porcelain", "--", path).stdout.strip())


def candidate(git: Git, head: str) -> Base:
    """The base before the baseline rule: merge base on a branch, previous change on main."""
    for ref in MAIN_REFS:
        main = git.commit(ref)
        if main is None:
            continue
        merge_base = git.merge_base(head, main)
        if merge_base is None:
            return Base(None, f"HEAD shares no history with {ref}")
        if merge_base != head:
            return Base(merge_base, f"merge base with {ref}")
        where = f"on {ref}"
        break
    else:
        where = "no main branch here (origin/main, main)"
    if git.has_uncommitted_changes(PROTOS):
        return Base(head, f"{where}: HEAD, protos/ has uncommitted changes")
    changed = git.last_change(PROTOS)
    before = git.commit(f"{changed}^") if changed is not None else None
    if changed is None or before is None:
        return Base(None, f"{where}: no commit before the newest change to protos/")
    return Base(before, f"{where}: before the newest change to protos/ ({changed[:12]})")


def choose(git: Git) -> Base:
    head = git.commit("HEAD")
    if head is None:
        return Base(None, "no commit yet")
    if git.is_shallow():
        # Merge bases and previous changes are guesses at the edge of a shallow history.
        return Base(None, "shallow clone: no history to choose from (git fetch --unshallow)")
    chosen = candidate(git, head)
    baseline = git.last_change(BASELINE_FILE)
    if baseline is None or chosen.commit is None:
        return chosen
    if chosen.commit != baseline and git.is_ancestor(baseline, chosen.commit):
        return chosen  # the baseline is older: it takes nothing away
    return Base(baseline, f"the baseline ({BASELINE_FILE}, changed in {baseline[:12]})")
