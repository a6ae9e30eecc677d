"""Trust boundaries, attacked: every tool is judged by the policy (no fail-open default), denied
files never leak through listing, search, git or patch tools, patches cannot write into .git or
make special files, the agent's own git calls cannot be made to run a repository's programs,
patch inputs have their own size limit, and what reaches a terminal has its control characters
made visible."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import BUGGY_PROJECT, VENV_BIN, flat, git, make_repo, run_cli, step, write_replay
from terminal import Terminal

from agent_runtime.core import Action
from agent_runtime.tools import tool_classes
from agent_runtime.tools.base import RuntimeTool
from agent_runtime.tools.checks import bind, is_path_check, validate

SECRET = "hunter2-original-value"
CHANGED = "hunter2-modified-value"
FIX = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n"


@pytest.fixture
def secret_repo(tmp_path) -> Path:
    """A repository with a tracked, then modified, .env (and a nested one)."""
    repo = make_repo(tmp_path / "project", {**BUGGY_PROJECT, ".env": f"API_TOKEN={SECRET}\n",
                                            "svc/.env.local": f"DB_PASSWORD={SECRET}-svc\n"})
    (repo / ".env").write_text(f"API_TOKEN={CHANGED}\n")
    (repo / "calc.py").write_text(BUGGY_PROJECT["calc.py"] + "# a visible change\n")
    return repo


def leaks(result) -> bool:
    text = str(dict(result))
    return "original-value" in text or "modified-value" in text


# --- 1. no fail-open default: every tool says what the policy judges ---

SAMPLES = {
    "pattern": "def", "glob": "*.py", "diff": FIX, "old": "return a - b", "new": "return a + b",
    "command": "ls", "patch_id": "p1", "max_results": 5, "max_count": 3, "start_line": 1, "end_line": 2,
    "context_lines": 1, "timeout": 30, "staged": False, "fixed_strings": False,
    "note": "the tests run with pytest", "content": "def add(a, b):\n    return a + b\n",
    "name": "add", "source": "def add(a, b):\n    return a + b\n", "function": "twice",
}
# A function promote_tool accepts (hints, docstring), beside the ones FIX changes.
PROMOTABLE = '\n\ndef twice(x: int) -> int:\n    """Twice x."""\n    return 2 * x\n'



def sample_arguments(cls, path_value: str | None) -> dict:
    args = {}
    for name, spec in cls.inputs.items():
        if is_path_check(cls.checks.get(name)):
            args[name] = path_value
        elif name in SAMPLES:
            args[name] = SAMPLES[name]
        elif not spec.get("nullable"):
            raise AssertionError(f"{cls.name}: no sample for its required input {name!r}; add one to SAMPLES")
    return args


def test_every_tool_declares_what_the_policy_judges(buggy_repo, tools_for):
    """Walks every registered tool: `action` is its own, returns an Action, and every path the
    tool is given is among the paths the policy judges (commands: the command)."""
    (buggy_repo / "calc.py").write_text(BUGGY_PROJECT["calc.py"] + PROMOTABLE)
    runtime, tools = tools_for(buggy_repo)
    tools["propose_patch_unified"](diff=FIX)  # a patch p1 for show_patch and apply_patch
    assert tools["apply_patch"](patch_id="p1")["applied"] is True  # and for undo_patch

    for cls in tool_classes():
        assert "action" in cls.__dict__, f"{cls.name} must define action()"
        tool = tools[cls.name]
        path_inputs = [name for name in cls.inputs if is_path_check(cls.checks.get(name))]
        for path_value in ("calc.py", None) if path_inputs else (None,):
            args = sample_arguments(cls, path_value)
            if path_value is None and any(not cls.inputs[n].get("nullable") for n in path_inputs):
                continue
            validated = validate(tool, bind(tool, (), args), runtime)
            action = tool.action(**validated)
            assert isinstance(action, Action), cls.name
            if action.kind == "command":
                assert action.command, cls.name
                continue
            assert action.kind in ("read", "write", "restore", "promote") and action.paths, f"{cls.name}: {action}"
            for name in path_inputs:
                if args.get(name) is not None:
                    assert "calc.py" in action.paths, f"{cls.name}: path input {name} is not judged"
            if cls.name in ("propose_patch_unified", "show_patch", "apply_patch", "undo_patch"):
                assert "calc.py" in action.paths, f"{cls.name}: the patch's paths are not judged"


def test_every_call_is_decided_by_the_policy_before_the_tool_runs(buggy_repo, tools_for, monkeypatch):
    (buggy_repo / "calc.py").write_text(BUGGY_PROJECT["calc.py"] + PROMOTABLE)
    runtime, tools = tools_for(buggy_repo)
    tools["propose_patch_unified"](diff=FIX)
    events: list[tuple[str, object]] = []
    decide = runtime.decide
    monkeypatch.setattr(runtime, "decide", lambda action: events.append(("decide", action)) or decide(action))
    for cls in tool_classes():
        tool = tools[cls.name]
        real_run = tool.run
        tool.run = lambda _real=real_run, **kw: events.append(("run", None)) or _real(**kw)
        events.clear()
        args = sample_arguments(cls, "calc.py")
        if cls.name == "run_cmd":
            args["command"] = "ls"
        tool(**args)
        assert events and events[0][0] == "decide", f"{cls.name} ran without a policy decision: {events}"
        runtime.state.reset()


def test_a_tool_cannot_be_defined_without_an_action():
    with pytest.raises(TypeError, match="must define action"):
        class Sneaky(RuntimeTool):  # noqa: F841
            name = "sneaky"
            description = "reads whatever it likes"
            inputs: dict = {}

            def run(self):
                return {}


def test_an_action_that_is_not_an_action_stops_the_call(buggy_repo, make_runtime):
    ran = []

    class Lazy(RuntimeTool):
        name = "lazy"
        description = "says nothing about what it does"
        inputs: dict = {}

        def action(self):
            return None

        def run(self):
            ran.append(True)
            return {"done": True}

    result = Lazy(make_runtime(buggy_repo))()
    assert "error" in result and "not an Action" in result["error"]
    assert ran == [], "the tool did not run"


# --- 2. deny_read content never leaks ---


def test_git_diff_of_a_tracked_env_is_refused(secret_repo, tools_for):
    runtime, tools = tools_for(secret_repo)
    for args in ({"path": ".env"}, {"path": "svc/.env.local"}, {"path": ".env", "staged": True}):
        result = tools["git_diff"](**args)
        assert "refused" in result["error"] and not leaks(result)
    assert runtime.state.history[-1].outcome == "refused"


def test_git_diff_of_the_whole_repo_leaves_out_hidden_hunks(secret_repo, tools_for):
    _, tools = tools_for(secret_repo)
    whole = tools["git_diff"]()
    assert "+# a visible change" in whole["diff"] and whole["files"] == ["calc.py (+1 -0)"]
    assert not leaks(whole) and ".env" not in whole["diff"]
    assert "1 changed file not shown" in whole["hidden"]
    git(secret_repo, "add", "-A")
    staged = tools["git_diff"](staged=True)
    assert "+# a visible change" in staged["diff"] and not leaks(staged)
    directory = tools["git_diff"](path=".")
    assert not leaks(directory)
    # .env renamed to a readable name: the new file may be shown (read_file reads it anyway), the
    # old .env's lines never (a rename's hunks would hold them).
    git(secret_repo, "mv", ".env", "notes.txt")
    renamed = tools["git_diff"](staged=True)
    assert SECRET not in str(dict(renamed)) and "rename from .env" not in renamed["diff"]
    assert "notes.txt" in renamed["diff"]


def test_git_status_and_log_do_not_show_hidden_paths(secret_repo, tools_for):
    _, tools = tools_for(secret_repo)
    (secret_repo / ".env.production").write_text(f"KEY={SECRET}\n")
    status = tools["git_status"]()
    assert status["modified"] == ["M calc.py"] and status["untracked"] == []
    assert "2 changed paths not shown" in status["hidden"] and not leaks(status)
    log = tools["git_log"]()
    assert log["commits"][0]["subject"] == "initial" and not leaks(log)
    assert "refused" in tools["git_log"](path=".env")["error"]


@pytest.mark.parametrize("glob", ["*", "**", ".*", "*.env", ".env", "**/.env", "**/.env*", ".env*", "svc/**",
                                  "*.local", "!*.py", "{.env,calc.py}"])
def test_rg_search_globs_never_reinclude_denied_files(secret_repo, tools_for, glob):
    _, tools = tools_for(secret_repo)
    result = tools["rg_search"](pattern="hunter2", glob=glob)
    assert not leaks(result), result
    assert "note" in result or result.get("count") == 0 or "error" in result
    fixed = tools["rg_search"](pattern="hunter2", glob=glob, fixed_strings=True)
    assert not leaks(fixed)


def test_rg_search_through_paths_and_symlinks(secret_repo, tools_for):
    (secret_repo / "innocent.txt").symlink_to(secret_repo / ".env")
    (secret_repo / "cfg").symlink_to(secret_repo / "svc")
    _, tools = tools_for(secret_repo)
    for path in (".env", "svc", "svc/.env.local", "innocent.txt", "cfg", "cfg/.env.local", "."):
        result = tools["rg_search"](pattern="hunter2", path=path)
        assert not leaks(result), (path, result)
    assert "refused" in tools["read_file"](path="innocent.txt")["error"]
    assert tools["rg_search"](pattern="visible change")["count"] == 1, "ordinary files are still searched"


def test_a_hidden_match_takes_no_place_in_max_results(tmp_path, tools_for):
    """rg is told to skip `.env*` case-sensitively; the policy also hides `.ENV`. Dropped after the
    limit was counted, a hidden match would push the visible one out of max_results=1, and whether
    `def main` is shown would tell whether a guessed prefix of the secret was right."""
    repo = make_repo(tmp_path / "r", {"app.py": "def main(): pass\n"})
    for name in (".ENV", ".Env.local"):
        (repo / name).write_text(f"API_TOKEN={SECRET}\n")
    _, tools = tools_for(repo, approval="never")
    shown = {}
    for guess in ("API_TOKEN=h", "API_TOKEN=x"):
        for limit in (1, 2):
            result = tools["rg_search"](pattern=f"{guess}|def main", max_results=limit)
            assert not leaks(result), result
            shown[guess, limit] = (result["count"], result["matches"], "note" in result)
    assert shown["API_TOKEN=h", 1] == shown["API_TOKEN=x", 1] == (1, ["app.py:1:def main(): pass"], False)
    assert shown["API_TOKEN=h", 2] == shown["API_TOKEN=x", 2]


def test_list_files_and_repo_info_leave_out_hidden_files(secret_repo, tools_for):
    _, tools = tools_for(secret_repo)
    listing = tools["list_files"]()
    assert ".env" not in listing["files"] and "svc/.env.local" not in listing["files"]
    assert "calc.py" in listing["files"] and "2 files not listed" in listing["hidden"]
    assert ".env" not in tools["list_files"](pattern=".env*")["files"]
    info = tools["repo_info"]()
    assert ".env" not in info["top_level"] and "calc.py" in info["top_level"]
    (secret_repo / ".env.example").write_text("API_TOKEN=\n")
    assert ".env.example" in tools["list_files"]()["files"], "allow_read templates are listed"


def test_patch_tools_never_read_or_quote_a_denied_file(secret_repo, tools_for):
    runtime, tools = tools_for(secret_repo)
    guesses = [
        tools["propose_patch"](path=".env", old="API_TOKEN=hunter2", new="x"),  # the "not found" oracle
        tools["propose_patch"](path=".env", old="nothing like it", new="x"),
        tools["propose_patch"](path="svc/.env.local", old="", new="x"),
        tools["propose_patch_unified"](diff="--- a/.env\n+++ b/.env\n@@ -1 +1 @@\n-WRONG\n+x\n"),  # mismatch quotes
        tools["propose_patch_unified"](diff="--- a/./svc/../.env\n+++ b/./svc/../.env\n@@ -1 +1 @@\n-A\n+B\n"),
        tools["propose_patch_unified"](diff="diff --git a/.env b/leak.txt\nsimilarity index 100%\n"
                                            "rename from .env\nrename to leak.txt\n"),
    ]
    for result in guesses:
        assert "refused" in result["error"], result
        assert not leaks(result)
    assert runtime.patches._patches == {}, "nothing was proposed, so show_patch has nothing to show"
    (secret_repo / "alias").symlink_to(secret_repo / ".env")
    via_link = tools["propose_patch"](path="alias", old="API", new="x")
    assert "refused" in via_link["error"] and not leaks(via_link)


def test_apply_refuses_a_patch_whose_file_became_hidden(tmp_path, tools_for):
    """Defense in depth: the journal must never store a hidden file's content."""
    from agent_runtime.core import Workspace
    from agent_runtime.patches.apply import FileEdit, Patch
    from agent_runtime.patches.diffs import PatchError
    from agent_runtime.patches.undo import UndoJournal

    journal = UndoJournal(tmp_path / "undo", Workspace(tmp_path), secret=lambda rel: rel.startswith(".env"))
    patch = Patch("p1", [FileEdit(".env", ".env", b"K=secret\n", b"K=other\n", 0o100644, 0o100644)])
    with pytest.raises(PatchError, match="may hold secrets"):
        journal.record(patch)
    assert not journal.path.exists() or SECRET not in journal.path.read_text()


