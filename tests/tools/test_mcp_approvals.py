"""An MCP tool's "always" saved for later sessions (safety/userpolicy.py, as for commands), with a real
SDK server (mcp_servers/demo.py, hostile.py) in bubblewrap: what is saved, that a later session takes
it as `remembered`, and what it never does: override a deny (from mcp.toml or the policy file, also
one added after saving), cover another tool or a server renamed to the same tool names, come from a
repository, or pass `--approval never`. Run as root and as an unprivileged user
(tests/safety/test_unprivileged.py)."""

from __future__ import annotations

import json
import os
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import BUGGY_PROJECT, VENV_BIN, flat, make_repo, plant_user_config, run_cli, step, write_replay
from mcp_helpers import demo_server, write_mcp_config
from terminal import Terminal

from agent_runtime.config import load_settings
from agent_runtime.safety.approval import Approver
from agent_runtime.safety.policy import PolicyError
from agent_runtime.safety.userpolicy import ApprovalStore, load_policy, user_policy_path

HOSTILE = Path(__file__).resolve().parent / "mcp_servers" / "hostile.py"


@pytest.fixture
def repo(tmp_path) -> Path:
    return make_repo(tmp_path / "project", BUGGY_PROJECT)


class Session:
    """A runtime with the user's servers started, its tools, and what its approver was asked and said."""

    def __init__(self, repo: Path, mode: str = "ask", answer: str = "n", save: bool = False,
                 interactive: bool = True, mode_from_default: bool = False, env: dict | None = None):
        from agent_runtime.tools import build_tools
        from agent_runtime.tools.runtime import Runtime

        self.asked: list[str] = []
        self.offered: list[str] = []  # the TOML shown before saving
        self.notices: list[str] = []
        self.calls: list[tuple] = []

        def prompt(tool, action, decision):
            self.asked.append(tool)
            return answer, None

        def confirm(proposal):
            self.offered.append(proposal.text)
            return save

        approver = Approver(mode, interactive, prompt=prompt, confirm_save=confirm, notice=self.notices.append,
                            mode_from_default=mode_from_default)
        self.runtime = Runtime.create(load_settings(env or {}), repo, approver)
        self.runtime.call_listeners.append(lambda record, decision, approval: self.calls.append(
            (record, decision, approval)))
        self.tools = {tool.name: tool for tool in build_tools(self.runtime)}

    def close(self) -> None:
        self.runtime.close()


@pytest.fixture
def session():
    opened: list[Session] = []

    def factory(repo: Path, **kwargs) -> Session:
        opened.append(Session(repo, **kwargs))
        return opened[-1]

    yield factory
    for one in opened:
        one.close()


def save_approval(repo: Path, name: str) -> None:
    """Save "always" for one MCP tool through the store a prompt uses (the servers as mcp.toml has them now)."""
    from agent_runtime.tools.mcpconfig import load_servers

    policy = load_policy()
    policy.mcp.add_servers(load_servers())
    store = ApprovalStore(policy, repo)
    proposal = store.propose_tool(name)
    assert proposal is not None, name
    store.save(proposal)


def test_always_then_save_and_a_later_session_approves_it_as_remembered(repo, session):
    write_mcp_config({"demo": demo_server()})
    first = session(repo, answer="a", save=True)
    assert first.tools["mcp__demo__pick"](color="red")["content"] == "red None"
    assert first.asked == ["mcp__demo__pick"]
    [shown] = first.offered  # the entry, shown before it is written
    assert 'tool = "mcp__demo__pick"' in shown and 'server = "demo"' in shown and "match" not in shown
    [entry] = tomllib.loads(user_policy_path().read_text())["allow"]
    assert entry == {"id": "mcp-demo-pick", "tool": "mcp__demo__pick", "server": "demo",
                     "repo": str(repo.resolve()), "reason": entry["reason"], "saved": entry["saved"]}
    assert first.tools["mcp__demo__pick"](color="green")["content"] == "green None"
    assert first.asked == ["mcp__demo__pick"], "this session: remembered"
    first.close()

    later = session(repo)  # a new session: asked about nothing it saved
    assert later.tools["mcp__demo__pick"](color="red")["content"] == "red None"
    assert later.asked == []
    record, decision, approval = later.calls[-1]
    assert (decision.decision, approval.approved, approval.source) == ("ask", True, "remembered")
    where = f"{user_policy_path()} ([[allow]] mcp-demo-pick)"
    assert approval.message == where == decision.approved_by
    assert later.notices == [f"approved: remembered from {where} — mcp__demo__pick: mcp__demo__pick"]
    # another tool of the same server is still asked
    assert "The user refused" in later.tools["mcp__demo__write_path"](path="x.txt", text="x")["error"]
    assert later.asked == ["mcp__demo__write_path"] and not (repo / "x.txt").exists()
    later.close()
    done = run_cli("policy", "test", cwd=repo)
    assert done.returncode == 0 and "1 of 1 examples approved (1 saved approvals)" in done.stdout, done.stdout


