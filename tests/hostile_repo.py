"""A hostile repository, for every test that needs one (issue 30): whatever git can be told to
run, it is told to, and each program leaves a marker file if it ever runs.

`make_hostile_repo(tmp_path)` builds, in `tmp_path/project`:

- a partial clone (extensions.partialClone, a promisor remote at ssh://evil.invalid) with one
  object missing: the blob of `old.txt` in the first commit, so any command that walks the whole
  history wants it, and a lazy fetch would run core.sshCommand;
- every git program configured to write a marker: core.sshCommand, core.fsmonitor, core.pager,
  core.editor, sequence.editor, core.askPass, diff.external, a textconv, an external diff
  command and a filter (clean, smudge, process) chosen by .gitattributes, a merge driver,
  credential.helper, gpg.program with signatures shown, gpg.ssh.program, pager.log, aliases,
  and hooks (post-checkout, pre-commit, reference-transaction, post-index-change, ...) in
  .git/hooks; more of them in a file that include.path pulls in;
- nested repositories: `vendor/lib/.git` (its config a symlink to a file in its own work tree,
  with every program configured), `vendor/out/.git` (its config includes a file outside the
  workspace) and `vendor/link/.git` (its config a symlink to a file outside the workspace);
- planted secrets: `.env` with a fake API key and `id_rsa` with a fake private key in the work
  tree, and `deploy/id_rsa` committed once and deleted since (in the history only).

Markers go to `tmp_path/markers`, outside the workspace: a program run on the host writes there;
inside the sandbox that path is not there to write. `HostileRepo.markers_written()` lists them.
`HostileRepo.secrets` are the strings no output may hold.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

# Whatever the fixture plants as a secret: no output, run file or span may hold one of these.
FAKE_API_KEY = "sk-hostile-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
FAKE_KEY_BODY = "HOSTILEKEYb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB"
HISTORY_SECRET = "hostile-deploy-key-removed-since-4242"
SECRETS = (FAKE_API_KEY, FAKE_KEY_BODY, HISTORY_SECRET)

# Configuration keys that run a program, each set to a script that writes the marker NAME.
PROGRAM_KEYS = {
    "core.sshCommand": "ssh", "core.fsmonitor": "fsmonitor", "core.pager": "pager", "core.editor": "editor",
    "sequence.editor": "sequence-editor", "core.askPass": "askpass", "diff.external": "diff-external",
    "diff.evil.textconv": "textconv", "diff.evil.command": "diff-command", "filter.evil.clean": "filter-clean",
    "filter.evil.smudge": "filter-smudge", "filter.evil.process": "filter-process",
    "merge.evil.driver": "merge-driver", "credential.helper": "credential-helper", "gpg.program": "gpg",
    "gpg.ssh.program": "gpg-ssh", "pager.log": "pager-log", "core.alternateRefsCommand": "alternate-refs",
    "remote.origin.uploadpack": "uploadpack", "remote.origin.receivepack": "receivepack",
}
# Pulled in by include.path (a file inside .git: the repository's own).
INCLUDED_KEYS = {
    "pager.diff": "pager-diff", "pager.show": "pager-show", "trailer.evil.command": "trailer",
    "tar.evil.command": "tar", "diff.evil2.textconv": "textconv-included", "filter.evil2.clean": "filter-included",
}
HOOKS = ("post-checkout", "pre-commit", "commit-msg", "post-commit", "reference-transaction", "post-index-change",
         "pre-auto-gc", "post-rewrite", "pre-push", "fsmonitor-watchman", "post-merge", "prepare-commit-msg")
GITATTRIBUTES = "*.txt diff=evil filter=evil merge=evil\n*.md diff=evil2 filter=evil2\n*.py diff=evil\n"


@dataclass
class HostileRepo:
    root: Path  # the workspace
    markers: Path  # where the programs write, outside the workspace
    outside: Path  # files outside the workspace that nested repositories' configs reach for
    secrets: tuple[str, ...] = SECRETS
    nested: tuple[str, ...] = field(default=("vendor/lib", "vendor/out", "vendor/link"))

    def markers_written(self) -> list[str]:
        return sorted(p.name for p in self.markers.iterdir() if p.is_file() and not p.name.endswith(".sh"))

    def leaked(self, text: str) -> list[str]:
        """The planted secrets `text` holds."""
        return [s for s in self.secrets if s in text]


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """The test's own git, before the repository turns hostile (no hooks, no config of its own)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(repo), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "LC_ALL": "C"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=check, capture_output=True, text=True)


def _script(markers: Path, name: str) -> Path:
    """A program that leaves the marker `name` (and fails, so git stops where it can)."""
    path = markers / f"{name}.sh"
    path.write_text(f"#!/bin/sh\necho ran >> {shlex.quote(str(markers / name))}\nexit 1\n")
    path.chmod(0o755)
    return path


def _arm(repo: Path, markers: Path, keys: dict[str, str], config_file: Path) -> None:
    """Every key in `keys` set in `config_file` to a marker-writing program."""
    for key, name in keys.items():
        script = _script(markers, name)
        _git(repo, "config", "--file", str(config_file), key, str(script))