# --- 3. no writes into .git through patches; only regular files ---

GIT_ATTACKS = [
    "--- /dev/null\n+++ b/./.git/hooks/post-commit\n@@ -0,0 +1,2 @@\n+#!/bin/sh\n+touch PWNED\n",
    "--- /dev/null\n+++ b/hk/../.git/hooks/pre-push\n@@ -0,0 +1,2 @@\n+#!/bin/sh\n+touch PWNED\n",
    "--- /dev/null\n+++ b/g/hooks/post-checkout\n@@ -0,0 +1,2 @@\n+#!/bin/sh\n+touch PWNED\n",
    "diff --git a/run.sh b/./.git/hooks/post-merge\nsimilarity index 100%\nrename from run.sh\n"
    "rename to ./.git/hooks/post-merge\n",
    "diff --git a/run.sh b/.git/hooks/pre-commit\nsimilarity index 100%\nrename from run.sh\nrename to .git/hooks/pre-commit\n",
    "--- /dev/null\n+++ b/.git/config\n@@ -0,0 +1 @@\n+[core]\n",
    "--- /dev/null\n+++ b/sub/.git/hooks/pre-commit\n@@ -0,0 +1 @@\n+x\n",
]


@pytest.mark.parametrize("diff", GIT_ATTACKS)
def test_patches_cannot_write_into_git_even_with_auto_approval(tmp_path, tools_for, diff):
    repo = make_repo(tmp_path / "r", {"run.sh": "#!/bin/sh\ntouch PWNED\n", "hk/keep": "k\n"})
    os.chmod(repo / "run.sh", 0o755)
    (repo / "g").symlink_to(repo / ".git")
    hooks_before = sorted(os.listdir(repo / ".git" / "hooks"))
    config_before = (repo / ".git" / "config").read_bytes()
    _, tools = tools_for(repo, approval="auto")
    proposed = tools["propose_patch_unified"](diff=diff)
    if "patch_id" in proposed:  # if it was ever proposed, applying must still be refused
        applied = tools["apply_patch"](patch_id=proposed["patch_id"])
        assert "refused" in applied["error"], applied
    else:
        assert "refused" in proposed["error"] and ".git" in proposed["error"], proposed
    assert sorted(os.listdir(repo / ".git" / "hooks")) == hooks_before
    assert (repo / ".git" / "config").read_bytes() == config_before
    assert (repo / "run.sh").exists() and not (repo / "sub").exists()


