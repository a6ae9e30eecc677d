"""outline, read_symbol, find_symbol and replace_symbol through the one tool path: by name in a
big file, refusals that say what to do, hidden files never shown, and a replacement that changes
only its symbol (applied, and undone, like any patch)."""

from __future__ import annotations

from conftest import make_repo

BIG = "\n".join(f"def filler_{i}(x):\n    return x + {i}\n\n" for i in range(400)) + '''
class Parser:
    """Parses."""

    def parse(self, text):
        return text.split(",")

    def count(self, text):
        return len(self.parse(text))
'''
FILES = {"pkg/__init__.py": "", "pkg/big.py": BIG, "pkg/use.py": "from pkg.big import Parser\n\n\n"
         "def run(text):\n    return Parser().count(text)\n", ".env": "API_KEY=sk-secret\n",
         "notes.txt": "not python\n"}


def test_outline_and_read_symbol_find_one_method_in_a_big_file(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", FILES)
    _, tools = tools_for(repo)
    outline = tools["outline"](path="pkg/big.py")
    assert outline["symbols"] == 403 and outline["outline"].startswith("1-2: def filler_0(x)\n")
    assert outline["truncated"] is True, "a long outline is cut like any output: find_symbol narrows it"
    read = tools["read_symbol"](path="pkg/big.py", name="Parser.count")
    assert read["source"] == "    def count(self, text):\n        return len(self.parse(text))\n"
    assert read["lines"] == "1607-1608 of 1608"
    assert tools["read_symbol"](path="pkg/big.py", name="count")["name"] == "Parser.count", "a unique short name"


def test_read_symbol_refusals_say_what_there_is(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", FILES)
    runtime, tools = tools_for(repo)
    missing = tools["read_symbol"](path="pkg/big.py", name="Parser.counts")
    assert "no class or function called 'Parser.counts'" in missing["error"]
    assert "Parser.count" in missing["recovery_suggestion"]
    assert runtime.state.history[-1].error_type == "not_found"
    assert "is not a Python file" in tools["read_symbol"](path="notes.txt", name="x")["error"]
    assert "policy" in tools["read_symbol"](path=".env", name="x")["error"], "a hidden file is refused by the policy"


def test_find_symbol_lists_definitions_and_uses_and_never_hidden_files(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {**FILES, "secrets/.env.py": "def count():\n    return 'sk-secret'\n"})
    _, tools = tools_for(repo)
    found = tools["find_symbol"](name="Parser.count")
    assert found["definitions"] == ["pkg/big.py:1607: Parser.count: def count(self, text)"]
    assert found["uses"] == ["pkg/use.py:5: return Parser().count(text)"]
    assert "sk-secret" not in str(tools["find_symbol"](name="count"))
    assert "is not a name" in tools["find_symbol"](name="a b")["error"]


def test_replace_symbol_changes_only_its_symbol_and_is_applied_and_undone_as_a_patch(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", FILES)
    runtime, tools = tools_for(repo, approval="auto")
    proposed = tools["replace_symbol"](path="pkg/big.py", name="Parser.parse",
                                       source="def parse(self, text):\n    return [p.strip() for p in text.split(',')]\n")
    assert proposed["files"] == ["pkg/big.py (modified, +1 -1)"]
    assert (repo / "pkg/big.py").read_text() == BIG, "proposing changes nothing"
    assert tools["apply_patch"](patch_id=proposed["patch_id"])["applied"] is True
    after = (repo / "pkg/big.py").read_text()
    assert after == BIG.replace('        return text.split(",")', "        return [p.strip() for p in text.split(',')]")
    undone = tools["undo_patch"](patch_id=proposed["patch_id"])
    assert undone["files"] == ["pkg/big.py"] and (repo / "pkg/big.py").read_text() == BIG
    assert [c.tool for c in runtime.state.history][-3:] == ["replace_symbol", "apply_patch", "undo_patch"]


def test_replace_symbol_refuses_what_would_break_the_file(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", FILES)
    _, tools = tools_for(repo)
    broken = tools["replace_symbol"](path="pkg/big.py", name="Parser.parse", source="def parse(self, text:\n    pass\n")
    assert "is not valid Python" in broken["error"]
    renamed = tools["replace_symbol"](path="pkg/big.py", name="Parser.parse", source="def split(self):\n    pass\n")
    assert "defines 'split', not 'parse'" in renamed["error"]
    elided = tools["replace_symbol"](path="pkg/big.py", name="Parser", source="class Parser:\n    ...\n    # ... rest unchanged\n")
    assert "would delete the code it stands for" in elided["error"]
    same = tools["replace_symbol"](path="pkg/big.py", name="Parser.count",
                                   source="def count(self, text):\n    return len(self.parse(text))\n")
    assert "is the same as it is now" in same["error"]
    assert "policy" in tools["replace_symbol"](path=".env", name="x", source="def x():\n    pass\n")["error"]
    assert (repo / "pkg/big.py").read_text() == BIG


def test_undo_patch_refuses_an_unknown_patch_and_a_file_changed_since(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", FILES)
    _, tools = tools_for(repo, approval="auto")
    assert "no applied patch 'p9'" in tools["undo_patch"](patch_id="p9")["error"]
    proposed = tools["replace_symbol"](path="pkg/use.py", name="run", source="def run(text):\n    return 0\n")
    tools["apply_patch"](patch_id=proposed["patch_id"])
    (repo / "pkg/use.py").write_text("changed by the user\n")
    refused = tools["undo_patch"](patch_id=proposed["patch_id"])
    assert "error" in refused and (repo / "pkg/use.py").read_text() == "changed by the user\n"


def test_undoing_this_sessions_patch_is_not_asked_an_older_one_is_asked_with_its_diff(tmp_path, tools_for):
    """In ask mode a failed fix is undone without a prompt (it puts back what the session itself
    changed); a patch of an earlier session is a write like any other: asked, shown as the diff
    that undoes it, and left alone when refused."""
    from agent_runtime.safety.approval import Approver

    repo = make_repo(tmp_path / "r", FILES)
    asked: list[tuple[str, str, str]] = []

    def person(answer: str):
        def prompt(tool_name, action, decision):
            asked.append((tool_name, action.kind, action.preview.diff() if action.preview else ""))
            return answer, None
        return prompt

    runtime, tools = tools_for(repo)
    runtime.approver = Approver("ask", interactive=True, prompt=person("y"), notice=lambda m: None)
    proposed = tools["replace_symbol"](path="pkg/use.py", name="run", source="def run(text):\n    return 0\n")
    assert tools["apply_patch"](patch_id=proposed["patch_id"])["applied"] is True
    assert [a[0] for a in asked] == ["apply_patch"]
    assert tools["undo_patch"](patch_id=proposed["patch_id"])["undone"] is True
    assert [a[0] for a in asked] == ["apply_patch"], "the session's own patch is undone without asking"
    assert (repo / "pkg/use.py").read_text() == FILES["pkg/use.py"]
    assert runtime.state.history[-1].tool == "undo_patch" and runtime.state.history[-1].error_type is None

    again = tools["replace_symbol"](path="pkg/use.py", name="run", source="def run(text):\n    return 1\n")
    tools["apply_patch"](patch_id=again["patch_id"])
    later, later_tools = tools_for(repo)  # a later session on the same repository (same undo history)
    later.approver = Approver("ask", interactive=True, prompt=person("n"), notice=lambda m: None)
    asked.clear()
    assert again["patch_id"] == "p2" and runtime.journal.session == "s1"
    short = later_tools["undo_patch"](patch_id="p2")  # the later session has no p2: an earlier session's id
    assert "this session has no p2 of its own" in short["error"] and "s1.p2 (patch: pkg/use.py" in short["error"]
    assert asked == [], "a refused id asks nothing"
    refused = later_tools["undo_patch"](patch_id="s1.p2")
    assert [(a[0], a[1]) for a in asked] == [("undo_patch", "write")], "an earlier session's patch is asked"
    assert "-    return 1" in asked[0][2] and "+" in asked[0][2], "the person sees the diff that undoes it"
    assert "error" in refused and "return 1" in (repo / "pkg/use.py").read_text(), "refused: nothing changes"
    later.approver = Approver("ask", interactive=True, prompt=person("y"), notice=lambda m: None)
    assert later_tools["undo_patch"](patch_id="s1.p2")["undone"] is True
    assert (repo / "pkg/use.py").read_text() == FILES["pkg/use.py"]


def test_a_restore_is_judged_for_its_paths_like_a_write(tmp_path, make_runtime):
    """"restore" is allowed only where a write would be: a secret, a path outside, the user's own
    configuration stay denied whatever the kind."""
    from agent_runtime.core import Action

    repo = make_repo(tmp_path / "r", FILES)
    runtime = make_runtime(repo, "ask")
    assert runtime.decide(Action("restore", paths=("pkg/use.py",))).decision == "allow"
    for path in (".env", "../outside.py", ".git/hooks/pre-commit"):
        assert runtime.decide(Action("restore", paths=(path,))).decision == "deny", path
        assert runtime.decide(Action("write", paths=(path,))).decision == "deny", path
