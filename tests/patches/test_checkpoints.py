"""Checkpoints: what a sandboxed command changes is undone like a patch, byte for byte, untracked files,
modes and symlinks included; one history with the patches; the user's repository untouched; nothing
of a hostile repository runs; no secret stored. Real git, real bubblewrap, through the real tools."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import flat, git, make_repo, run_cli, step, write_replay

from agent_runtime.safety.isolation import isolation

needs_bwrap = pytest.mark.skipif(isolation(None).bwrap is None, reason="bubblewrap does not run here")

PROJECT = {
    "src/app.py": "def main():\n\treturn 1\n",
    "src/util.py": "X = 1\r\nY = 2\r\n",  # CRLF, with `* text` below: kept as the bytes it is
    "src/run.sh": "#!/bin/sh\necho hi\n",
    "README.md": "# r\n",
    ".gitattributes": "* text\n",
    ".gitignore": "build/\n*.log\n",
}


def tree(root: Path) -> dict[str, tuple]:
    """Every file of the workspace but .git: (kind, executable, bytes or link target)."""
    out: dict[str, tuple] = {}
    for top, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git" and not os.path.islink(os.path.join(top, d))]
        names = files + [d for d in os.listdir(top) if os.path.islink(os.path.join(top, d)) and d not in files]
        for name in names:
            path = os.path.join(top, name)
            rel = os.path.relpath(path, root)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                out[rel] = ("link", False, os.readlink(path))
            else:
                out[rel] = ("file", bool(info.st_mode & stat.S_IXUSR), Path(path).read_bytes())
    return out


def project(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "r", PROJECT)
    os.chmod(repo / "src" / "run.sh", 0o755)
    (repo / "src" / "notes.txt").write_text("untracked work\n")  # never committed
    os.symlink("app.py", repo / "src" / "link.py")
    (repo / "build").mkdir()
    (repo / "build" / "out.txt").write_text("ignored, small\n")
    (repo / "debug.log").write_text("ignored too\n")
    return repo


def run(tools, command: str) -> dict:
    result = tools["run_cmd"](command=command)
    assert "error" not in result, result
    return result


@needs_bwrap
def test_undo_of_a_wrapped_rm_rf_puts_every_file_back_byte_identical(tmp_path, tools_for):
    repo = project(tmp_path)
    before = tree(repo)
    _, tools = tools_for(repo)
    result = run(tools, "script -qc 'rm -rf src build debug.log' /dev/null")
    assert not (repo / "src").exists() and not (repo / "debug.log").exists()
    assert result["undo_id"] == "c1" and result["files_changed"] == 7, result
    listed = run_cli("undo", "--list", cwd=repo)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].split()[0] == "c1" and "`script -qc 'rm -rf src" in listed.stdout
    done = run_cli("undo", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "Undid command c1 (`script -qc 'rm -rf src build debug.log' /dev/null`): put back 7 files" in done.stdout
    assert tree(repo) == before
    assert "`script" in run_cli("undo", "--list", cwd=repo).stdout and \
        json.loads(run_cli("undo", "--list", "--json", cwd=repo).stdout)[0]["state"] == "undone"


@needs_bwrap
def test_undo_of_a_formatter_over_the_repository_through_the_models_tool(tmp_path, tools_for):
    repo = project(tmp_path)
    for i in range(30):
        (repo / "pkg" / f"m{i}.py").parent.mkdir(exist_ok=True)
        (repo / "pkg" / f"m{i}.py").write_text(f"x={i}\n\ty = 2  \n")
    before = tree(repo)
    (repo / "fmt.py").write_text(
        "import pathlib\n"
        "for p in pathlib.Path('.').rglob('*.py'):\n"
        "    if p.name != 'fmt.py' and not p.is_symlink():\n"
        "        p.write_text('# formatted\\n' + p.read_text().replace('\\t', '    '))\n")
    before["fmt.py"] = ("file", False, (repo / "fmt.py").read_bytes())
    _, tools = tools_for(repo)
    result = run(tools, "python3 fmt.py")
    assert result["exit_code"] == 0, result
    assert (repo / "pkg" / "m3.py").read_text().startswith("# formatted")
    assert result["files_changed"] == 32
    undone = tools["undo_patch"](patch_id=result["undo_id"])
    assert undone.get("undone") is True, undone
    assert tree(repo) == before


@needs_bwrap
def test_a_deleted_untracked_file_comes_back_and_patches_and_commands_share_one_history(tmp_path, tools_for):
    repo = project(tmp_path)
    _, tools = tools_for(repo)
    proposed = tools["propose_patch"](path="README.md", old="# r", new="# readme")
    assert tools["apply_patch"](patch_id=proposed["patch_id"])["applied"] is True
    before = tree(repo)
    result = run(tools, "rm src/notes.txt")
    assert result["undo_id"] == "c2" and not (repo / "src" / "notes.txt").exists()
    assert "undo_id" not in run(tools, "ls -la src && cat README.md"), "a command that changed nothing makes no entry"
    rows = json.loads(run_cli("undo", "--list", "--json", cwd=repo).stdout)
    assert [(r["patch_id"], r["kind"]) for r in rows] == [("c2", "command"), ("p1", "patch")]
    assert rows[0]["command"] == "rm src/notes.txt" and [f["path"] for f in rows[0]["files"]] == ["src/notes.txt"]
    done = run_cli("undo", "c2", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert tree(repo) == before and (repo / "src" / "notes.txt").read_text() == "untracked work\n"
    assert "Undid patch p1" in run_cli("undo", cwd=repo).stdout, "then the patch before it"


@needs_bwrap
def test_a_command_whose_files_a_later_patch_changed_is_refused_and_nothing_is_lost(tmp_path, tools_for):
    repo = project(tmp_path)
    _, tools = tools_for(repo)
    result = run(tools, "echo 'print(2)' >> src/app.py && touch src/new.py")
    proposed = tools["propose_patch"](path="src/app.py", old="print(2)", new="print(3)")
    assert tools["apply_patch"](patch_id=proposed["patch_id"])["applied"] is True
    now = tree(repo)
    refused = run_cli("undo", result["undo_id"], cwd=repo)
    assert refused.returncode == 1
    assert "cannot undo command c1 (`echo 'print(2)' >> src/app.py && touch src/new.py`): src/app.py changed " \
           "since it ran (by patch p2, applied later)" in refused.stderr
    assert tree(repo) == now, "a refusal changes nothing"
    by_tool = tools["undo_patch"](patch_id="c1")
    assert "changed since it ran" in by_tool["error"] and tree(repo) == now
    assert run_cli("undo", cwd=repo).returncode == 0  # p2 first
    done = run_cli("undo", cwd=repo)  # then the command
    assert done.returncode == 0 and done.stdout.strip() == "Undid command c1 (`echo 'print(2)' >> src/app.py && " \
        "touch src/new.py`): put back 1 file (src/app.py); removed 1 it made (src/new.py)"
    assert (repo / "src" / "app.py").read_text() == PROJECT["src/app.py"] and not (repo / "src" / "new.py").exists()


@needs_bwrap
def test_a_snapshot_leaves_the_users_repository_as_it_was(tmp_path, tools_for):
    repo = project(tmp_path)
    (repo / "README.md").write_text("stashed\n")
    git(repo, "stash")
    (repo / "src" / "app.py").write_text("staged\n")
    git(repo, "add", "src/app.py")
    (repo / "README.md").write_text("unstaged\n")
    dot = repo / ".git"

    def users() -> tuple:
        refs = sorted((str(p.relative_to(dot)), p.read_bytes()) for p in (dot / "refs").rglob("*") if p.is_file())
        return ((dot / "index").read_bytes(), git(repo, "status", "--porcelain=v1", "-uall"),
                git(repo, "stash", "list"), refs, (dot / "HEAD").read_bytes(), sorted(os.listdir(dot)))

    seen = users()
    _, tools = tools_for(repo)
    result = run(tools, "rm README.md && echo x > src/other.py")
    assert result["undo_id"] == "c1"
    assert run_cli("undo", cwd=repo).returncode == 0
    assert users() == seen


HOSTILE_CONFIG = """[core]
\tfsmonitor = "sh -c 'touch {m}/fsmonitor; echo 0'"
\thooksPath = {m}/hooks
\tsshCommand = "sh -c 'touch {m}/ssh'"
\tpager = "sh -c 'touch {m}/pager'"
[filter "evil"]
\tclean = "sh -c 'touch {m}/clean; cat'"
\tsmudge = "sh -c 'touch {m}/smudge; cat'"
\tprocess = "sh -c 'touch {m}/process'"
\trequired = true
[diff "evil"]
\ttextconv = "sh -c 'touch {m}/textconv; cat'"
"""


@needs_bwrap
def test_a_hostile_repository_configuration_runs_nothing_in_snapshot_or_restore(tmp_path, tools_for):
    markers = tmp_path / "markers"
    markers.mkdir()
    repo = project(tmp_path)
    (repo / ".git" / "config").write_text(HOSTILE_CONFIG.format(m=markers))
    (repo / ".gitattributes").write_text("* filter=evil diff=evil\n")
    hooks = markers / "hooks"
    hooks.mkdir()
    for name in ("pre-commit", "post-checkout", "post-index-change", "reference-transaction"):
        (hooks / name).write_text(f"#!/bin/sh\ntouch {markers}/hook-{name}\n")
        os.chmod(hooks / name, 0o755)
    nested = repo / "vendor" / "lib"  # a nested repository, configured the same way
    make_repo(nested, {"lib.py": "L = 1\n"})  # with a commit: a gitlink in the store, its status not asked
    (nested / "lib.py").write_text("L = 2\n")
    (nested / ".git" / "config").write_text(HOSTILE_CONFIG.format(m=markers))
    (nested / ".gitattributes").write_text("* filter=evil\n")
    before = tree(repo)
    _, tools = tools_for(repo)
    result = run(tools, "rm -rf src && echo y > README.md")
    assert result.get("undo_id") == "c1", result
    assert run_cli("undo", cwd=repo).returncode == 0
    assert tree(repo) == before
    assert sorted(os.listdir(markers)) == ["hooks"], "nothing of the repository's configuration ran"


@needs_bwrap
def test_secrets_are_never_stored_and_big_ignored_files_are_named_not_covered(tmp_path, tools_for, isolated_state):
    repo = project(tmp_path)
    (repo / ".env").write_text("API_KEY=sk-checkpoint-secret-1\n")
    (repo / "certs").mkdir()
    (repo / "certs" / "server.PEM").write_text("sk-checkpoint-secret-2\n")
    (repo / "build" / "big.bin").write_bytes(b"\0" * (2 << 20))
    (repo / "src" / "__pycache__").mkdir()
    (repo / "src" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"compiled-bytecode")
    _, tools = tools_for(repo)
    result = run(tools, "rm -rf build src/app.py")
    assert result["undo_id"] == "c1"
    rows = json.loads(run_cli("undo", "--list", "--json", cwd=repo).stdout)
    assert rows[0]["not_covered"] == ["build/big.bin"] and "build/big.bin" not in [f["path"] for f in rows[0]["files"]]
    done = run_cli("undo", cwd=repo)
    assert done.returncode == 0 and (repo / "build" / "out.txt").read_text() == "ignored, small\n"
    assert not (repo / "build" / "big.bin").exists(), "past the size limit: not kept, so not put back"
    stores = list((isolated_state / "agent-runtime" / "checkpoints").iterdir())
    assert len(stores) == 1 and stat.S_IMODE(stores[0].stat().st_mode) == 0o700
    everything = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], capture_output=True,
                                env={**os.environ, "GIT_DIR": str(stores[0] / "git")}, check=True).stdout
    assert b"sk-checkpoint-secret" not in everything and b"compiled-bytecode" not in everything
    assert b"ignored, small" in everything

    result = run(tools, "head -c 2000000 /dev/zero > build/huge.bin && echo z > build/small.txt")
    row = json.loads(run_cli("undo", "--list", "--json", cwd=repo).stdout)[0]
    assert row["patch_id"] == result["undo_id"] and row["not_covered"] == ["build/huge.bin"]
    done = run_cli("undo", cwd=repo)
    assert "Not put back, the checkpoints do not hold them (caches, environments, secrets, files past the size " \
        "limits, setuid/setgid bits): build/huge.bin" in done.stdout
    assert not (repo / "build" / "small.txt").exists() and (repo / "build" / "huge.bin").exists()


def test_checkpoints_can_be_switched_off_but_not_by_the_repository(tmp_path, tools_for, make_runtime):
    from agent_runtime.config import load_config

    repo = project(tmp_path)
    (repo / ".env").write_text("CHECKPOINTS=false\n")
    settings, warnings = load_config(repo, env={})
    assert settings.checkpoints is True and any("CHECKPOINTS" in w for w in warnings)
    _, tools = tools_for(repo, env={"CHECKPOINTS": "false"})
    result = run(tools, "rm src/notes.txt")
    assert "undo_id" not in result and not (repo / "src" / "notes.txt").exists()


def test_the_store_of_a_workspace_that_is_gone_is_removed_when_another_store_is_made(tmp_path):
    from agent_runtime.patches.checkpoint import Store

    stores = tmp_path / "checkpoints"
    gone = make_repo(tmp_path / "gone", {"a.txt": "a\n"})
    kept = make_repo(tmp_path / "kept", {"b.txt": "b\n"})
    Store(stores / "one", gone).snapshot()
    Store(stores / "two", kept).snapshot()
    assert sorted(os.listdir(stores)) == ["one", "two"]
    subprocess.run(["rm", "-rf", str(gone)], check=True)
    Store(stores / "two", kept).snapshot()  # an existing store: nothing is looked at
    assert sorted(os.listdir(stores)) == ["one", "two"]
    Store(stores / "three", make_repo(tmp_path / "new", {"c.txt": "c\n"})).snapshot()
    assert sorted(os.listdir(stores)) == ["three", "two"]


def test_a_snapshot_that_fails_never_stops_the_command_and_one_that_times_out_is_not_tried_again(
        tmp_path, tools_for, monkeypatch):
    from agent_runtime.patches.checkpoint import Store

    repo = project(tmp_path)
    _, tools = tools_for(repo)
    calls = []

    def slow(self):
        calls.append(1)
        raise subprocess.TimeoutExpired(["git", "status"], 60)

    monkeypatch.setattr(Store, "snapshot", slow)
    first = run(tools, "rm src/notes.txt")
    assert not (repo / "src" / "notes.txt").exists() and "undo_id" not in first
    assert first["checkpoint"] == "no checkpoint before this command (git timed out after 60 s): its changes " \
                                  "cannot be undone"
    second = run(tools, "rm README.md")
    assert not (repo / "README.md").exists() and len(calls) == 1
    assert second["checkpoint"].endswith("(checkpoints are off for the rest of this session)")


@needs_bwrap
def test_undoing_this_sessions_command_is_not_asked_an_earlier_sessions_is_asked_with_its_diff(tmp_path, tools_for):
    repo = project(tmp_path)
    (repo / "tidy.sh").write_text("rm src/notes.txt\necho more >> README.md\n")
    before = tree(repo)
    _, first = tools_for(repo, approval="never")  # nobody to ask: only what needs no approval runs
    result = run(first, "bash tidy.sh")  # a script of the workspace: the sandbox contains it
    assert result["undo_id"] == "c1" and not (repo / "src" / "notes.txt").exists()
    _, later = tools_for(repo, approval="never")
    short = later["undo_patch"](patch_id="c1")  # a later session numbers its own from 1: c1 is not its
    assert "this session has no c1 of its own" in short["error"] and "s1.c1 (command `bash tidy.sh`" in short["error"]
    refused = later["undo_patch"](patch_id="s1.c1")
    assert "needs approval" in refused["error"] and not (repo / "src" / "notes.txt").exists()
    undone = first["undo_patch"](patch_id="c1")  # this session's own command: put back without asking
    assert undone.get("undone") is True, undone
    assert tree(repo) == before
    again = first["undo_patch"](patch_id="c1")
    assert "command c1 (`bash tidy.sh`) is already undone" in again["error"]


# --- where a store is (issue 45): not guessable from the workspace's path ---


def test_the_store_key_is_an_hmac_with_a_private_secret_not_a_hash_of_the_path(tmp_path):
    import hashlib

    from agent_runtime.patches.storekey import CHECKPOINT_KEY, checkpoint_dir

    root = tmp_path / "project"
    first, second = tmp_path / "state-a", tmp_path / "state-b"
    store = checkpoint_dir(first, root)
    assert store.parent == first / "checkpoints"
    assert store.name != hashlib.sha256(str(root).encode()).hexdigest()[:16]
    assert len(store.name) == 32 and checkpoint_dir(first, root) == store  # stable for one user
    assert checkpoint_dir(second, root).name != store.name  # another secret, another key
    assert checkpoint_dir(first, tmp_path / "other").name != store.name
    key = first / CHECKPOINT_KEY
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32
    assert [p.name for p in first.iterdir()] == [CHECKPOINT_KEY]  # no temporary file left


def test_a_store_of_the_old_key_is_moved_to_its_new_place(tmp_path):
    from agent_runtime.patches.storekey import checkpoint_dir, old_key

    root = make_repo(tmp_path / "project", {"a.txt": "a\n"})
    state = tmp_path / "state"
    old = state / "checkpoints" / old_key(root)
    (old / "git").mkdir(parents=True)
    (old / "root").write_text(f"{root}\n")
    new = checkpoint_dir(state, root)
    assert not old.exists() and (new / "root").read_text() == f"{root}\n" and (new / "git").is_dir()


def test_the_runtime_and_undo_use_the_same_unguessable_store(tmp_path, tools_for, isolated_state):
    import hashlib

    repo = project(tmp_path)
    _, tools = tools_for(repo)
    result = run(tools, "rm src/notes.txt")
    assert result["undo_id"] == "c1"
    stores = [p.name for p in (isolated_state / "agent-runtime" / "checkpoints").iterdir()]
    assert stores and hashlib.sha256(str(repo).encode()).hexdigest()[:16] not in stores
    done = run_cli("undo", cwd=repo)
    assert done.returncode == 0 and (repo / "src" / "notes.txt").exists()


def modes(root: Path) -> dict[str, tuple]:
    """Every path of the workspace but .git, directories too: (kind, permission bits, bytes or link target)."""
    out: dict[str, tuple] = {}
    for top, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in dirs + files:
            path = os.path.join(top, name)
            info = os.lstat(path)
            kind = "link" if stat.S_ISLNK(info.st_mode) else "dir" if stat.S_ISDIR(info.st_mode) else "file"
            what = os.readlink(path) if kind == "link" else Path(path).read_bytes() if kind == "file" else None
            out[os.path.relpath(path, root)] = (kind, oct(stat.S_IMODE(info.st_mode)), what)
    return out


@needs_bwrap
def test_a_private_file_removed_by_a_sandboxed_rm_comes_back_private(tmp_path):
    repo = project(tmp_path)
    (repo / "priv.txt").write_text("private")
    os.chmod(repo / "priv.txt", 0o600)
    before = modes(repo)
    done = run_cli("--approval", "auto", "tool", "run_cmd", '{"command": "rm -f priv.txt"}', cwd=repo)
    assert done.returncode == 0 and not (repo / "priv.txt").exists(), done.stdout + done.stderr
    undone = run_cli("undo", cwd=repo)
    assert undone.returncode == 0 and "put back 1 file (priv.txt)" in undone.stdout, undone.stderr
    assert (repo / "priv.txt").read_text() == "private"
    assert stat.S_IMODE(os.stat(repo / "priv.txt").st_mode) == 0o600, "not world-readable after the undo"
    assert modes(repo) == before


@needs_bwrap
def test_a_chmod_alone_is_a_change_the_list_shows_and_undo_puts_back(tmp_path, tools_for):
    repo = project(tmp_path)
    (repo / "priv.txt").write_text("private")
    os.chmod(repo / "priv.txt", 0o600)
    (repo / "keys").mkdir(mode=0o700)
    before = modes(repo)
    _, tools = tools_for(repo)
    result = run(tools, "chmod o+r priv.txt && chmod 755 keys")
    assert stat.S_IMODE(os.stat(repo / "priv.txt").st_mode) == 0o604
    assert result["undo_id"] == "c1" and result["files_changed"] == 1 and result["changed"] == ["priv.txt", "keys/"]
    rows = json.loads(run_cli("undo", "--list", "--json", cwd=repo).stdout)
    assert [f["path"] for f in rows[0]["files"]] == ["priv.txt", "keys/"] and rows[0]["state"] == "in effect"
    assert "`chmod o+r priv.txt && chmod 755 keys`: priv.txt, keys/" in run_cli("undo", "--list", cwd=repo).stdout
    done = run_cli("undo", cwd=repo)
    assert done.returncode == 0 and "put back 1 file (priv.txt) and 1 folder (keys/)" in done.stdout, done.stderr
    assert modes(repo) == before


@needs_bwrap
def test_a_private_folder_and_its_empty_folders_removed_by_rm_rf_come_back_with_their_modes(tmp_path, tools_for):
    repo = project(tmp_path)
    private = repo / "private"
    private.mkdir(mode=0o700)
    (private / "key").write_text("k")
    os.chmod(private / "key", 0o600)
    (private / "empty").mkdir(mode=0o750)
    (private / "sealed").mkdir(mode=0o500)  # read-only: given its mode only once nothing is left to make in it
    (private / "tool").write_text("#!/bin/sh\n")
    os.chmod(private / "tool", 0o700)
    (repo / "group.txt").write_text("g")
    os.chmod(repo / "group.txt", 0o640)
    before = modes(repo)
    _, tools = tools_for(repo)
    result = run(tools, "rm -rf private group.txt")
    assert not private.exists() and result["files_changed"] == 3, result
    assert sorted(result["changed"]) == ["group.txt", "private/", "private/empty/", "private/key", "private/sealed/",
                                         "private/tool"]
    done = run_cli("undo", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "and 3 folders (private/, private/empty/, private/sealed/)" in done.stdout
    assert modes(repo) == before

    result = run(tools, "mkdir -p made/inner && chmod 700 made")  # folders made, empty: undone too
    assert result["undo_id"] and result["files_changed"] == 0 and result["changed"] == ["made/", "made/inner/"]
    done = run_cli("undo", cwd=repo)
    assert "removed 2 it made (made/, made/inner/)" in done.stdout and modes(repo) == before

    run(tools, "rm private/tool && chmod 500 private")  # undone: the file put back first, then the mode
    done = run_cli("undo", cwd=repo)
    assert done.returncode == 0 and "put back 1 file (private/tool) and 1 folder (private/)" in done.stdout, done.stderr
    assert modes(repo) == before


@needs_bwrap
def test_a_deleted_symlink_comes_back_a_symlink_and_none_is_followed_out_of_the_workspace(tmp_path, tools_for):
    repo = project(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("theirs")
    os.symlink("../../outside/victim.txt", repo / "src" / "away")  # leads out: kept as a link, never read through
    os.symlink("src", repo / "srclink")
    (repo / "unlink.sh").write_text("rm src/link.py src/away srclink\n")  # the policy refuses a plain rm of a link out
    before = modes(repo)
    _, tools = tools_for(repo)
    run(tools, "sh unlink.sh")
    assert not os.path.lexists(repo / "src" / "away") and (outside / "victim.txt").exists()
    assert run_cli("undo", cwd=repo).returncode == 0
    assert modes(repo) == before and os.readlink(repo / "src" / "away") == "../../outside/victim.txt"
    assert (outside / "victim.txt").read_text() == "theirs" and os.listdir(outside) == ["victim.txt"]

    # A symlink put where a removed folder was: undo writes nothing through it.
    run(tools, "rm -rf src")
    os.symlink(str(outside), repo / "src")
    refused = run_cli("undo", cwd=repo)
    assert refused.returncode == 1 and "src" in refused.stderr
    assert os.listdir(outside) == ["victim.txt"] and (outside / "victim.txt").read_text() == "theirs"
    assert os.path.islink(repo / "src"), "what is there now is left as it is"


@needs_bwrap
def test_a_command_recorded_before_manifests_is_undone_as_then(tmp_path, tools_for):
    from agent_runtime.core import Workspace
    from agent_runtime.patches.undo import UndoJournal
    from agent_runtime.tools.runtime import undo_dir

    repo = project(tmp_path)
    (repo / "priv.txt").write_text("private")
    os.chmod(repo / "priv.txt", 0o600)
    _, tools = tools_for(repo)
    run(tools, "rm -rf priv.txt src")
    journal = UndoJournal(undo_dir(), Workspace(repo)).path
    line = json.loads(journal.read_text())
    assert "+" in line["before"] and "+" in line["after"], "a snapshot is named by its tree and its manifest"
    line["before"], line["after"] = line["before"].split("+")[0], line["after"].split("+")[0]
    line["files"] = [f for f in line["files"] if not f.endswith("/")]
    journal.write_text(json.dumps(line) + "\n")  # as journals were written before manifests
    done = run_cli("undo", cwd=repo)
    assert done.returncode == 0 and "put back 6 files" in done.stdout, done.stdout + done.stderr
    assert (repo / "priv.txt").read_text() == "private" and (repo / "src" / "link.py").is_symlink()
    assert stat.S_IMODE(os.stat(repo / "priv.txt").st_mode) == 0o644, "the old snapshot had only the exec bit"
    assert stat.S_IMODE(os.stat(repo / "src" / "run.sh").st_mode) & 0o111


def test_undoing_a_patch_keeps_a_private_file_private(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"priv.txt": "token = 1\n"})
    os.chmod(repo / "priv.txt", 0o600)
    _, tools = tools_for(repo)
    proposed = tools["propose_patch"](path="priv.txt", old="token = 1", new="token = 2")
    assert tools["apply_patch"](patch_id=proposed["patch_id"])["applied"] is True
    assert stat.S_IMODE(os.stat(repo / "priv.txt").st_mode) == 0o600
    assert tools["undo_patch"](patch_id=proposed["patch_id"]).get("undone") is True
    assert (repo / "priv.txt").read_text() == "token = 1\n"
    assert stat.S_IMODE(os.stat(repo / "priv.txt").st_mode) == 0o600

    os.chmod(repo / "priv.txt", 0o644)  # a patch, then the user makes the file private: undo leaves it private
    proposed = tools["propose_patch"](path="priv.txt", old="token = 1", new="token = 3")
    os.chmod(repo / "priv.txt", 0o600)  # and between proposing and applying: applying leaves it private too
    assert tools["apply_patch"](patch_id=proposed["patch_id"])["applied"] is True
    assert stat.S_IMODE(os.stat(repo / "priv.txt").st_mode) == 0o600
    os.chmod(repo / "priv.txt", 0o640)
    assert tools["undo_patch"](patch_id=proposed["patch_id"]).get("undone") is True
    assert (repo / "priv.txt").read_text() == "token = 1\n"
    assert stat.S_IMODE(os.stat(repo / "priv.txt").st_mode) == 0o640


def test_a_restore_never_writes_through_a_symlink_put_where_a_folder_or_file_was(tmp_path):
    from agent_runtime.patches.checkpoint import Store
    from agent_runtime.patches.diffs import PatchError

    repo = make_repo(tmp_path / "r", {"d/a.txt": "a\n", "f.txt": "f\n"})
    os.chmod(repo / "d" / "a.txt", 0o600)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x").write_text("theirs")
    store = Store(tmp_path / "store", repo)
    before = store.snapshot()
    subprocess.run(["rm", "-rf", str(repo / "d"), str(repo / "f.txt")], check=True)
    after = store.snapshot()
    os.symlink(str(outside), repo / "d")
    for changes in (store.changes(before.id, after.id), store.changes(before.tree, after.tree)):  # and as before manifests
        with pytest.raises(PatchError, match="nothing was changed"):
            store.restore(changes)
        assert sorted(os.listdir(outside)) == ["x"] and not (repo / "f.txt").exists()
    os.unlink(repo / "d")
    os.symlink(str(outside / "x"), repo / "f.txt")  # a file's own path a symlink now: replaced, never followed
    store.restore(store.changes(before.id, after.id))
    assert (outside / "x").read_text() == "theirs" and not (repo / "f.txt").is_symlink()
    assert (repo / "f.txt").read_text() == "f\n" and stat.S_IMODE(os.stat(repo / "d" / "a.txt").st_mode) == 0o600


def test_a_restore_refuses_a_folder_now_a_symlink_by_name_and_leaves_the_workspace_as_found(tmp_path):
    """Every write of a restore walks from the workspace's own descriptor: `src` a symlink by then (a
    sandboxed process swapped it) is named as not followed, the file put back before it is put back
    as the command left it, and nothing is written out."""
    from agent_runtime.patches.checkpoint import Store
    from agent_runtime.patches.diffs import PatchError

    repo = make_repo(tmp_path / "r", {"a.txt": "a\n", "src/keys": "mine\n"})
    outside = tmp_path / "outside"
    outside.mkdir()
    store = Store(tmp_path / "store", repo)
    before = store.snapshot()
    (repo / "a.txt").write_text("a by the command\n")
    (repo / "src" / "keys").write_text("ssh-ed25519 AAAA-attacker\n")
    changes = store.changes(before.id, store.snapshot().id)
    os.rename(repo / "src", repo / "src.real")
    os.symlink(outside, repo / "src")
    with pytest.raises(PatchError) as raised:
        store.restore(changes)
    assert "src is a symlink (not followed): src/keys); nothing was changed" in raised.value.error
    assert (repo / "a.txt").read_text() == "a by the command\n" and os.listdir(outside) == []


def test_a_restore_puts_back_every_rwx_bit_but_never_sets_setuid_setgid_or_sticky(tmp_path):
    from agent_runtime.patches.checkpoint import Store

    repo = make_repo(tmp_path / "r", {"tool": "#!/bin/sh\n", "shared/a.txt": "a\n", "notes.txt": "n\n"})
    os.chmod(repo / "tool", 0o4750)
    os.chmod(repo / "shared", 0o3770)
    os.chmod(repo / "notes.txt", 0o460)
    store = Store(tmp_path / "store", repo)
    before = store.snapshot()
    subprocess.run(["rm", "-rf", str(repo / "tool"), str(repo / "shared"), str(repo / "notes.txt")], check=True)
    after = store.snapshot()
    store.restore(store.changes(before.id, after.id))
    assert [oct(stat.S_IMODE(os.stat(repo / p).st_mode)) for p in ("tool", "shared", "shared/a.txt", "notes.txt")] \
        == ["0o750", "0o770", "0o644", "0o460"]


def test_undoing_a_patch_that_made_folders_removes_them_and_only_them(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"src/app.py": "x = 1\n"})
    (repo / "empty").mkdir()  # there before, empty: stays
    outside = tmp_path / "outside"
    (outside / "sub").mkdir(parents=True)
    _, tools = tools_for(repo)
    made = [tools["propose_file"](path=p, content="n\n")["patch_id"]
            for p in ("new/deep/er/f.txt", "src/pkg/m.py", "empty/e.txt", "gone/g.txt", "kept/k.txt")]
    for patch_id in made:
        assert tools["apply_patch"](patch_id=patch_id)["applied"] is True
    (repo / "kept" / "mine.txt").write_text("the user's\n")  # a folder that holds more than the patch's file
    for patch_id in reversed(made[:3]):
        assert tools["undo_patch"](patch_id=patch_id).get("undone") is True
    assert not (repo / "new").exists() and not (repo / "src" / "pkg").exists() and (repo / "src" / "app.py").exists()
    assert (repo / "empty").is_dir() and os.listdir(repo / "empty") == []
    # a folder the patch made, swapped since for a link out with the same file: nothing is removed through it
    os.rename(repo / "gone" / "g.txt", outside / "sub" / "g.txt")
    os.rmdir(repo / "gone")
    os.symlink(outside / "sub", repo / "gone")
    assert "outside the workspace" in tools["undo_patch"](patch_id=made[3])["error"]
    assert (outside / "sub" / "g.txt").read_text() == "n\n"
    assert tools["undo_patch"](patch_id=made[4]).get("undone") is True
    assert (repo / "kept" / "mine.txt").read_text() == "the user's\n"


@needs_bwrap
def test_what_a_hostile_makefile_deleted_that_no_checkpoint_held_is_named_not_covered(tmp_path, tools_for):
    """The Makefile's default target deletes node_modules, .venv and an ignored 3 MB file: undo puts back
    what the checkpoints hold, and the command's result, `undo --list --json` and undo itself name the rest."""
    repo = make_repo(tmp_path / "r", {
        "Makefile": "all:\n\trm -rf node_modules .venv data/train.bin build.db\n",
        ".gitignore": "node_modules/\n.venv/\ndata/\n*.db\n", "src/app.py": "x = 1\n"})
    for rel, data in {"node_modules/left-pad/index.js": b"module.exports = 1\n",
                      ".venv/lib/python3/site-packages/dep.py": b"DEP = 1\n",
                      "data/train.bin": os.urandom(3 << 20), "data/small.txt": b"kept\n",
                      "build.db": b"rows\n"}.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(data)
    _, tools = tools_for(repo)
    result = run(tools, "make")
    assert not (repo / "node_modules").exists() and not (repo / ".venv").exists() and not (repo / "build.db").exists()
    expected = [".venv/", "data/train.bin", "node_modules/"]
    assert result["not_covered"] == expected and result["undo_id"] == "c1", result
    row = json.loads(run_cli("undo", "--list", "--json", cwd=repo).stdout)[0]
    assert row["patch_id"] == "c1" and row["not_covered"] == expected, row
    assert "not covered: .venv/, data/train.bin, node_modules/" in run_cli("undo", "--list", cwd=repo).stdout
    done = run_cli("undo", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "put back 1 file (build.db)" in done.stdout
    assert "Not put back, the checkpoints do not hold them" in done.stdout and \
        ".venv/, data/train.bin, node_modules/" in done.stdout, done.stdout
    assert (repo / "build.db").read_bytes() == b"rows\n" and (repo / "data" / "small.txt").read_bytes() == b"kept\n"


@needs_bwrap
def test_the_runs_summary_and_run_ended_say_what_undo_cannot_put_back(tmp_path):
    replay = write_replay(tmp_path / "r.json", [step("Build.", 'print(run_cmd(command="make"))'),
                                                step("Done.", 'final_answer("built")')])
    for how in ("--json", "--approval"):
        repo = make_repo(tmp_path / how.strip("-"), {"Makefile": "all:\n\trm -rf node_modules build.db\n",
                                                     ".gitignore": "node_modules/\n", "build.db": "rows\n"})
        (repo / "node_modules" / "x").mkdir(parents=True)
        (repo / "node_modules" / "x" / "index.js").write_text("1\n")
        done = run_cli(*([how] if how == "--json" else []), "--approval", "auto", "--model", f"replay:{replay}",
                       "Build it.", cwd=repo)
        assert done.returncode == 0 and not (repo / "node_modules").exists(), done.stderr
        if how == "--json":
            end = json.loads(done.stdout.splitlines()[-1])
            assert end["type"] == "run_ended" and end["not_covered"] == ["node_modules/"], end
            assert end["files_changed"] == ["build.db"], end
        else:
            assert "files changed: build.db · undo cannot put back: node_modules/" in flat(done.stderr), done.stderr


@needs_bwrap
def test_a_command_that_only_removes_a_cache_says_so_and_makes_no_entry(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"src/app.py": "x = 1\n"})
    (repo / "src" / "__pycache__").mkdir()
    (repo / "src" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"cache")
    _, tools = tools_for(repo)
    result = run(tools, "rm -rf src/__pycache__")
    assert "undo_id" not in result and result["not_covered"] == ["src/__pycache__/"], result
    made = run(tools, "mkdir -p .pytest_cache/v node_modules/x src/__pycache__ && touch .pytest_cache/v/lastfailed")
    assert "not_covered" not in made and "undo_id" not in made, "caches a test run makes are no news"