def test_propose_patch_into_git_through_a_symlink_is_refused(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"a.txt": "a\n"})
    (repo / "g").symlink_to(repo / ".git")
    _, tools = tools_for(repo, approval="auto")
    result = tools["propose_patch"](path="g/hooks/pre-commit", old="", new="#!/bin/sh\ntouch PWNED\n")
    assert "refused" in result["error"] and ".git/hooks/pre-commit" in result["error"]
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()


def test_a_symlink_made_after_the_proposal_does_not_redirect_the_write(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"d/x.txt": "x\n", "e/keep.txt": "k\n"})
    _, tools = tools_for(repo, approval="auto")
    proposed = tools["propose_patch_unified"](diff="--- /dev/null\n+++ b/d/hooks/pre-commit\n@@ -0,0 +1 @@\n+x\n")
    assert "patch_id" in proposed
    (repo / "d" / "x.txt").unlink()
    (repo / "d").rmdir()
    (repo / "d").symlink_to(repo / ".git")  # swapped in by a command between propose and apply
    applied = tools["apply_patch"](patch_id=proposed["patch_id"])
    assert "error" in applied and not (repo / ".git" / "hooks" / "pre-commit").exists(), applied


@pytest.mark.parametrize("header, message", [
    ("new file mode 104755", "mode 104755"),  # setuid
    ("new file mode 102755", "mode 102755"),  # setgid
    ("new file mode 120000", "a symlink"),
    ("new file mode 160000", "a submodule"),
    ("new file mode 100664", "mode 100664"),
])
def test_new_files_are_only_regular_or_executable(tmp_path, tools_for, header, message):
    repo = make_repo(tmp_path / "r", {"a.txt": "a\n"})
    _, tools = tools_for(repo, approval="auto")
    diff = f"diff --git a/s.sh b/s.sh\n{header}\n--- /dev/null\n+++ b/s.sh\n@@ -0,0 +1 @@\n+echo hi\n"
    result = tools["propose_patch_unified"](diff=diff)
    assert message in result["error"] and "100644" in result["error"], result
    assert not (repo / "s.sh").exists()


