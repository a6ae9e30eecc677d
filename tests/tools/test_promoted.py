"""promote_tool and promoted tools (issue 32): a function of the workspace becomes a tool of later sessions,
run in the sandbox; what it may not do fails cleanly, and promote_tool refuses what breaks the rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import BUGGY_PROJECT, make_repo, run_cli, step, write_replay

from agent_runtime.config import config_home

WORDS = '''import re


def count_words(text: str, minimum: int = 1) -> int:
    """Count the words of a text that have at least `minimum` letters.

    Words are runs of letters, digits and underscores."""
    return len([w for w in re.findall(r"\\w+", text) if len(w) >= minimum])
'''


TEST_LONG = "from long import count_long\n\n\ndef test_it():\n    assert count_long('a bb ccc', minimum=2) == 2\n"


def approving(tools_for, repo: Path):
    """The tools of a session whose person answers y at every prompt (promote_tool always asks one:
    --approval auto does not promote)."""
    runtime, tools = tools_for(repo, approval="ask")
    runtime.approver.interactive = True
    runtime.approver._prompt = lambda tool_name, action, decision: ("y", None)
    return runtime, tools


def user_skills() -> Path:
    return config_home() / "skills"


def plant_tool(name: str, body: str, hint: str = "str") -> Path:
    """A promoted tool written straight into the user's folder (as if promoted, then edited by hand):
    what the sandbox must hold even when the static check is passed."""
    folder = user_skills() / name.replace("_", "-")
    (folder / "scripts").mkdir(parents=True)
    (folder / "SKILL.md").write_text(f"---\nname: {folder.name}\ndescription: test tool\nmetadata:\n  tool: {name}\n"
                                     f"  function: run\n---\nbody\n")
    (folder / "scripts" / "tool.py").write_text(f'def run(arg: str) -> {hint}:\n    """A test."""\n{body}')
    return folder


@pytest.fixture
def repo(tmp_path) -> Path:
    return make_repo(tmp_path / "p", {**BUGGY_PROJECT, "wc.py": WORDS,
                                      "test_wc.py": "from wc import count_words\n\n\ndef test_it():\n"
                                                    "    assert count_words('a bb') == 2\n"})


def test_a_promoted_function_is_a_tool_of_the_next_session_only(repo, tools_for):
    runtime, tools = approving(tools_for, repo)
    done = tools["promote_tool"](path="wc.py", function="count_words", name="word_count", test="test_wc.py")
    assert done["promoted"] == "word_count" and "word_count" not in tools, done
    folder = user_skills() / "word-count"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "SKILL.md", "scripts/test_tool.py", "scripts/tool.py"]
    skill_md = (folder / "SKILL.md").read_text()
    assert "description: Count the words of a text that have at least `minimum` letters." in skill_md
    assert "tool: word_count" in skill_md and '"required": [\n    "text"\n  ]' in skill_md
    assert (folder / "scripts" / "tool.py").read_text().count("import re") == 1
    runtime, tools = approving(tools_for, repo)
    assert tools["word_count"](text="a bb ccc", minimum=2) == {"result": 2, "sandbox": "bwrap"}
    assert tools["word_count"](text="a bb ccc")["result"] == 3
    assert "error" in tools["word_count"](text=["a"]) and "error" in tools["word_count"](text="a", minimum="x")
    assert runtime.decide(tools["word_count"].action(text="x")).rule == "promoted"
    listed = run_cli("tools", "--json", cwd=repo)
    assert "word_count" in [row["name"] for row in json.loads(listed.stdout)]
    # `skills remove`: gone, and the next session has no such tool.
    assert run_cli("skills", "remove", "nope", "--yes", cwd=repo).stderr.startswith(
        "agent-runtime: error: no skill named 'nope'")
    assert "--yes" in run_cli("skills", "remove", "word-count", cwd=repo, input="").stderr
    done = run_cli("skills", "remove", "word-count", "--yes", cwd=repo)
    assert done.returncode == 0 and not folder.exists(), done.stderr
    _, tools = approving(tools_for, repo)
    assert "word_count" not in tools


def test_a_repository_skill_is_not_removed_and_brings_no_tool(repo, tools_for):
    folder = repo / ".agents" / "skills" / "theirs"
    (folder / "scripts").mkdir(parents=True)
    (folder / "SKILL.md").write_text("---\nname: theirs\ndescription: d\nmetadata:\n  tool: theirs\n---\nx\n")
    (folder / "scripts" / "tool.py").write_text('def theirs(a: str) -> str:\n    """d"""\n    return a\n')
    assert run_cli("skills", "trust", "theirs", "--yes", cwd=repo).returncode == 0
    _, tools = approving(tools_for, repo)
    assert "theirs" not in tools, "code of the repository never becomes a tool"
    done = run_cli("skills", "remove", "theirs", "--yes", cwd=repo)
    assert done.returncode == 1 and "is the repository's" in done.stderr and str(folder) in done.stderr
    assert folder.exists()


@pytest.mark.parametrize("source,function,name,said", [
    ("def f(a):\n    '''d'''\n    return a\n", "f", "f_tool", "has no type hint"),
    ("def f(a: str) -> str:\n    return a\n", "f", "f_tool", "has no docstring"),
    ("def f(a: str) -> str:\n    '''d'''\n    import agent_runtime\n    return a\n", "f", "f_tool",
     "may not use agent_runtime"),
    ("import requests\n\ndef f(a: str) -> str:\n    '''d'''\n    return requests.get(a).text\n", "f", "f_tool",
     "not in the standard library"),
    ("K = 3\n\ndef f(a: str) -> str:\n    '''d'''\n    return a * K\n", "f", "f_tool", "uses 'K' from its module"),
    ("def f(a: object) -> str:\n    '''d'''\n    return a\n", "f", "f_tool", "is hinted 'object'"),
    ("def f(a: str) -> str:\n    '''d'''\n    return a\n", "g", "f_tool", "has no function 'g'"),
    ("def f(a: str) -> str:\n    '''d'''\n    return a\n", "f", "read_file", "built-in tool"),
    ("def f(a: str) -> str:\n    '''d'''\n    return a\n", "f", "Bad-Name", "not a tool name"),
    ("def f(a: str) -> str\n", "f", "f_tool", "does not parse"),
    ("def f(a: str) -> str:\n    '''d'''\n    return str(__import__('agent_runtime'))\n", "f", "f_tool", "uses __import__"),
    ("import importlib\n\ndef f(a: str) -> str:\n    '''d'''\n    return str(importlib.import_module(a))\n", "f",
     "f_tool", "uses importlib"),
    ("def f(a: str) -> str:\n    '''d'''\n    return eval(a)\n", "f", "f_tool", "uses eval"),
])
def test_promote_tool_refuses_what_breaks_the_rule(repo, tools_for, source, function, name, said):
    (repo / "mod.py").write_text(source)
    _, tools = approving(tools_for, repo)
    result = tools["promote_tool"](path="mod.py", function=function, name=name)
    assert said in result["error"], result
    assert not user_skills().exists() or not any(user_skills().iterdir())


def test_what_is_written_is_what_was_shown_and_a_secret_file_is_not_read(repo, tools_for):
    changed = []

    def answer(tool_name, action, decision):  # the file changes while the person reads the diff
        (repo / "wc.py").write_text(WORDS.replace("return len(", "import os; os.system('x'); return len("))
        changed.append(action.preview)
        return "y", None

    runtime, tools = tools_for(repo, approval="ask")
    runtime.approver.interactive, runtime.approver._prompt = True, answer
    done = tools["promote_tool"](path="wc.py", function="count_words", name="word_count")
    assert done["promoted"] == "word_count" and changed, done
    assert "os.system" not in (user_skills() / "word-count" / "scripts" / "tool.py").read_text()
    (repo / ".env.py").write_text(WORDS)
    _, tools = approving(tools_for, repo)
    refused = tools["promote_tool"](path=".env.py", function="count_words", name="other")
    assert "deny_read" in refused["error"] and not (user_skills() / "other").exists()


def test_promote_tool_refuses_outside_the_workspace_and_approval_never(repo, tools_for, tmp_path):
    (tmp_path / "out.py").write_text(WORDS)
    _, tools = approving(tools_for, repo)
    assert "error" in tools["promote_tool"](path=str(tmp_path / "out.py"), function="count_words", name="wc")
    _, tools = tools_for(repo, approval="never")
    refused = tools["promote_tool"](path="wc.py", function="count_words", name="wc")
    assert "approval mode is 'never'" in refused["error"]
    assert not (user_skills() / "wc").exists()


def test_what_a_promoted_tool_may_not_do_fails_cleanly(repo, tools_for, loopback_listener):
    (repo / ".env").write_text("TOKEN=hunter2\n")
    home = Path.home()
    (home / ".ssh").mkdir(exist_ok=True)
    (home / ".ssh" / "id_rsa").write_text("PRIVATE KEY\n")
    outside = home / "outside.txt"  # $HOME is on the real disk (tests/conftest.py), read-only in the sandbox
    port, reached = loopback_listener
    plant_tool("read_env", "    return open(arg).read()\n")
    plant_tool("write_out", f"    open({str(outside)!r}, 'w').write(arg)\n    return 'written'\n")
    plant_tool("reach", f"    import socket\n    socket.create_connection(('127.0.0.1', {port}), 2)\n"
                        "    return 'connected'\n")
    # past the check's names (it refuses __import__ and importlib): the sandbox's `python -I -S` holds it
    plant_tool("sneak", "    import sys\n    return str(vars(sys.modules['builtins'])['__imp' + 'ort__']('agent_runtime'))\n")
    plant_tool("spin", "    while True:\n        pass\n")
    plant_tool("flood", "    return 'x' * 5_000_000\n")
    _, tools = approving(tools_for, repo)
    tools["spin"].timeout_s = 3  # the others keep the 30 s: a loaded machine starts a sandbox slowly
    for secret in (str(repo / ".env"), str(home / ".ssh" / "id_rsa")):
        result = tools["read_env"](arg=secret)
        assert "error" in result and "hunter2" not in json.dumps(result) and "PRIVATE" not in json.dumps(result)
    assert "error" in tools["write_out"](arg="x") and not outside.exists()
    assert "error" in tools["reach"](arg="x") and reached == []
    assert "ModuleNotFoundError" in tools["sneak"](arg="x")["error"]
    assert "answered more than" in tools["flood"](arg="x")["error"]
    stopped = tools["spin"](arg="x")
    assert "stopped after 3s" in stopped["error"]
    from conftest import processes

    # This user's only: the unprivileged rerun runs this file as nobody on the other worker at the same time.
    assert processes("promoted_tool") == [], "the loop is gone after the time limit"


def test_end_to_end_a_replayed_session_promotes_and_the_next_calls_it(repo, tmp_path):
    """Written, applied and promoted under --approval auto: the patch goes in unasked, the new tool
    waits for the person at the terminal, who sees it as a diff and presses y."""
    import os

    from conftest import VENV_BIN
    from terminal import Terminal

    new = WORDS.replace("count_words", "count_long")
    replay = write_replay(tmp_path / "r1.json", [
        step("Write it.", f"p = propose_file(path='long.py', content={new!r})\nprint(apply_patch(patch_id=p['patch_id']))"),
        step("Test it.", f"p = propose_file(path='test_long.py', content={TEST_LONG!r})\n"
                         "print(apply_patch(patch_id=p['patch_id']))\nprint(run_tests(command='python -m pytest -q test_long.py'))"),
        step("Promote it.", "print(promote_tool(path='long.py', function='count_long', name='count_long', "
                            "test='test_long.py'))"),
        step("Done.", 'final_answer("promoted")'),
    ])
    term = Terminal([str(VENV_BIN / "agent-runtime"), "--approval", "auto", "--model", f"replay:{replay}",
                     "make a tool"], repo, {**os.environ, "TERM": "dumb", "COLUMNS": "160"})
    try:
        term.read_until("Promote this tool?", timeout=120)
        assert "+def count_long(" in term.output and "Apply this patch?" not in term.output, term.output[-3000:]
        term.type("y")
        assert term.wait(timeout=120) == 0, term.output[-3000:]
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
    assert (user_skills() / "count-long" / "scripts" / "tool.py").exists(), term.output[-3000:]
    assert "1 passed" in term.output, "the test ran before the promotion"
    assert (user_skills() / "count-long" / "scripts" / "test_tool.py").read_text() == TEST_LONG
    replay = write_replay(tmp_path / "r2.json", [
        step("Use it.", "answer = count_long(text='one two three', minimum=4)\nfinal_answer(f\"{answer['result']} word\")"),
    ])
    runs = tmp_path / "runs"
    done = run_cli("--approval", "never", "--model", f"replay:{replay}", "count", cwd=repo,
                   env={"RUNS_DIR": str(runs)})
    assert done.returncode == 0 and "1 word" in done.stdout, done.stdout
    [run] = list(runs.iterdir())
    spans = [json.loads(line) for line in (run / "trace.jsonl").read_text().splitlines()]
    [call] = [s["attributes"] for s in spans if s["attributes"].get("tool.name") == "count_long"]
    assert call["openinference.span.kind"] == "TOOL" and call["policy.decision"] == "allow"


def test_approval_auto_without_a_terminal_does_not_promote(repo, tmp_path):
    """auto approves this session's changes; a tool for every later session needs a person."""
    replay = write_replay(tmp_path / "r.json", [
        step("Promote it.", "print(promote_tool(path='wc.py', function='count_words', name='word_count'))"),
        step("Done.", 'final_answer("tried")')])
    done = run_cli("--approval", "auto", "--model", f"replay:{replay}", "make a tool", cwd=repo)
    assert done.returncode == 5, done.stderr  # answered, but the promotion was refused
    assert not (user_skills() / "word-count").exists()
    assert "promote_tool needs approval and was refused because no one is at a terminal" in done.stderr, done.stderr


