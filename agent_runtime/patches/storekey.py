"""Where a workspace's checkpoint store is: <state home>/checkpoints/<key>, the key an HMAC of the
workspace's path with a secret of the user's.

Why: a store is a git repository holding a copy of its workspace's files. Its key used to be a
plain hash of the path (sha256(path)[:16]), so anyone knowing another project's path could name its
store, and a workspace `.git` pointing there had git print that project's files. The git door
refuses such a `.git` (gitdir.py: the agent's own directories are never a repository's); this is
the second wall: without the secret (CHECKPOINT_KEY, 0600, in the state home the sandbox never
shows) the store's path cannot be worked out from the workspace's.

A store of the old key is moved to its new place the first time it is asked for, so its undo
history stays usable.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

CHECKPOINT_KEY = "checkpoint.key"  # in the state home
SECRET_BYTES = 32


def _secret(state: Path) -> bytes:
    """The user's secret, made on first use. Written whole to a temporary file and linked into place,
    so a process starting at the same time reads the one that won, never half of one."""
    path = state / CHECKPOINT_KEY
    try:
        data = path.read_bytes()
        if data:
            if path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)
            return data
    except FileNotFoundError:
        pass
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(dir=state, prefix=".checkpoint-key-")  # 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(SECRET_BYTES))
        try:
            os.link(temporary, path)
        except FileExistsError:  # another process made it first, or an empty one is there
            if not path.read_bytes():
                os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path.read_bytes()


def old_key(root: Path) -> str:
    """The key stores had before: guessable from the path alone."""
    return hashlib.sha256(str(root).encode()).hexdigest()[:16]


def checkpoint_dir(state: Path, root: Path) -> Path:
    """The checkpoint store of the workspace `root` under the state home `state`."""
    base = state / "checkpoints"
    key = hmac.new(_secret(state), os.fsencode(str(root)), hashlib.sha256).hexdigest()[:32]
    new, old = base / key, base / old_key(root)
    if not os.path.lexists(new) and old.is_dir() and not old.is_symlink():
        try:
            os.rename(old, new)
        except OSError:
            pass  # another process moved it first: it is there now
    return new