def _arm_everything(repo: Path, markers: Path, config_file: Path, prefix: str = "") -> None:
    _arm(repo, markers, {k: prefix + v for k, v in PROGRAM_KEYS.items()}, config_file)
    settings = {"core.repositoryformatversion": "1", "extensions.partialClone": "origin",
                "remote.origin.url": "ssh://evil.invalid/x", "remote.origin.promisor": "true",
                "remote.origin.partialclonefilter": "blob:none", "filter.evil.required": "false",
                "log.showSignature": "true", "commit.gpgSign": "true", "core.hooksPath": ".git/hooks",
                "alias.st": "!" + str(_script(markers, prefix + "alias"))}
    for key, value in settings.items():
        _git(repo, "config", "--file", str(config_file), key, value)


def _commit_history(repo: Path) -> None:
    """Three commits: old.txt (whose blob goes missing), then a deploy key added and removed."""
    (repo / "old.txt").write_text("the first version, fetched lazily if ever\n")
    (repo / "app.py").write_text("def add(a, b):\n    return a + b\n")
    (repo / "README.md").write_text("# a hostile project\n")
    (repo / "notes.txt").write_text("notes\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "first")
    (repo / "deploy").mkdir()
    (repo / "deploy" / "id_rsa").write_text(f"-----BEGIN OPENSSH PRIVATE KEY-----\n{HISTORY_SECRET}\n"
                                            "-----END OPENSSH PRIVATE KEY-----\n")
    (repo / "old.txt").write_text("the second version\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "second")
    (repo / "deploy" / "id_rsa").unlink()
    (repo / ".gitattributes").write_text(GITATTRIBUTES)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "third")


def _drop_blob(repo: Path, rev: str) -> None:
    """A partial clone's missing object: only a lazy fetch (core.sshCommand) could bring it."""
    blob = _git(repo, "rev-parse", rev).stdout.strip()
    (repo / ".git" / "objects" / blob[:2] / blob[2:]).unlink()


def make_hostile_repo(base: Path) -> HostileRepo:
    markers = base / "markers"
    outside = base / "outside"
    markers.mkdir()
    outside.mkdir()
    repo = base / "project"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _commit_history(repo)
    _drop_blob(repo, "HEAD~2:old.txt")  # the first version: only a walk of the whole history wants it
    # Changes in the work tree, so diffs and status have something to run programs on.
    (repo / "notes.txt").write_text("notes, changed\n")
    (repo / "README.md").write_text("# a hostile project, changed\n")
    (repo / "untracked.txt").write_text("new\n")
    # Planted secrets in the work tree.
    (repo / ".env").write_text(f"OPENAI_API_KEY={FAKE_API_KEY}\n")
    (repo / "id_rsa").write_text(f"-----BEGIN OPENSSH PRIVATE KEY-----\n{FAKE_KEY_BODY}\n"
                                 "-----END OPENSSH PRIVATE KEY-----\n")
    # The main repository's configuration, and a file it includes (inside .git: its own).
    config = repo / ".git" / "config"
    _arm_everything(repo, markers, config)
    _arm(repo, markers, INCLUDED_KEYS, repo / ".git" / "more.cfg")
    _git(repo, "config", "--file", str(config), "include.path", "more.cfg")
    for hook in HOOKS:
        target = repo / ".git" / "hooks" / hook
        target.write_text(f"#!/bin/sh\necho ran >> {shlex.quote(str(markers / ('hook-' + hook)))}\nexit 1\n")
        target.chmod(0o755)
    _nested(repo / "vendor" / "lib", markers, config_link=repo / "vendor" / "lib" / ".lib-config")
    _nested(repo / "vendor" / "out", markers, include=outside / "out.cfg")
    _nested(repo / "vendor" / "link", markers, config_link=outside / "link.cfg")
    return HostileRepo(repo, markers, outside)


def _nested(path: Path, markers: Path, config_link: Path | None = None, include: Path | None = None) -> None:
    """A repository inside the workspace (as code in the sandbox could plant one), every program
    configured; its config a symlink to `config_link`, or including `include`."""
    path.mkdir(parents=True)
    _git(path, "init", "-q", "-b", "main")
    (path / "lib.txt").write_text("lib\n")
    (path / ".gitattributes").write_text(GITATTRIBUTES)
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "lib")
    _drop_blob(path, "HEAD:lib.txt")  # changed below: a diff wants it
    (path / "lib.txt").write_text("lib, changed\n")
    name = path.name
    config = path / ".git" / "config"
    if config_link is not None:  # the config file itself a symlink to one elsewhere
        config_link.write_text(config.read_text())
        config.unlink()
        config.symlink_to(config_link)
        _arm_everything(path, markers, config_link, prefix=f"{name}-")
    else:
        _arm_everything(path, markers, config, prefix=f"{name}-")
    if include is not None:
        _arm(path, markers, {"core.pager": f"{name}-included-pager", "diff.evil.textconv": f"{name}-included-tc"},
             include)
        _git(path, "config", "--file", str(config), "include.path", str(include))