def test_the_store_keeps_no_file_past_its_limit_and_names_it_and_undo_never_guesses_it(tmp_path):
    """CHECKPOINT_MAX_BYTES: a 200 MB untracked file is not copied (no one file past an eighth of the
    limit), files that do not fit in what is left are not either; each is named, and no change of one
    is undone (its content before is not known)."""
    from agent_runtime.patches.checkpoint import Store

    repo = make_repo(tmp_path / "r", {"src/app.py": "x = 1\n"})
    with open(repo / "huge.bin", "wb") as handle:  # sparse: 200 MB on paper, nothing on disk
        handle.truncate(200 << 20)
    for i in range(10):
        (repo / f"f{i}.bin").write_bytes(os.urandom(500 << 10))  # random: git cannot compress them
    store = Store(tmp_path / "store", repo, max_bytes=4 << 20)  # 4 MB in all, one file at most 512 KB
    before = store.snapshot()
    stored = sum(f.stat().st_size for f in (tmp_path / "store" / "git" / "objects").rglob("*") if f.is_file())
    assert stored <= 4 << 20, f"the store's objects take {stored} bytes"
    assert sorted(before.unheld) == ["f8.bin", "f9.bin", "huge.bin"], "what does not fit is named"
    listed = subprocess.run(["git", "ls-tree", "-r", "--name-only", before.tree], capture_output=True, text=True,
                            env={**os.environ, "GIT_DIR": str(tmp_path / "store" / "git")}).stdout.split()
    assert sorted(listed) == [f"f{i}.bin" for i in range(8)] + ["src/app.py"]

    os.unlink(repo / "huge.bin")
    os.unlink(repo / "f0.bin")
    (repo / "f9.bin").write_bytes(b"shrunk\n")  # fits now; what it held before is not known
    after = store.snapshot()
    assert store.not_covered(before, after) == ["f9.bin", "huge.bin"], "f8.bin is as it was: nothing lost"
    assert [(c.path, c.status) for c in store.changes(before.id, after.id)] == [("f0.bin", "deleted")]
    store.restore(store.changes(before.id, after.id))
    assert (repo / "f0.bin").stat().st_size == 500 << 10 and (repo / "f9.bin").read_bytes() == b"shrunk\n"

    (repo / "f1.bin").write_bytes(os.urandom(600 << 10))  # held until now; past one file's limit now
    grown = store.snapshot()
    # f0.bin, put back by the restore, no longer fits either (the store is full): named too
    assert store.not_covered(after, grown) == ["f0.bin", "f1.bin"] and store.changes(after.id, grown.id) == []
    listed = subprocess.run(["git", "ls-tree", "-r", "--name-only", grown.tree], capture_output=True, text=True,
                            env={**os.environ, "GIT_DIR": str(tmp_path / "store" / "git")}).stdout.split()
    assert "f1.bin" not in listed, "its old content is no longer taken for what is there"

    was = os.stat(repo / "f8.bin")  # not held: rewritten in place, same size, its mtime put back
    with open(repo / "f8.bin", "r+b") as handle:
        handle.write(os.urandom(was.st_size))
    os.utime(repo / "f8.bin", ns=(was.st_atime_ns, was.st_mtime_ns))
    assert store.not_covered(grown, store.snapshot()) == ["f8.bin"]