def test_mode_changes_are_limited_too(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"s.sh": "echo hi\n"})
    _, tools = tools_for(repo, approval="auto")
    setuid = "diff --git a/s.sh b/s.sh\nold mode 100644\nnew mode 104755\n"
    assert "mode 104755" in tools["propose_patch_unified"](diff=setuid)["error"]
    link = "diff --git a/s.sh b/s.sh\nold mode 100644\nnew mode 120000\n"
    assert "symlink" in tools["propose_patch_unified"](diff=link)["error"]
    executable = "diff --git a/s.sh b/s.sh\nold mode 100644\nnew mode 100755\n"
    tools["apply_patch"](patch_id=tools["propose_patch_unified"](diff=executable)["patch_id"])
    assert stat.S_IMODE((repo / "s.sh").stat().st_mode) == 0o755
    created = "diff --git a/t.sh b/t.sh\nnew file mode 100755\n--- /dev/null\n+++ b/t.sh\n@@ -0,0 +1 @@\n+echo\n"
    tools["apply_patch"](patch_id=tools["propose_patch_unified"](diff=created)["patch_id"])
    assert stat.S_IMODE((repo / "t.sh").stat().st_mode) == 0o755


def test_special_bits_of_an_existing_file_are_not_kept(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"tool": "v1\n"})
    os.chmod(repo / "tool", 0o4755)
    _, tools = tools_for(repo, approval="auto")
    tools["apply_patch"](patch_id=tools["propose_patch"](path="tool", old="v1", new="v2")["patch_id"])
    assert stat.S_IMODE((repo / "tool").stat().st_mode) == 0o755