def test_saved_at_the_terminal_prompt_then_a_session_without_a_terminal_takes_it(repo, tmp_path):
    write_mcp_config({"demo": demo_server()})
    replay = write_replay(tmp_path / "r.json", [
        step("Pick a color.", 'print(mcp__demo__pick(color="red"))'),
        step("Done.", 'final_answer("picked")'),
    ])
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "160"}
    term = Terminal([str(VENV_BIN / "agent-runtime"), "--approval", "ask", "--model", f"replay:{replay}",
                     "pick a color"], repo, env)
    term.read_until("[y/N/a/m]", timeout=300)
    assert "save it for later sessions?" in flat(term.output)
    term.type("a\n")
    term.read_until("[y/N]", timeout=60)
    assert 'tool = "mcp__demo__pick"' in flat(term.output) and not user_policy_path().exists()
    term.type("y\n")
    assert term.wait(300) == 0
    assert "saved to" in flat(term.output)
    done = run_cli("--model", f"replay:{replay}", "pick a color", cwd=repo, env={"RUNS_DIR": str(tmp_path / "runs")})
    assert done.returncode == 0, done.stderr
    assert "approved: remembered from " in flat(done.stderr) and "([[allow]] mcp-demo-pick)" in flat(done.stderr)
    [run] = list((tmp_path / "runs").iterdir())
    spans = [json.loads(line) for line in (run / "trace.jsonl").read_text().splitlines()]
    [tool] = [s for s in spans if s["attributes"].get("tool.name") == "mcp__demo__pick"]
    assert tool["attributes"]["approval.source"] == "remembered"


@pytest.mark.parametrize("deny", ["server-deny", "server-default", "policy-deny", "policy-default"])
def test_a_saved_approval_never_overrides_a_deny_added_after_saving(repo, session, tmp_path, deny):
    write_mcp_config({"demo": demo_server()})
    save_approval(repo, "mcp__demo__pick")
    server = {"server-deny": {"deny": ["pick"]}, "server-default": {"default": "deny"}}.get(deny, {})
    write_mcp_config({"demo": demo_server(**server)})
    policy = tmp_path / "policy.toml"
    from agent_runtime.safety.policy.engine import SHIPPED_POLICY

    table = {"policy-deny": '\n[mcp]\ndeny = ["mcp__demo__*"]\n', "policy-default": '\n[mcp]\ndefault = "deny"\n'}
    policy.write_text(SHIPPED_POLICY.read_text() + table.get(deny, ""))
    later = session(repo, env={"POLICY_FILE": str(policy)})
    assert "refused by the command policy" in later.tools["mcp__demo__pick"](color="red")["error"]
    record, decision, approval = later.calls[-1]
    assert decision.decision == "deny" and decision.approved_by is None and approval is None
    assert later.asked == [] and later.notices == []
    done = run_cli("policy", "test", cwd=repo, env={"POLICY_FILE": str(policy)})
    assert done.returncode == 1 and "mcp__demo__pick is not approved by it: the policy says deny" in done.stdout


def test_a_saved_approval_covers_that_exact_name_of_that_exact_server(repo, session):
    # a tool of another name on the same server, also one that differs only by case: asked
    write_mcp_config({"h": {"command": [sys.executable, str(HOSTILE)], "timeout": 60, "startup_timeout": 300,
                            "env": {"HOSTILE_TOOLS": "delete-all,Delete_all,echo"}}})
    save_approval(repo, "mcp__h__delete_all")
    first = session(repo)
    assert first.tools["mcp__h__delete_all"]()["content"] == "called 'delete-all'"
    for name in ("mcp__h__Delete_all", "mcp__h__echo"):
        assert "The user refused" in first.tools[name]()["error"], name
    assert first.asked == ["mcp__h__Delete_all", "mcp__h__echo"]
    first.close()
    # `my-demo` saved; the server renamed `my_demo` (the same tool names, mcp__my_demo__*): not approved
    write_mcp_config({"my-demo": demo_server()})
    save_approval(repo, "mcp__my_demo__pick")
    assert 'server = "my-demo"' in user_policy_path().read_text()
    write_mcp_config({"my_demo": demo_server()})
    renamed = session(repo)
    assert "The user refused" in renamed.tools["mcp__my_demo__pick"](color="red")["error"]
    assert renamed.asked == ["mcp__my_demo__pick"] and renamed.calls[-1][1].approved_by is None