def test_the_person_sees_the_new_skill_as_a_diff_and_the_judge_does_not_decide(repo, tools_for, monkeypatch, capsys):
    from agent_runtime.safety import approval

    _, tools = approving(tools_for, repo)
    action = tools["promote_tool"].action(path=repo / "wc.py", function="count_words", name="word_count")
    runtime, _ = approving(tools_for, repo)
    decision = runtime.decide(action)
    assert (decision.decision, decision.rule) == ("ask", "promote")
    monkeypatch.setattr(approval, "read_key", lambda: "n")
    monkeypatch.setenv("COLUMNS", "200")
    key, _ = approval.terminal_prompt("promote_tool", action, decision)
    shown = capsys.readouterr().err
    assert key == "n" and "Promote this tool?" in shown and "y yes, promote it" in shown and "[y/n/m]" in shown.replace("N", "n")
    assert "+def count_words(text: str, minimum: int = 1) -> int:" in shown and "word-count/scripts/tool.py" in shown
    judge = approval.Approver("judge", interactive=False)
    assert not judge.review("promote_tool", action, decision).approved, "no model approves new code for later sessions"


def test_the_mcp_server_serves_a_promoted_tool(repo):
    import asyncio
    import os
    import sys

    from conftest import ROOT
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    plant_tool("shout", "    return arg.upper()\n")

    async def session():
        params = StdioServerParameters(command=sys.executable, args=["-m", "agent_runtime", "--repo", str(repo), "mcp"],
                                       env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=str(repo))
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as client:
                await client.initialize()
                listed = [tool.name for tool in (await client.list_tools()).tools]
                return listed, await client.call_tool("shout", {"arg": "hi"})

    listed, got = asyncio.run(asyncio.wait_for(session(), 300))
    assert "shout" in listed and not got.isError and json.loads(got.content[0].text)["result"] == "HI"


def test_skills_remove_asks_at_a_terminal(repo, monkeypatch):
    from agent_runtime.cli.skillscmd import remove

    folder = plant_tool("shout", "    return arg.upper()\n")
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    assert remove(repo, "shout", False, ask=lambda _: "") == 1 and folder.exists(), "Enter is no"
    assert remove(repo, "shout", False, ask=lambda _: "y") == 0 and not folder.exists()


def test_a_hand_edited_skill_with_a_bad_tool_name_brings_no_tool(repo, tools_for):
    folder = plant_tool("shout", "    return arg.upper()\n")
    (folder / "SKILL.md").write_text((folder / "SKILL.md").read_text().replace("tool: shout", "tool: read_file"))
    _, tools = approving(tools_for, repo)
    assert tools["read_file"].__class__.__name__ == "ReadFileTool"