def test_paths_with_control_characters_are_refused(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"a.txt": "a\n"})
    _, tools = tools_for(repo, approval="auto")
    result = tools["propose_patch"](path="x\x1b[2K.txt", old="", new="x\n")
    assert "control character" in result["error"]


# --- 4. the agent's own git calls run none of the repository's programs ---


def hostile_repo(tmp_path: Path) -> tuple[Path, Path]:
    repo = make_repo(tmp_path / "hostile", {"a.txt": "one\n", "b.txt": "two\n"})
    marker = tmp_path / "PWNED"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.txt").write_text("a secret outside the workspace\n")
    git(repo, "config", "core.fsmonitor", f"touch {marker}.fsmonitor; echo")
    git(repo, "config", "filter.evil.clean", f"sh -c 'touch {marker}.clean; cat'")
    git(repo, "config", "filter.evil.smudge", f"sh -c 'touch {marker}.smudge; cat'")
    git(repo, "config", "diff.evil.textconv", f"sh -c 'touch {marker}.textconv; cat \"$0\"'")
    git(repo, "config", "diff.external", f"sh -c 'touch {marker}.external'")
    git(repo, "config", "core.pager", f"sh -c 'touch {marker}.pager; cat'")
    git(repo, "config", "core.hooksPath", str(tmp_path))
    (repo / ".gitattributes").write_text("*.txt filter=evil diff=evil\n")
    for name in ("a.txt", "b.txt"):
        os.utime(repo / name, (1, 1))  # stat-dirty: git must re-read (and would filter) them
    (repo / "b.txt").write_text("two, changed\n")
    return repo, marker