@pytest.mark.parametrize("entry, message", [
    ('tool = "mcp__demo__*"\nserver = "demo"', r''':3, allow\[0\]\.tool: expected one MCP tool's full name .*no glob\); found "mcp__demo__\*"$'''),
    ('tool = "mcp__*__pick"\nserver = "demo"', r''':3, allow\[0\]\.tool: expected one MCP tool's full name .*no glob\); found "mcp__\*__pick"$'''),
    ('tool = "mcp__demo__pi?k"\nserver = "demo"', r''':3, allow\[0\]\.tool: expected one MCP tool's full name .*no glob\); found "mcp__demo__pi\?k"$'''),
    ('tool = "mcp__demo__pick"', r':1, allow\[0\]\.server: expected the server of the tool, named as in your mcp\.toml .*; found none$'),
    ('tool = "mcp__demo__pick"\nserver = "other"', r':4, allow\[0\]\.server: expected the server of mcp__demo__pick; found "other"$'),
    ('tool = "mcp__demo__pick"\nserver = "demo"\nmatch = ["mcp__demo__write_path"]',
     r':5, allow\[0\]\.match: expected no match in a tool entry \(it approves only the tool it names\)'),
    ('command = "ls"\nserver = "demo"\nmatch = ["ls"]', r':4, allow\[0\]\.server: expected server only with tool \(an MCP tool\)'),
])
def test_an_entry_that_is_not_one_exact_tool_is_refused(repo, entry, message):
    path = user_policy_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[[allow]]\nid = "x"\n{entry}\n')
    with pytest.raises(PolicyError, match=message):
        load_policy()


def test_a_repository_cannot_add_a_saved_tool_approval(repo, tmp_path):
    planted = '[[allow]]\nid = "planted"\ntool = "mcp__demo__pick"\nserver = "demo"\n'
    plant_user_config(repo, "policy.toml", planted, f"POLICY_FILE={repo / 'policy.toml'}\n")
    write_mcp_config({"demo": demo_server()})  # the user's own servers
    listed = run_cli("tools", "--json", cwd=repo)
    assert listed.returncode == 0, listed.stderr
    [pick] = [row for row in json.loads(listed.stdout) if row["name"] == "mcp__demo__pick"]
    assert (pick["approval"], pick["approved_by"]) == ("ask", None)
    called = run_cli("tool", "mcp__demo__pick", '{"color": "red"}', cwd=repo, input="")
    assert called.returncode == 1 and "needs approval" in json.loads(called.stdout)["error"]
    assert "remembered" not in called.stderr


def test_approval_never_refuses_a_saved_tool_approval(repo, session):
    write_mcp_config({"demo": demo_server()})
    save_approval(repo, "mcp__demo__pick")
    never = session(repo, mode="never")  # the user said never
    assert "needs approval" in never.tools["mcp__demo__pick"](color="red")["error"]
    assert never.calls[-1][2].source == "config" and never.notices == []
    never.close()
    # without a terminal (never because no one can be asked), the saved approval holds
    unattended = session(repo, mode="never", interactive=False, mode_from_default=True)
    assert unattended.tools["mcp__demo__pick"](color="red")["content"] == "red None"
    assert unattended.calls[-1][2].source == "remembered"


def test_a_saved_approval_of_a_tool_does_not_answer_for_what_its_arguments_name(repo, session, tmp_path):
    """The entry approves the tool by name; a file outside the workspace in its arguments is still asked,
    and a deny_read file refused (safety/policy/mcp.py argument_floor)."""
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("elsewhere\n")
    (tmp_path / "other" / ".env").write_text("API_KEY=saved-approval-secret\n")
    write_mcp_config({"demo": demo_server()})
    save_approval(repo, "mcp__demo__read_path")
    later = session(repo, mode="ask", answer="n")
    assert later.tools["mcp__demo__read_path"](path="calc.py")["content"].startswith("READ:def add")
    assert later.asked == [] and later.calls[-1][1].approved_by is not None
    refused = later.tools["mcp__demo__read_path"](path="../other/notes.txt")
    assert "The user refused" in refused["error"] and later.asked == ["mcp__demo__read_path"]
    assert later.calls[-1][1].rule == "outside-workspace" and later.calls[-1][1].approved_by is None
    denied = later.tools["mcp__demo__read_path"](path="../other/.env")
    assert "deny_read" in denied["error"] and "saved-approval-secret" not in str(denied)
    assert later.asked == ["mcp__demo__read_path"], "a deny is not asked"