def test_setuid_and_setgid_bits_a_command_took_away_are_named_never_set_again_and_one_it_set_is_undone(tmp_path):
    from agent_runtime.patches.checkpoint import Store

    repo = make_repo(tmp_path / "r", {"tool": "#!/bin/sh\n", "suid": "#!/bin/sh\n", "shared/a.txt": "a\n"})
    os.chmod(repo / "tool", 0o4755)
    os.chmod(repo / "suid", 0o2755)
    os.chmod(repo / "shared", 0o2775)
    store = Store(tmp_path / "store", repo)
    before = store.snapshot()
    os.chmod(repo / "suid", 0o755)  # chmod g-s alone
    subprocess.run(["rm", "-rf", str(repo / "tool"), str(repo / "shared")], check=True)
    after = store.snapshot()
    assert store.not_covered(before, after) == ["shared/ (setgid bit)", "suid (setgid bit)", "tool (setuid bit)"]
    store.restore(store.changes(before.id, after.id))
    assert [oct(stat.S_IMODE(os.stat(repo / p).st_mode)) for p in ("tool", "suid", "shared")] \
        == ["0o755", "0o755", "0o775"]

    (repo / "plain").write_text("#!/bin/sh\n")
    os.chmod(repo / "plain", 0o755)
    first = store.snapshot()
    os.chmod(repo / "plain", 0o4755)  # a command that makes a file setuid: undo takes the bit away
    second = store.snapshot()
    changes = store.changes(first.id, second.id)
    assert [c.path for c in changes] == ["plain"] and store.not_covered(first, second) == []
    store.restore(changes)
    assert oct(stat.S_IMODE(os.stat(repo / "plain").st_mode)) == "0o755"


def test_checkpoint_max_bytes_reaches_the_store_and_a_bad_value_stops_the_start(tmp_path, make_runtime):
    repo = make_repo(tmp_path / "r", {"a.txt": "a\n"})
    runtime = make_runtime(repo, env={"CHECKPOINT_MAX_BYTES": str(64 << 20)})
    assert runtime.journal.store.max_bytes == 64 << 20
    assert make_runtime(repo).journal.store.max_bytes == 1 << 30
    done = run_cli("tools", cwd=repo, env={"CHECKPOINT_MAX_BYTES": "2MB"})
    assert done.returncode == 1 and "CHECKPOINT_MAX_BYTES: expected a whole number at least 1048576" in done.stderr
