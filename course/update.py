"""``make update`` (``python -m course.update``): bring new topics and fixes into a learner's course folder.

Works in a clone of the course repository and in a student edition, and follows nbgitpuller's rules, so a folder
updated by either ends the same way:

1. ``git fetch`` the upstream branch;
2. a local untracked file in the way of a new upstream file is renamed (``name_<timestamp>.ext``), never lost;
3. a tracked file the learner deleted comes back (the course needs it);
4. the learner's changes (their lib/deepkit, written answers, notes) are committed ("my work before updating");
5. ``git merge -X ours``: upstream changes are merged in, and where a line was changed on both sides the
   learner's version wins, so the merge never stops on a conflict;
6. every notebook the merge touched must still be a valid notebook; one that is not gets the learner's version
   back (and that is committed).

Notebook outputs never count as changes where the course's ``.gitattributes`` apply ``course/nbclean.py`` (``make
notebook-filter``, run by ``make lab`` and ``make update``): running a lecture leaves nothing to commit or merge.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

IDENTITY = ["-c", "user.name=deepkit learner", "-c", "user.email=learner@deepkit.invalid"]
WORK_COMMIT = "My work before updating the course"


class UpdateError(Exception):
    """The folder cannot be updated (not a git clone, no upstream, git failed): nothing was changed."""


def git(root: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=300)
    if check and done.returncode != 0:
        raise UpdateError(f"git {' '.join(args)}: {(done.stderr or done.stdout).strip()[:800]}")
    return done.stdout


def upstream(root: Path) -> str:
    """The branch this one tracks (``origin/main``)."""
    name = git(root, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}", check=False).strip()
    if not name or name.startswith("@{"):
        raise UpdateError("this branch tracks no upstream branch (clone the course with git, or use nbgitpuller)")
    return name


def _paths(output: str) -> list[str]:
    return [line for line in output.split("\0") if line]


def update(root: Path, log=print) -> list[str]:
    """Update the course folder at ``root``; returns the files the update changed."""
    root = Path(root).resolve()
    if git(root, "rev-parse", "--is-inside-work-tree", check=False).strip() != "true":
        raise UpdateError(f"{root} is not a git clone: download the new course zip instead")
    branch = upstream(root)
    remote = branch.split("/", 1)[0]
    git(root, "fetch", "--quiet", remote)
    # 2. untracked files that an upstream file would overwrite: move them aside
    incoming = set(_paths(git(root, "diff", "--name-only", "-z", f"HEAD...{branch}")))
    untracked = set(_paths(git(root, "ls-files", "--others", "--exclude-standard", "-z")))
    stamp = time.strftime("%Y%m%d%H%M%S")
    for rel in sorted(incoming & untracked):
        path = root / rel
        aside = path.with_name(f"{path.stem}_{stamp}{path.suffix}")
        path.rename(aside)
        log(f"kept your {rel} as {aside.relative_to(root)} (the course now has a file of that name)")
    # 3. deleted tracked files come back
    deleted = _paths(git(root, "ls-files", "--deleted", "-z"))
    if deleted:
        git(root, "checkout", "--", *deleted)
    # 4. commit the learner's work (staging also refreshes git's view of notebooks that only gained outputs)
    git(root, "add", "--update")
    if _staged(root):
        git(root, *IDENTITY, "commit", "--quiet", "--message", WORK_COMMIT)
        log("committed your work (lib/deepkit, answers, notes) before updating")
    mine = git(root, "rev-parse", "HEAD").strip()
    # 5. merge, the learner's lines winning
    try:
        git(root, *IDENTITY, "merge", "--quiet", "--no-edit", "-X", "ours", branch)
    except UpdateError as exc:  # e.g. a file you changed was deleted by the course: undo the merge, keep the work
        git(root, "merge", "--abort", check=False)
        raise UpdateError(f"{exc}\nnothing was merged; your work is committed ({mine[:10]})") from None
    changed = _paths(git(root, "diff", "--name-only", "-z", mine, "HEAD"))
    # 6. a notebook the line merge broke gets the learner's version back
    repaired = [rel for rel in changed if rel.endswith(".ipynb") and not _valid_notebook(root / rel)]
    if repaired:
        git(root, "checkout", mine, "--", *repaired)
        git(root, *IDENTITY, "commit", "--quiet", "--message", "Keep my version of notebooks the merge could not mix")
        for rel in repaired:
            log(f"kept your version of {rel} (the course's new version could not be merged into it)")
    log(f"updated from {branch}: {len(changed)} file(s) changed" + (f": {', '.join(changed[:8])}" if changed else ""))
    return changed


def _staged(root: Path) -> bool:
    return subprocess.run(["git", "-C", str(root), "diff", "--cached", "--quiet"], timeout=300).returncode != 0


def _valid_notebook(path: Path) -> bool:
    if not path.is_file():
        return True  # deleted upstream
    try:
        import nbformat

        nbformat.validate(nbformat.read(str(path), as_version=4))
    except Exception:  # noqa: BLE001 - anything unreadable
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m course.update", description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    try:
        update(args.root)
    except UpdateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
