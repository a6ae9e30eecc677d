"""/memory in the REPL: shows the notes saved with remember, opens $EDITOR on AGENTS.md (or prints
its path), and the next task reads what was edited."""

from __future__ import annotations

import os

from conftest import BUGGY_PROJECT, VENV_BIN, flat, make_repo, runs_in_order, write_replay
from terminal import Terminal

from agent_runtime.tools.remember import with_note


def repl(repo, replay, **env):
    full = {**os.environ, "TERM": "dumb", "COLUMNS": "200", **env}
    for name in ("EDITOR", "VISUAL"):
        if name not in env:
            full.pop(name, None)
    return Terminal([str(VENV_BIN / "agent-runtime"), "--model", f"replay:{replay}"], repo, full)


def test_memory_lists_the_notes_and_prints_the_path_without_an_editor(tmp_path):
    repo = make_repo(tmp_path / "p", {**BUGGY_PROJECT, "AGENTS.md": with_note("# Rules\n", "2026-11-20: use make test")})
    term = repl(repo, write_replay(tmp_path / "r.json", []))
    term.read_until("› ", timeout=30)
    term.type("/memory\n")
    term.read_until("to open it from here", timeout=30)
    shown = flat(term.output)
    assert "AGENTS.md: 1 note(s)" in shown and "- 2026-11-20: use make test" in shown
    assert f"Edit it: {repo / 'AGENTS.md'}" in shown
    term.type("/exit\n")
    assert term.wait() == 0


def test_memory_opens_the_editor_and_the_next_task_reads_the_edit(tmp_path):
    import json

    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    replay = write_replay(tmp_path / "r.json", ['Thought: d\n<code>\nfinal_answer("one")\n</code>',
                                                'Thought: d\n<code>\nfinal_answer("two")\n</code>'])
    editor = "sh -c 'printf \"%s\\n\" \"- added by hand: deploys go through CI\" >> \"$0\"'"
    runs = tmp_path / "runs"
    term = repl(repo, replay, EDITOR=editor, RUNS_DIR=str(runs))
    term.read_until("› ", timeout=30)
    term.type("first\n")  # the session is open, so the edit must reach the running agent
    term.read_until_after("one", "› ", timeout=120)
    term.type("/memory\n")
    term.read_until("next task reads the new notes", timeout=30)
    assert "No project notes yet" in flat(term.output)
    term.type("second\n")
    term.read_until_after("two", "› ", timeout=120)
    term.type("/exit\n")
    assert term.wait() == 0
    assert "deploys go through CI" in (repo / "AGENTS.md").read_text()
    first, second = runs_in_order(runs)
    def request(run):
        spans = [json.loads(line) for line in (run / "trace.jsonl").read_text().splitlines()]
        return next(s for s in spans if s["kind"] == "LLM")["attributes"]["input.value"]
    assert "deploys go through CI" not in request(first) and "deploys go through CI" in request(second)


def test_memory_refuses_an_agents_md_that_leads_outside_and_opens_no_editor(tmp_path):
    """AGENTS.md -> ~/.ssh/id_ed25519 in a hostile repository: /memory neither shows it nor opens it."""
    key = tmp_path / "home" / ".ssh" / "id_ed25519"
    key.parent.mkdir(parents=True)
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n## Notes (saved by agent-runtime)\n\n- b3BlbnNzaC1rZXktdjEAAAAA\n")
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    (repo / "AGENTS.md").symlink_to(key)
    opened = tmp_path / "opened"
    term = repl(repo, write_replay(tmp_path / "r.json", []), EDITOR=f"sh -c 'touch {opened}'")
    term.read_until("› ", timeout=30)
    term.type("/memory\n")
    term.read_until("from the project", timeout=30)  # the line wraps at the terminal's width
    term.type("/exit\n")
    assert term.wait() == 0
    assert "a project's configuration is read only from the project" in flat(term.output)
    assert "b3BlbnNzaC1rZXkt" not in flat(term.output) and not opened.exists()