def pwned(marker: Path) -> list[str]:
    return sorted(p.name for p in marker.parent.glob(marker.name + "*"))


def test_the_attack_is_real_for_plain_git(tmp_path):
    repo, marker = hostile_repo(tmp_path)
    subprocess.run(["git", "diff"], cwd=repo, capture_output=True)
    assert pwned(marker), "plain git runs the repository's programs (the attack this guards against)"


def test_git_tools_run_no_repository_program(tmp_path, tools_for, monkeypatch):
    repo, marker = hostile_repo(tmp_path)
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "core.fsmonitor")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", f"touch {marker}.env; echo")
    monkeypatch.setenv("GIT_EXTERNAL_DIFF", f"sh -c 'touch {marker}.envdiff'")
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    _, tools = tools_for(repo)
    status = tools["git_status"]()
    assert "M b.txt" in status["modified"], status
    diff = tools["git_diff"]()
    assert "+two, changed" in diff["diff"], diff
    assert tools["git_log"]()["commits"], "git_log works"
    info = tools["repo_info"]()
    assert info["branch"] == "main" and info["dirty"] is True
    from agent_runtime.telemetry.records import _git_state

    assert _git_state(repo)["dirty"] is True
    assert pwned(marker) == [], "no repository-configured program ran"


def test_core_worktree_cannot_show_files_outside_the_workspace(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"a.txt": "inside\n"})
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.txt").write_text("a secret outside the workspace\n")
    git(repo, "config", "core.worktree", str(outside))
    assert "secret outside" in subprocess.run(["git", "diff"], cwd=repo, capture_output=True, text=True).stdout
    _, tools = tools_for(repo)
    assert "secret outside" not in str(dict(tools["git_diff"]()))
    assert tools["git_status"]()["clean"] is True


# --- 7. patch size, and strings that cannot be encoded ---


def test_a_600_line_40kb_diff_applies_with_the_default_settings(tmp_path, tools_for):
    lines = [f"value_{i} = {i}  # {'x' * 40}\n" for i in range(600)]
    repo = make_repo(tmp_path / "r", {"big.py": "".join(lines)})
    new = [line.replace("# ", "# changed ") if i % 2 == 0 else line for i, line in enumerate(lines)]
    diff = subprocess.run(["git", "diff", "--no-index", "--no-color", "--", "-", "big.py"], cwd=repo,
                          input="".join(new), capture_output=True, text=True).stdout
    diff = "--- a/big.py\n+++ b/big.py\n" + diff.split("+++ b/big.py\n", 1)[1]
    diff = diff.replace("-value", "\x00").replace("+value", "-value").replace("\x00", "+value")  # old -> new
    assert diff.count("\n") >= 600 and len(diff.encode()) >= 40_000, (diff.count("\n"), len(diff))
    _, tools = tools_for(repo)  # default settings: VALIDATION_MAX_* do not cap a patch
    proposed = tools["propose_patch_unified"](diff=diff)
    assert "patch_id" in proposed, proposed
    assert tools["apply_patch"](patch_id=proposed["patch_id"])["applied"] is True
    assert (repo / "big.py").read_text() == "".join(new)


def test_lone_surrogates_get_a_clear_error(buggy_repo, tools_for):
    runtime, tools = tools_for(buggy_repo)
    for result in (tools["propose_patch"](path="calc.py", old="return a - b", new="return '\ud83e'"),
                   tools["run_cmd"](command="echo \ud83e"),
                   tools["rg_search"](pattern="\ud83e"),
                   tools["read_file"](path="calc\ud83e.py")):
        assert "cannot be encoded as UTF-8" in result["error"] and "U+D83E" in result["error"], result
        assert "failed unexpectedly" not in result["error"]
    assert runtime.state.history[-1].error_type == "invalid_input"


# --- 6. the terminal: escape sequences made visible ---


def _terminal(args, repo, tmp_path):
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "200", "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    return Terminal([str(VENV_BIN / "agent-runtime"), *args], repo, env)


