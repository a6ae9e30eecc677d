"""Secrets outside the workspace that sandboxed commands could otherwise read and print.

The sandbox shows the host read-only, and what the policy lets run without asking because the
sandbox contains it (a build, a script or a Makefile of the workspace, `npm run`)
prints what it reads to the model. So the sandbox hides, besides the usual secret places of
$HOME (HOME_SECRETS), what the policy itself calls secret where a command of this workspace is
likely to find it:

- the `.env` files (and `.git-credentials`, `.netrc`) of the directories above the workspace and
  of the start directory, and those at the top of every directory beside them: another project
  next to this one (`../other/.env`) or next to a folder above it;
- the credentials in git's configuration outside the workspace (the user's `~/.gitconfig` and
  `~/.config/git/config`, a repository above the workspace, the repositories beside it): shown
  as the workspace's own `.git/config` is, by an allow-list of the keys commands need
  (gitconfig.sanitized_git_config), so git still works with those.

Only the top of each neighbouring directory is looked at: a secret deeper in another project
(`../other/config/.env`) is not known here. Reading it by name asks (policy: outside-workspace);
code that only finds it at run time is not stopped by this module.

The other way round, `named_by_command`: what a program the user configured (an MCP server) names
where the sandbox shows nothing (/tmp, /srv, a home), bound in read-only so it starts wherever it lives.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Callable

from agent_runtime.core import within
from agent_runtime.procs import host_program
from agent_runtime.safety.gitconfig import sanitized_git_config

# Secret places outside the workspace, relative to $HOME; hidden from sandboxed commands.
HOME_SECRETS = (".ssh", ".aws", ".netrc", ".gnupg", ".git-credentials", ".docker", ".config/gh", ".kube",
                ".pypirc", ".npmrc", ".azure", ".config/gcloud", ".cargo/credentials", ".cargo/credentials.toml",
                # tokens typed at a shell or stored by other tools
                ".bash_history", ".zsh_history", ".python_history", ".psql_history", ".mysql_history", ".pgpass",
                ".my.cnf", ".config/git/credentials", ".config/hub", ".vault-token", ".terraform.d", ".s3cfg",
                ".boto", ".huggingface", ".cache/huggingface/token", ".config/rclone", ".local/share/keyrings",
                ".password-store", ".gem/credentials", ".env",
                # the logins of other coding agents and assistants, and more stores of tokens or history
                ".claude", ".claude.json", ".codex", ".gemini", ".config/github-copilot", ".aider.conf.yml",
                ".ollama/id_ed25519", ".config/composer/auth.json", ".composer/auth.json", ".pulumi/credentials.json",
                ".databrickscfg", ".oci", ".config/op", ".node_repl_history", ".sqlite_history", ".rediscli_history",
                ".irb_history", ".local/share/fish/fish_history")
ENV_TEMPLATES = (".env.example", ".env.sample", ".env.template")
SECRET_FILE_NAMES = (".git-credentials", ".netrc")
# Not looked into: pseudo file systems, and what the sandbox covers whole (its /tmp is private).
SKIPPED = frozenset({"/proc", "/sys", "/dev", "/run", "/tmp", "/var/tmp", "/var/run"})
MAX_NEIGHBOURS = 4000  # directories beside the workspace's ancestors looked into, at most


def is_secret_file(name: str) -> bool:
    return (name.startswith(".env") and name not in ENV_TEMPLATES) or name in SECRET_FILE_NAMES


def ancestors(root: Path, start: Path) -> list[Path]:
    """The directories above the workspace, and the start directory and those above it (outside the workspace)."""
    out: list[Path] = []
    for directory in (*root.parents, start, *start.parents):
        if directory not in out and not within(directory, root):
            out.append(directory)
    return out


def neighbours(root: Path, start: Path) -> list[Path]:
    """The directories beside the workspace and beside each directory above it (not the workspace,
    not one of those directories themselves, not symlinks)."""
    above = ancestors(root, start)
    chain = set(above) | {root}
    out: list[Path] = []
    for directory in above:
        if str(directory) in SKIPPED:
            continue
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    path = Path(entry.path)
                    if entry.is_dir(follow_symlinks=False) and path not in chain and entry.path not in SKIPPED:
                        out.append(path)
                        if len(out) >= MAX_NEIGHBOURS:
                            return out
        except OSError:
            continue
    return out


def secret_files(root: Path, start: Path, beside: list[Path]) -> list[Path]:
    """The .env files (and .git-credentials, .netrc) at the top of the directories above the
    workspace and of those beside them."""
    found: list[Path] = []
    for directory in (*ancestors(root, start), *beside):
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        found += [directory / name for name in names if is_secret_file(name)]
    return found


def git_configs(root: Path, beside: list[Path], above: bool = True) -> list[Path]:
    """git configuration files outside the workspace that a command can read (`above`: with the
    repositories above the workspace; without, the user's and the system's own)."""
    home = Path.home()
    found = [home / ".gitconfig", home / ".config" / "git" / "config", Path("/etc/gitconfig")]
    xdg = os.environ.get("XDG_CONFIG_HOME")
    if xdg and os.path.isabs(xdg):
        found.append(Path(xdg) / "git" / "config")
    found += [directory / ".git" / "config" for directory in (*(root.parents if above else ()), *beside)]
    return [path for path in found if not within(path, root)]


def sanitized_copies(paths: list[Path], scratch: Path) -> list[tuple[Path, Path]]:
    """(copy with the allowed keys only, the file it stands for) for each of `paths` that holds any other;
    the file is its real path, so a symlinked ~/.gitconfig is covered where it lives."""
    out: list[tuple[Path, Path]] = []
    seen: set[Path] = set()
    for path in paths:
        real = Path(os.path.realpath(path))
        if real in seen:
            continue
        seen.add(real)
        try:  # a directory this user cannot enter (another user's repository) is not read, nor shown
            if not real.is_file():
                continue
            text = real.read_text(encoding="utf-8", errors="surrogateescape")
        except OSError:
            continue
        clean = sanitized_git_config(text)
        if clean != text:
            copy = scratch / f"outside-git-config-{len(out)}"
            copy.write_text(clean, encoding="utf-8", errors="surrogateescape")
            out.append((copy, real))
    return out


def git_settings(root: Path, scratch: Path, seen: Callable[[Path], bool]) -> list[str]:
    """git's configuration outside the workspace: the user's own settings (~/.gitconfig, ...), shown
    in the empty home (the allowed keys only) so git still knows who commits; another repository's
    (above the workspace, beside it) only where the sandbox shows that repository at all. `seen`:
    is a path there in the sandbox (view.shown_under). bwrap arguments that bind them read-only."""
    beside = neighbours(root, Path.cwd())
    users = {Path(os.path.realpath(p)) for p in git_configs(root, [], above=False)}
    copies = dict((original, copy) for copy, original in
                  sanitized_copies(git_configs(root, beside), scratch))
    out: list[str] = []
    for original in sorted(users | set(copies)):
        if original in users and not seen(original) and original.is_file():
            out += ["--ro-bind", str(copies.get(original, original)), str(original)]
        elif original in copies and seen(original):
            out += ["--ro-bind", str(copies[original]), str(original)]
    return out



def agent_state(root: Path, runs: Path | None = None) -> list[Path]:
    """The agent's own directories (config.agent_dirs: run records, server logs, the undo journal,
    REPL history, the user's configuration, traces, caches) to cover in the sandbox. One that holds
    the workspace (a workspace under ~/.local/state) is covered entry by entry, down to the workspace."""
    from agent_runtime.config import agent_dirs

    out: list[Path] = []
    for directory in agent_dirs(runs):
        real = Path(os.path.realpath(directory))
        if not os.path.lexists(real) or real == root:
            continue
        if any(within(real, Path(tree)) for tree in PRIVATE_TREES) and not within(real, root):
            continue  # the sandbox's own empty /tmp (/run) already hides it; a cover there cannot be mounted
        if not within(root, real):
            out.append(real)
            continue
        for above in [p for p in root.parents if within(p, real)]:  # from real down to the workspace's parent
            step = next(p for p in (root, *root.parents) if p.parent == above)
            try:
                out += [above / name for name in os.listdir(above) if above / name != step]
            except OSError:
                continue
    # A folder inside one already covered (RUNS_DIR in the state folder) is hidden with it; covering it
    # again would make bwrap create its mount point in the read-only cover, and every command would fail.
    return [p for p in out if not any(other != p and within(p, other) for other in out)]


# The sandbox's own, empty: a program the user configured there is bound in alone, never the folder.
PRIVATE_TREES = ("/tmp", "/var/tmp", "/run", "/var/run")


def named_by_command(argv: list[str], root: Path, hidden: Callable[[Path], bool],
                     homes: list[Path] = ()) -> list[Path]:
    """What a user's configured program (an MCP server) names that the sandbox does not show (`hidden`,
    view.hidden: under /srv, /opt, /tmp, a home...): its executable and the files its arguments name.
    A file's folder is bound (a script imports its neighbours), a virtualenv's interpreter brings its
    environment; a folder that is top-level (/srv), private (/var/tmp), a home (view.covers) or holds
    the workspace brings the file alone."""
    words = list(argv[1:])
    found = host_program(argv[0]) if argv else None
    if found:
        words.insert(0, found)
    named: list[Path] = []
    for word in words:
        text = word.split("=", 1)[1] if word.startswith("-") and "=" in word else word
        if not os.path.isabs(text) or not os.path.lexists(text):
            continue
        path = Path(os.path.abspath(text))
        if not hidden(path) or within(path, root):
            continue
        if path.is_dir():
            named.append(path)
            continue
        folder = path.parent
        if folder.name == "bin" and (folder.parent / "pyvenv.cfg").is_file():
            folder = folder.parent
        wide = len(folder.parts) < 3 or str(folder) in PRIVATE_TREES or folder in homes or within(root, folder)
        real = Path(os.path.realpath(path))  # an interpreter symlink's target, when it too is hidden
        for candidate in (path if wide else folder, real):
            if candidate not in named and hidden(candidate):
                named.append(candidate)
    return named


# Unix sockets of $HOME and the workspace (an agent, a database, a desktop bus) are covered too.
SOCKET_SCAN_BUDGET_S = 0.25
SOCKET_SCAN_SKIP = frozenset({".git", "node_modules", ".venv", "venv", "__pycache__", ".cache", ".pyenv", ".rustup",
                              ".npm", ".m2", ".gradle", "site-packages", "target", ".tox", ".nox", ".mypy_cache"})


def find_sockets(roots: list[Path], budget_s: float = SOCKET_SCAN_BUDGET_S, max_depth: int = 4) -> list[Path]:
    """Unix socket files under roots: no symlinks followed, caches skipped, bounded in depth and time.
    A snapshot: /run and /tmp are covered whole, abstract sockets by the network namespace."""
    found: list[Path] = []
    deadline = time.monotonic() + budget_s
    stack = [(root, 0) for root in roots if root.is_dir()]
    while stack and time.monotonic() < deadline:
        path, depth = stack.pop()
        try:
            with os.scandir(path) as entries:
                for entry in entries:
                    try:
                        mode = entry.stat(follow_symlinks=False).st_mode
                    except OSError:
                        continue
                    if stat.S_ISSOCK(mode):
                        found.append(Path(entry.path))
                    elif stat.S_ISDIR(mode) and depth < max_depth and entry.name not in SOCKET_SCAN_SKIP:
                        stack.append((Path(entry.path), depth + 1))
        except OSError:
            continue
    return found