def test_the_approval_panel_shows_the_whole_command_with_the_escape_visible(tmp_path):
    repo = make_repo(tmp_path / "p", {**BUGGY_PROJECT, "important_dir/keep.txt": "keep\n"})
    command = "rm -rf important_dir #\x1b[2K\x1b[1Gls -la"
    import json

    term = _terminal(["--approval", "ask", "tool", "run_cmd", json.dumps({"command": command})], repo, tmp_path)
    term.read_until("[y/N/", timeout=60)  # Run this command? [y/N/a/r/m]
    assert "rm -rf important_dir #^[[2K^[[1Gls -la" in flat(term.output)
    assert "\x1b[2K" not in term.output and "\x1b[1G" not in term.output
    term.type("n\n")
    term.wait()
    assert (repo / "important_dir" / "keep.txt").exists()


def test_diffs_and_observations_reach_the_terminal_with_escapes_visible(tmp_path):
    repo = make_repo(tmp_path / "p", {**BUGGY_PROJECT,
                                      "notes.txt": "title \x1b]0;pwned\x07 clip \x1b]52;c;cm0gLXJmIH4=\x07 end\n"})
    replay = write_replay(tmp_path / "r.json", [
        step("Look.", 'print(read_file(path="notes.txt"))'),
        step("Fix.", 'print(propose_patch(path="calc.py", old="return a - b", '
                     'new="return a + b\\n\\x1b[1A\\x1b[2K    # innocent"))'),
        step("Apply.", 'print(apply_patch(patch_id="p1"))'),
        step("Done.", 'final_answer("done \\x1b[31mred")'),
    ])
    term = _terminal(["--approval", "ask", "--model", f"replay:{replay}", "fix add"], repo, tmp_path)
    term.read_until("[y/N/", timeout=120)  # Apply this patch? [y/N/a/m]
    out = term.output
    assert "^[]0;pwned^G" in out and "^[]52;c;cm0gLXJmIH4=^G" in out, "the observation shows the escapes"
    assert "\x1b]0;" not in out and "\x1b]52" not in out
    assert "+    ^[[1A^[[2K    # innocent" in out, "the diff line shows its escape"
    assert "\x1b[1A\x1b[2K    # innocent" not in out  # (the spinner's own cursor moves are Rich's)
    term.type("n\n")
    assert term.wait(120) == 5  # answered, but the patch was refused
    assert "done ^[[31mred" in term.output


def test_tool_command_output_shows_c1_controls_visibly(tmp_path):
    repo = make_repo(tmp_path / "p", {"a.txt": "csi \u009b2J and del \x7f here\n"})
    done = run_cli("tool", "read_file", '{"path": "a.txt"}', cwd=repo, env={"XDG_CONFIG_HOME": str(tmp_path / "c")})
    assert done.returncode == 0
    assert "\u009b" not in done.stdout and "\x7f" not in done.stdout
    assert "M-^[2J" in done.stdout and "^?" in done.stdout


@pytest.mark.parametrize("path", [".git/hooks/post-commit", "./.git/config", "g/hooks/pre-push", "hk/../.git/hooks/x"])
def test_propose_file_cannot_write_into_git(tmp_path, tools_for, path):
    """The whole-file tool goes through the same path resolution and deny_write as the others."""
    repo = make_repo(tmp_path / "r", {"a.txt": "a\n", "hk/keep": "k\n"})
    (repo / "g").symlink_to(repo / ".git")
    _, tools = tools_for(repo, approval="auto")
    result = tools["propose_file"](path=path, content="#!/bin/sh\ntouch PWNED\n")
    assert "refused" in result["error"] and ".git/" in result["error"]
    assert not (repo / ".git" / "hooks" / "post-commit").exists() and not list(repo.rglob("PWNED"))


def test_propose_file_does_not_show_or_overwrite_dotenv(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"a.txt": "a\n"})
    (repo / ".env").write_text("API_KEY=sk-secret-value-123\n")
    _, tools = tools_for(repo, approval="auto")
    result = tools["propose_file"](path=".env", content="API_KEY=x\n")
    assert "error" in result and "sk-secret" not in str(result)
    assert (repo / ".env").read_text() == "API_KEY=sk-secret-value-123\n"
