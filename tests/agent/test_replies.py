"""Replies checked before they cost a step: a repeated step gets a retry with a nudge and the
next step suggested; the repeat is not what goes into memory; the suggestion follows the task's
progress."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest
from conftest import BUGGY_PROJECT, make_repo, step, write_replay
from rich.console import Console

from agent_runtime.agent.hints import next_step
from agent_runtime.agent.session import Session
from agent_runtime.cli.display import Display
from agent_runtime.config import load_settings
from agent_runtime.safety.approval import Approver


def step_codes(session) -> list[str]:
    """The code of each step the task took (retried replies never become steps)."""
    return [s.code_action for s in session.agent.memory.steps if getattr(s, "code_action", None)]


READ_AND_FINISH = [step("read", 'print(read_file(path="calc.py"))'), step("done", 'final_answer("read it")')]


def session_for(tmp_path, replies, approval="auto", files=BUGGY_PROJECT, **env):
    repo = make_repo(tmp_path / "p", files)
    replay = write_replay(tmp_path / "r.json", replies)
    settings = load_settings({"MODEL_ID": f"replay:{replay}", "RUNS_DIR": str(tmp_path / "runs"), **env})
    return Session(settings, repo, Approver(approval, interactive=False),
                   Display(console=Console(file=io.StringIO()), out=io.StringIO()))


def text_of(message) -> str:
    content = message.content
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


# A task about the tests that asks for no change: the tests run first, and the model works step by step.
LOOK_AROUND = "What do the tests check? Look around before you answer."


def test_a_repeated_step_is_retried_with_a_suggested_next_step(tmp_path):
    replies = [step("tests", "print(run_tests())"),
               step("tests again", "print(run_tests())"),  # the repeat: retried, never run
               step("read", 'print(read_file(path="calc.py"))'),
               step("done", 'final_answer("read it")')]
    with session_for(tmp_path, replies) as session:
        result = session.run(LOOK_AROUND)
    assert result.status == "answered"
    codes = step_codes(session)
    assert codes == ["print(run_tests())", 'print(read_file(path="calc.py"))', 'final_answer("read it")']
    assert session.agent.repeat_retries == 1
    retry = session.model.requests[2]  # the request after the repeat
    nudge = text_of(retry[-1])
    assert "You already ran exactly this code in step 1" in nudge
    # the repository is small, so its files came with the task, and the task is a question: answer it
    assert 'Suggested next step: You have what the task asks about: answer it now with final_answer(' in nudge
    # the first run_tests is the session's own (a small repository, a task about a failing test)
    assert [s.tool for s in session.runtime.state.history] == ["run_tests", "run_tests", "read_file"]


def test_a_step_written_again_with_its_variables_renumbered_is_a_repeat():
    from agent_runtime.agent.replycheck import normalized

    first = 'p1 = propose_file(path="a.py", content="x = 1")\nprint(apply_patch(patch_id=p1["patch_id"]))'
    again = 'p7 = propose_file(path="a.py",  content="x = 1")\nprint(apply_patch(patch_id=p7["patch_id"]))\n'
    assert normalized(first) == normalized(again)
    assert normalized(first) != normalized(first.replace("x = 1", "x = 2")), "another fix is no repeat"
    assert normalized(first) != normalized(first.replace('patch_id"]', 'id"]'))
    assert normalized("print(read_file(path='a.py'))") != normalized("print(read_file(path='b.py'))")
    assert normalized("print(  (") == normalized("print( (")  # not Python: layout only


def test_a_repeat_that_persists_is_shown_the_step_itself_once_more(tmp_path):
    same = step("tests", "print(run_tests())")
    replies = [same, same, same, step("read", 'print(read_file(path="calc.py"))'), step("done", 'final_answer("x")')]
    with session_for(tmp_path, replies) as session:
        session.run(LOOK_AROUND)
    second_nudge = text_of(session.model.requests[3][-1])
    assert "That is step 1 again" in second_nudge and "final_answer(" in second_nudge


def calls(*records):
    return [SimpleNamespace(tool=t, arguments=a, outcome=o, facts=f) for t, a, o, f in records]


def test_the_suggestion_follows_the_task():
    files = ["shop/cart.py", "shop/pricing.py", "tests/test_cart.py"]
    assert next_step([], files) == "See what fails first: print(run_tests())"
    failing = calls(("run_tests", {}, "ok", {"passed": False}))
    assert next_step(failing, files, "shop/pricing.py:7: in apply_discount") == \
        'Read the code next: print(read_file(path="shop/pricing.py"))'
    read_all = failing + calls(("read_file", {"path": "shop/cart.py"}, "ok", {}),
                               ("read_file", {"path": "shop/pricing.py"}, "ok", {}))
    assert next_step(read_all, files).startswith('You have read the code: fix it now. In one step, write the '
                                                 'corrected shop/pricing.py whole with propose_file(path="shop/pricing.py"')
    proposed = read_all + calls(("propose_patch", {}, "ok", {"patch_id": "p7"}))
    assert next_step(proposed, files) == 'Apply the patch you proposed: print(apply_patch(patch_id="p7"))'
    applied = proposed + calls(("apply_patch", {"patch_id": "p7"}, "ok", {"applied": True}))
    assert next_step(applied, files) == "Your change is applied: run the tests now: print(run_tests())"
    passing = applied + calls(("run_tests", {}, "ok", {"passed": True}))
    assert next_step(passing, files).startswith("The tests pass: finish with final_answer")


def test_a_question_is_answered_not_fixed():
    """A task that asks for an answer: the suggestion reads what it names, then answers; it never
    sends the model to run the tests or change the code (seen with 1.5B: told "run the tests" after
    re-reading the README it was asked to describe, it went on to patch a lock file)."""
    files = ["README.md", "shop/cart.py", "tests/test_cart.py"]
    task = "Read README.md, then say in two sentences what this project is for."
    assert next_step([], files, task=task) == 'Read it next: print(read_file(path="README.md"))'
    read = calls(("read_file", {"path": "README.md"}, "ok", {}))
    assert next_step(read, files, task=task) == \
        'You have what the task asks about: answer it now with final_answer("..."), saying what the text you read says, as the task asks.'
    assert next_step([], files, shown=["README.md"], task="What is this project for?").startswith("You have what")
    why = "Why do the tests fail?"
    assert next_step([], files, task=why) == "See what fails first: print(run_tests())"
    failing = calls(("run_tests", {}, "ok", {"passed": False}))
    assert next_step(failing, files, task=why).startswith("You have what the task asks about")
    # A change is still a change: the fix path as before.
    assert next_step(read, files, task="Add a discount to shop/cart.py") == "See what fails first: print(run_tests())"
    assert next_step(failing, files, task="The tests fail, fix it").startswith("Read the code next")
    assert 'propose_file(path="shop/pricing.py"' in next_step(failing, files, shown=["shop/cart.py", "shop/pricing.py"],
                                                           task="The tests fail, fix it")


def test_a_repeated_read_for_a_question_is_followed_by_an_answer(tmp_path):
    """Through the session: the model reads README.md, then reads it again; the retry suggests the
    answer, and the run ends answered."""
    again = step("readme", 'print(read_file(path="README.md"))')
    replies = [again, again, step("answer", 'final_answer("A calculator.")')]
    with session_for(tmp_path, replies) as session:
        result = session.run("Read README.md, then say in one sentence what this project is for.")
    nudge = text_of(session.model.requests[2][-1])
    assert "final_answer" in nudge and "run_tests" not in nudge.split("Suggested next step:")[-1]
    assert result.status == "answered" and result.answer == "A calculator."


def test_a_question_about_a_named_file_is_told_to_answer_once_it_is_read():
    """A 1.5B model read the first page of a long README, paged on through the rest and answered
    from its last page about something else: once the step has read what the task names, the note
    says the answer is due; once, and never for a change or a failure."""
    from agent_runtime.agent.hints import answer_now

    files = ["README.md", "docs/README.md", "shop/cart.py"]
    task = "Read README.md, then say in two sentences what this project is for."
    read = calls(("read_file", {"path": "README.md", "end_line": 150}, "ok", {}))
    note = answer_now(task, read, read, files)
    assert note.startswith("(You have read README.md.") and 'final_answer("...")' in note
    page_two = calls(("read_file", {"path": "README.md", "start_line": 151}, "ok", {}))
    assert answer_now(task, read + page_two, page_two, files) is None  # said once
    other = calls(("read_file", {"path": "shop/cart.py"}, "ok", {}))
    assert answer_now(task, other, other, files) is None  # not what the task names
    refused = calls(("read_file", {"path": "README.md"}, "refused", {}))
    assert answer_now(task, refused, refused, files) is None
    # A snippet that matched no line showed nothing of the file (1.5B: a pattern with a stray quote).
    missed = calls(("read_file_snippet", {"path": "README.md", "pattern": "'def x"}, "ok", {"matches": 0}))
    assert answer_now(task, missed, missed, files) is None
    assert next_step(missed, files, task=task) == 'Read it next: print(read_file(path="README.md"))'
    found = calls(("read_file_snippet", {"path": "README.md", "pattern": "def x"}, "ok", {"matches": 2}))
    assert answer_now(task, found, found, files).startswith("(You have read README.md.")
    both = "Compare README.md and shop/cart.py: do they agree?"
    assert answer_now(both, read, read, files) is None  # shop/cart.py not read yet
    assert answer_now(both, read + other, other, files).startswith("(You have read README.md, shop/cart.py.")
    assert answer_now("Fix the typo in README.md", read, read, files) is None
    assert answer_now("Why does README.md say the tests fail?", read, read, files) is None
    assert answer_now("What is this project for?", read, read, files) is None  # names no file


def test_the_answer_note_reaches_the_model_with_the_read(tmp_path):
    replies = [step("readme", 'print(read_file(path="README.md"))'),
               step("more", 'print(read_file(path="calc.py"))'),
               step("answer", 'final_answer("A calculator.")')]
    with session_for(tmp_path, replies) as session:
        result = session.run("Read README.md, then say in one sentence what this project is for.")
    after_first, after_second = (text_of(session.model.requests[i][-1]) for i in (1, 2))
    assert "A tiny calculator." in after_first and "(You have read README.md. If that answers the task" in after_first
    assert "You have read README.md" not in after_second
    assert result.status == "answered" and result.answer == "A calculator."
    saved = (session.last_run.dir / "steps.jsonl").read_text()
    assert "You have read README.md" in saved  # what the model saw is what a resumed run sees


BIG_PROJECT = {**{f"pkg/m{i}.py": f"X{i} = {i}\n" for i in range(14)},
               "README.md": "# shop\n\nA shop that sells hats.\n\n" + "".join(f"line {i} of the manual\n" for i in range(400)),
               "NOTES.md": "short notes\n", ".env": "TOKEN=s3cret-value\n"}


@pytest.mark.parametrize("task,shown", [
    ("Read README.md, then say in two sentences what this project is for.", ["README.md"]),
    ("What do README.md and NOTES.md say?", ["README.md", "NOTES.md"]),
    ("What is in .env?", []),  # the policy keeps it from the model: not shown
    ("Add a hats section to README.md", []),  # a change: the model reads what it needs
    ("What does README.md say? @NOTES.md", []),  # attachments are what the person chose to show
])
def test_a_question_about_named_files_comes_with_their_beginning(tmp_path, task, shown):
    """A repository too big to show whole: a question's first message has the beginning of the
    files it names, with how to read on, so the first reply is written knowing them."""
    with session_for(tmp_path, [step("done", 'final_answer("x")')], files=BIG_PROJECT) as session:
        session.run(task)
    first = text_of(session.model.requests[0][-1])
    assert ("What the task names" in first) == bool(shown)
    assert "s3cret-value" not in first
    if "README.md" in shown:
        assert "### README.md\n```markdown\n# shop\n\nA shop that sells hats." in first or \
            "### README.md\n```\n# shop\n\nA shop that sells hats." in first
        lines = int(first.split("(lines 1-")[1].split(" ")[0])
        assert 50 < lines < 404 and f"(lines 1-{lines} of 404 shown)" in first
        assert "line 399 of the manual" not in first
    if "NOTES.md" in shown:
        assert "short notes" in first and "of 1;" not in first
    assert session.task.shown == [n for n in shown if n == "NOTES.md"]  # only what was shown whole


@pytest.mark.parametrize("target", ["outside", ".env"])
def test_a_named_file_that_is_a_symlink_to_a_secret_is_not_shown(tmp_path, target):
    """An attack through the repository: README.md links to a file outside it, or to its .env.
    What the first message shows passes the policy read_file passes: neither is shown."""
    import os

    secret = tmp_path / "outside.txt"
    secret.write_text("OUTSIDE-SECRET-42\n")
    files = {k: v for k, v in BIG_PROJECT.items() if k != "README.md"}
    with session_for(tmp_path, [step("done", 'final_answer("x")')], files=files) as session:
        readme = session.repo / "README.md"
        os.symlink(secret if target == "outside" else session.repo / ".env", readme)
        session.run("Read README.md, then say in two sentences what this project is for.")
    first = text_of(session.model.requests[0][-1])
    assert "OUTSIDE-SECRET-42" not in first and "s3cret-value" not in first
    assert "What the task names" not in first


def test_a_reply_that_did_not_parse_is_not_shown_to_the_model_again(tmp_path):
    garbled = "Thought: patch it\n<code>\nprint(apply_patch(patch_id=')[\"patch_id\"]))\n</code>"
    replies = [garbled, garbled,  # the reply and its format retry: both unparseable, the step fails
               step("read", 'print(read_file(path="calc.py"))'), step("done", 'final_answer("x")')]
    with session_for(tmp_path, replies) as session:
        session.run("Go through calc.py and say what it does.")
    after = "\n".join(text_of(m) for m in session.model.requests[2])
    assert "Thought: patch it" in after and "(this code could not be parsed; it is left out)" in after
    assert "print(apply_patch(patch_id=')" not in after.split("Thought: patch it", 1)[1].split("Error", 1)[0]


@pytest.mark.parametrize("rules", ["", "plain"])
def test_a_small_repository_and_a_failing_test_come_with_the_task(tmp_path, rules):
    """In one completion's words, for every model: the code, the tests read-only, the tests' output."""
    replies = [step("done", 'final_answer("x")')]
    with session_for(tmp_path, replies, AGENT_COACHING=rules) as session:
        session.run("The test test_add fails. Fix it.")
    first = "\n".join(text_of(m) for m in session.model.requests[0])
    assert "def add(a, b):\n    return a - b" in first and "assert -1 == 5" in first
    assert "The code (the fix goes here):" in first and "Running `" in first
    assert [c.tool for c in session.runtime.state.history] == ["run_tests"]


def test_a_question_does_not_run_the_tests(tmp_path):
    replies = [step("done", 'final_answer("it adds")')]
    with session_for(tmp_path, replies) as session:
        session.run("Go through calc.py and say what it does.")
    first = "\n".join(text_of(m) for m in session.model.requests[0])
    assert "def add(a, b)" in first and "run for you" not in first
    assert session.runtime.state.history == []


@pytest.mark.parametrize("task,forced", [("Fix the failing test.", True),
                                         ("test_calc.py fails with AssertionError", True),
                                         ("Why does the test fail?", False),
                                         ("Run the tests.", False)])
def test_a_fix_task_with_everything_shown_starts_with_the_fix(tmp_path, task, forced):
    """Failing tests and a small repository in the prompt: a task asking for a change is asked for the
    fix in the edit form, as one message without the agent's instructions (what one completion
    gets); a question or "run the tests" is not."""
    from agent_runtime.agent.edits import EDIT_ASK
    from agent_runtime.agent.shot import ASK

    with session_for(tmp_path, [step("done", 'final_answer("x")')]) as session:
        session.run(task)
    first = session.model.requests[0]
    assert "assert -1 == 5" in "\n".join(text_of(m) for m in first)  # the tests ran first in both cases
    if forced:  # in one completion's words
        assert len(first) == 1 and text_of(first[0]).startswith(task)
        assert text_of(first[0]).endswith(ASK) and "You are a coding agent" not in text_of(first[0])
    else:
        assert len(first) == 2 and EDIT_ASK not in text_of(first[-1])


def test_the_edit_grammar_is_set_where_a_gbnf_grammar_is_sent():
    """A fix request's grammar is chosen per backend kind (a fallback chain mixes them), and goes
    with that request only: the LiteLLM model sends it, and its own grammar again after."""
    from agent_runtime.agent.codeagent import grammar_chooser
    from agent_runtime.config import load_settings
    from agent_runtime.models.litellm_model import make_litellm_model
    from agent_runtime.tools import tool_classes

    choose = grammar_chooser(list(tool_classes()), 1024, edit=("calc.py",))
    assert 'path ::= "calc.py"' in choose("gbnf-python") and choose("gbnf-python") == choose("gbnf-tools")
    assert choose("none") is None and choose("schema-tools") is None
    assert grammar_chooser(list(tool_classes()), 1024) is None, "no options: the model's own grammar"
    model = make_litellm_model("openai/x", load_settings({}), api_base="http://127.0.0.1:9")
    model.constraint, model.grammar = SimpleNamespace(kind="gbnf-python"), "root ::= \"own\""
    sent = []
    model.client = SimpleNamespace(completion=lambda **kw: sent.append(kw) or (_ for _ in ()).throw(RuntimeError("x")))
    for chooser in (choose, None):
        with pytest.raises(RuntimeError):
            model.generate([{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                           **({"grammar_for": chooser} if chooser else {}))
    assert 'path ::= "calc.py"' in sent[0]["extra_body"]["grammar"] and "grammar_for" not in sent[0]
    assert sent[1]["extra_body"]["grammar"] == 'root ::= "own"', "the next request has the model's own grammar"


def test_a_reply_reading_a_name_nothing_set_is_asked_again_and_never_runs(tmp_path):
    """The 0.5B model ran its cut-off thought into the code: `print(list_all)`, `F.uido`."""
    replies = [step("files", "files = list_files()\nprint(files)"),
               step("all", "print(list_all)"),  # nothing set list_all: asked again, never run
               step("files again", "print(len(files))"),  # `files` is the interpreter's, from step 1
               step("done", 'final_answer(str(len(files)))')]
    with session_for(tmp_path, replies, AGENT_COACHING="+reply_repairs") as session:
        result = session.run("Which files are in this repository?")
    assert result.status == "answered"
    codes = step_codes(session)
    assert codes == ["files = list_files()\nprint(files)", "print(len(files))", "final_answer(str(len(files)))"]
    assert not any(getattr(s, "error", None) for s in session.agent.memory.steps)
    note = text_of(session.model.requests[2][-1])
    assert "Your code reads `list_all`, which neither an earlier step nor this code sets" in note
    assert "The variables there are: files." in note
    assert session.agent.format_retries == 1


@pytest.mark.parametrize("code, unbound", [
    ("print(list_all)", ["list_all"]),
    ("F.uido\n[100]", ["F"]),
    ("x = read_file(path='a')\nprint(x)", []),
    ("print(y)\ny = 1", []),  # bound later in the code: order is not what this catches
    ("for i, line in enumerate(text.splitlines()): print(i, line)", ["text"]),
    ("print([n for n in range(3)])\nimport re\nprint(re.escape('a'))", []),
    ("def f(a, *b, c=1, **d): return a, b, c, d\nprint(f(1))", []),
    ("try:\n    pass\nexcept Exception as e:\n    print(e)", []),
    ("print(old_var, read_file, len)", []),  # a variable of an earlier step, a tool, a builtin
    ("returna -= b", ["returna", "b"]),
    ("n = 0\nn += 1", []),
])
def test_unbound_reads(code, unbound):
    from agent_runtime.agent.replycheck import unbound_reads

    assert unbound_reads(code, {"old_var", "read_file"}) == unbound


@pytest.mark.parametrize("code, found", [
    ('E = -1\nprint(apply_patch(patch_id=E["patch_id"]))', [("E", "E['patch_id']")]),
    ("defadd = 0\nprint(defadd[0])", [("defadd", "defadd[0]")]),
    ("n = None\nprint(n['a'])", [("n", "n['a']")]),
    ('p = propose_file(path="a", content="x")\nprint(p["patch_id"])', []),  # a tool's result
    ("x = 1\nx = read_file(path='a')\nprint(x['content'])", []),  # set to a result too
    ("x = 0\nfor x in range(3): print(x)\nprint(x[0])", []),  # bound another way: not judged
    ("x = 0\nx += 1\nprint(x)", []),
    ("print(old_var['a'])", []),  # an earlier step's variable: its value is not known here
])
def test_items_of_numbers(code, found):
    from agent_runtime.agent.replycheck import subscripted_numbers

    assert subscripted_numbers(code) == found


def test_a_reply_that_reads_an_item_of_a_number_is_asked_again(tmp_path):
    """CI, the 0.5B model at temperature 0 after a test run: `E = -1` (pytest's `E   assert -1 == 5`
    copied) then apply_patch(patch_id=E["patch_id"]), a TypeError. Retried before it runs. (The task is a
    question, whose tools only read: show_patch stands in for apply_patch.)"""
    replies = [step("tests", "print(run_tests())"),
               step("show", 'E = -1\nprint(show_patch(patch_id=E["patch_id"]))'),  # retried
               *READ_AND_FINISH]
    with session_for(tmp_path, replies, AGENT_COACHING="+reply_repairs") as session:
        session.run(LOOK_AROUND)
    codes = step_codes(session)
    assert codes == ["print(run_tests())", 'print(read_file(path="calc.py"))', 'final_answer("read it")']
    note = text_of(session.model.requests[2][-1])
    assert "Your code sets `E` to a number and then reads an item of it (`E['patch_id']`)" in note
    assert not any(getattr(s, "error", None) for s in session.agent.memory.steps)
    assert session.agent.format_retries == 1


def test_a_retry_that_reads_a_name_nothing_set_is_asked_again_too(tmp_path):
    """The repeat retry's reply followed the suggestion half-way: apply_patch(patch_id=p[...])
    with no `p` (seen with the 0.5B model). The task is a question, whose tools only read: show_patch
    stands in for apply_patch."""
    replies = [step("tests", "print(run_tests())"),
               step("tests again", "print(run_tests())"),  # a repeat: retried
               step("show", 'print(show_patch(patch_id=p["patch_id"]))'),  # the retry: no `p`
               *READ_AND_FINISH]
    with session_for(tmp_path, replies, AGENT_COACHING="+reply_repairs") as session:
        session.run(LOOK_AROUND)
    codes = step_codes(session)
    assert codes == ["print(run_tests())", 'print(read_file(path="calc.py"))', 'final_answer("read it")']
    assert "Your code reads `p`" in text_of(session.model.requests[3][-1])
    assert (session.agent.repeat_retries, session.agent.format_retries) == (1, 1)


def test_a_retry_cut_off_by_max_tokens_is_asked_again_in_the_format(tmp_path):
    """Under the Python grammar the 0.5B model's unbound-name retry opened a triple-quoted string and
    never closed it: the reply ran to max_tokens and was cut off. A retry's reply is checked as
    the first one is, so the cut-off reply never costs a step."""
    replies = [step("tests", "print(run_tests())"),
               step("tests again", "print(run_tests())"),  # a repeat: retried
               step("apply", 'print(apply_patch(patch_id=p["patch_id"]))'),  # the retry: no `p`
               'Thought: apply it\n<code>\nprint(apply_patch(patch_id="""\nThis should work as intended.',  # cut off
               step("read", 'print(read_file(path="calc.py"))'),
               step("done", 'final_answer("read it")')]
    with session_for(tmp_path, replies, AGENT_COACHING="+reply_repairs") as session:
        session.run(LOOK_AROUND)
    codes = step_codes(session)
    assert codes == ["print(run_tests())", 'print(read_file(path="calc.py"))', 'final_answer("read it")']
    retry = session.model.requests[4]
    assert "was cut off" in text_of(retry[-1]) and "Reply again in exactly this form" in text_of(retry[-1])
    assert not any("This should work" in text_of(m) for m in retry), "the cut-off reply is not shown again"
    assert (session.agent.repeat_retries, session.agent.format_retries) == (1, 2)
    assert json.loads((session.last_run.dir / "metadata.json").read_text())["parse_errors"] == 0


def test_a_stricter_grammar_holds_for_the_retry_only_and_a_fix_for_its_request_only():
    """The unbound-name retry is held to the variables there are; the request after that is free
    again. A fix request (agent/repair.py, `fix`) has the edit form's grammar and its temperature
    for that request alone: the agent's next step has neither."""
    from smolagents.models import ChatMessage, MessageRole

    from agent_runtime.agent.codeagent import CODE_TAGS
    from agent_runtime.agent.edits import EditRequest
    from agent_runtime.agent.replies import GuardedModel

    texts = iter([step("fix", 'p = propose_file(path="calc.py", content="x = 1\\n")\nprint(newcontent)'),
                  step("fix", 'p = propose_file(path="calc.py", content="x = 1\\n")\nprint(p)'),
                  edit("add() must add.", "calc.py", FIXED_CALC), step("again", "print(run_tests())")])
    temperatures = []
    inner = SimpleNamespace(model_id="m", generate=lambda messages, **kw: temperatures.append(
        kw.get("temperature")) or ChatMessage(role=MessageRole.ASSISTANT, content=next(texts)))
    constrained = []
    model = GuardedModel(inner, "text", CODE_TAGS, check_format=True,
                         grammars=lambda tools, **options: constrained.append(options))
    model.bind(SimpleNamespace(step_number=1, tools=dict.fromkeys(["propose_file", "run_tests"]), task_codes=list,
                               python_executor=SimpleNamespace(variable_names=lambda: {"files"})))
    model.next_step(None)
    reply = model.generate([])
    assert "print(p)" in reply.content
    assert constrained == [{}, {"readable": {"files"}}], "the retry reads only the variables there are"
    fixed = model.fix([], EditRequest(("calc.py",)), "fix after a failed one", 2, temperature=0.7)
    assert "### calc.py" in fixed.content
    assert constrained[2] == {"edit": ("calc.py",), "edit_blocks": None, "edit_changes": None, "edit_explain": True}, \
        "the fix request has the edit form's grammar"
    assert temperatures[2] == 0.7, "the fix's temperature for its request"
    model.generate([])
    assert constrained[3:] == [{}] and temperatures[3] is None, "the fix's grammar and temperature held for it alone"


def edit(explanation: str, path: str, content: str) -> str:
    """A reply in the edit form (agent/edits.py)."""
    return f"{explanation}\n\n### {path}\n```python\n{content}```\n"


FIXED_CALC = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"


def test_after_a_fix_that_fails_its_tests_the_next_reply_is_a_fix_again_sampled_warmer(tmp_path):
    """Best of several tries, judged by the tests: one completion gets one; the agent a new one each step."""
    from agent_runtime.agent.attempts import REFIX_TEMPERATURE
    from agent_runtime.agent.edits import EDIT_ASK

    replies = [edit("add() subtracts.", "calc.py", FIXED_CALC.replace("a + b", "a ** b")),  # the tests still fail: undone
               edit("add() must add.", "calc.py", FIXED_CALC)]  # from the file as first shown; passes and finishes
    with session_for(tmp_path, replies, AGENT_COACHING="+temperature_bumps,-function_retries") as session:
        required = []
        fix = session.agent.model.fix  # each fix request the repair loop makes (agent/repair.py)
        session.agent.model.fix = lambda messages, request, why, step, temperature=None: required.append(
            (request.paths, temperature)) or fix(messages, request, why, step, temperature=temperature)
        result = session.run("test_calc.py fails: fix calc.py.")
    assert result.status == "answered" and result.steps == 2
    assert result.answer == "The tests pass. add() must add."
    assert (session.repo / "calc.py").read_text() == FIXED_CALC
    assert required == [(("calc.py",), None), (("calc.py",), REFIX_TEMPERATURE)], \
        "only the code, not its tests; warmer after the failed fix"
    assert session.model.temperatures == [None, REFIX_TEMPERATURE]
    # The new attempt starts from the first request's words and a note; it does not see the failed one.
    from agent_runtime.agent.shot import shot_context

    first, fresh = session.model.requests
    assert len(fresh) == 1 and text_of(fresh[0]).startswith(shot_context(text_of(first[0])))
    note = text_of(fresh[0]).removeprefix(shot_context(text_of(first[0])))
    assert note.lstrip().startswith("Attempt 1 did not work: it changed calc.py and the tests still failed (1 failed, 1 passed")
    assert "E       assert 8 == 5" in note and "That change is undone." in note and "Write a different fix" in note
    assert "a ** b" not in note and note.endswith(EDIT_ASK)
    assert [e.undone for e in session.runtime.journal.history()] == ["undo", None], "the failed change was undone"
    codes = step_codes(session)
    assert "-    return a - b\n+    return a + b\n" in codes[1], "the second attempt's change, from the file as shown"
    # A fix that loops costs a minute (ten times the first run, on a loaded machine; never the task's whole time).
    runs = [c for c in session.runtime.state.history if c.tool == "run_tests"][1:]  # the attempts' (not the first run)
    assert len(runs) == 2 and all(60 <= int(c.arguments["timeout"]) <= 300 for c in runs), \
        [c.arguments for c in runs]


def test_a_refused_proposal_is_a_failed_fix_and_a_question_never_gets_one():
    from agent_runtime.agent.outcomes import fix_failed

    def call(tool, outcome="ok", **facts):
        return SimpleNamespace(tool=tool, arguments={}, outcome=outcome, facts=facts)

    assert fix_failed([call("propose_file", "error")])
    assert fix_failed([call("propose_patch"), call("apply_patch"), call("run_tests", passed=False)])
    assert not fix_failed([call("propose_patch"), call("apply_patch"), call("run_tests", passed=True)])
    assert not fix_failed([call("propose_patch"), call("apply_patch")]), "not tested yet: run the tests first"
    assert not fix_failed([call("read_file"), call("run_tests", passed=False)])
    assert not fix_failed([call("propose_file", "error"), call("propose_file"), call("apply_patch")])
    a, b = {"path": "a.py"}, {"path": "b.py"}
    assert fix_failed([SimpleNamespace(tool="propose_file", arguments=a, outcome="ok", facts={}),
                       SimpleNamespace(tool="propose_file", arguments=b, outcome="error", facts={}),
                       call("apply_patch")]), "half a fix applied is a failed attempt"
    assert not fix_failed([SimpleNamespace(tool="propose_file", arguments=b, outcome="error", facts={}),
                           SimpleNamespace(tool="propose_file", arguments=b, outcome="ok", facts={}),
                           call("apply_patch")]), "put right within the step"


def test_a_fix_with_one_file_refused_is_undone_whole_and_attempted_afresh(tmp_path):
    """The first reply changes add (calc.py) and double (util.py): the person approves calc.py's
    patch and refuses util.py's, telling the model why. calc.py's change that did go in is undone
    (once, without asking), the person's words reach the next request, which is a new attempt that
    does not say the tests failed (they never ran) or that the change stays."""
    from agent_runtime.safety.approval import Approver as Asking

    util = "def double(x):\n    return 2 * x\n\n\ndef half(x):\n    return x / 2\n"
    files = {**BUGGY_PROJECT, "util.py": util}
    asked = []

    def person(tool_name, action, decision):
        asked.append((tool_name, action.paths))
        return ("m", "leave util.py alone") if "util.py" in action.paths else ("y", None)

    # one block, two files: add goes into calc.py, double into util.py (by name)
    replies = ["add() subtracts.\n\n```python\ndef add(a, b):\n    return a + b\n\n\ndef double(x):\n    return x + x\n```\n",
               edit("add() must add.", "calc.py", FIXED_CALC)]
    repo = make_repo(tmp_path / "p", files)
    replay = write_replay(tmp_path / "r.json", replies)
    settings = load_settings({"MODEL_ID": f"replay:{replay}", "RUNS_DIR": str(tmp_path / "runs")})
    with Session(settings, repo, Asking("ask", interactive=True, prompt=person, notice=lambda m: None),
                 Display(console=Console(file=io.StringIO()), out=io.StringIO())) as session:
        result = session.run("test_calc.py fails: fix calc.py.")
    assert result.status == "answered" and result.steps == 2, result
    assert (repo / "util.py").read_text() == util
    assert (repo / "calc.py").read_text() == FIXED_CALC
    assert asked == [("apply_patch", ("calc.py",)), ("apply_patch", ("util.py",)), ("apply_patch", ("calc.py",))], \
        "the undo of the session's own patch is not asked"
    history = session.runtime.journal.history()
    assert [e.undone for e in history] == ["undo", None], "the half-applied attempt was undone"
    undos = [c for c in session.runtime.state.history if c.tool == "undo_patch"]
    assert [(c.arguments["patch_id"], c.outcome) for c in undos] == [("p1", "ok")], "undone once, and that went well"
    assert "Could not undo" not in session.display.console.file.getvalue()
    note = text_of(session.model.requests[1][0])
    assert "Attempt 1 did not work" in note and "They said: leave util.py alone" in note
    assert "What it changed (calc.py) is undone." in note
    assert "tests still fail" not in note and "The change stays" not in note, note[-1500:]


def test_a_fix_names_the_code_not_its_tests():
    from agent_runtime.agent.tasks import fix_targets

    assert fix_targets(["README.md", "shop/cart.py", "tests/test_cart.py", "conftest.py", "app_test.py"]) == \
        ("shop/cart.py",)
    assert fix_targets(["notes.txt"]) == ("notes.txt",), "no code shown: any file shown"


def test_a_file_written_back_unchanged_is_no_change_and_the_next_attempt_is_told_so_warmer(tmp_path):
    """The 1.5B model often copies the file it was shown: that is no fix, so nothing is proposed or
    tested; it is asked again in the same attempt, told the code it wrote is the code as it is, warmer."""
    from agent_runtime.agent.attempts import REFIX_TEMPERATURE
    from agent_runtime.agent.edits import NAMED_UNCHANGED

    replies = [edit("Nothing to change.", "calc.py", BUGGY_PROJECT["calc.py"]),  # the file as it is
               edit("add() must add.", "calc.py", FIXED_CALC)]
    with session_for(tmp_path, replies, AGENT_COACHING="+temperature_bumps") as session:
        result = session.run("Fix the failing test.")
    assert result.status == "answered" and result.steps == 1, "asked again in the same attempt"
    tools = [c.tool for c in session.runtime.state.history]
    assert tools == ["run_tests", "propose_file", "apply_patch", "run_tests"], "the copy was not proposed or tested"
    assert session.model.temperatures == [None, REFIX_TEMPERATURE]
    note = text_of(session.model.requests[1][-1])
    assert note == NAMED_UNCHANGED and "Attempt 1" not in note, note[-1200:]
    assert (session.repo / "calc.py").read_text() == FIXED_CALC


def test_each_llm_span_names_the_temperature_its_request_was_sampled_at(tmp_path):
    """A fix after a failed one (0.7) and a retry (0.5) are sampled warmer than the model's setting:
    the trace says what each request was made with, not the model's default, and why it was made."""
    from agent_runtime.agent.attempts import REFIX_TEMPERATURE
    from agent_runtime.agent.replies import RETRY_TEMPERATURE

    replies = [edit("Nothing to change.", "calc.py", BUGGY_PROJECT["calc.py"]),  # no change: asked again
               edit("add() must multiply.", "calc.py", FIXED_CALC.replace("a + b", "a * b")),  # fails: refix
               edit("add() must add.", "calc.py", FIXED_CALC),
               # a question next: a repeated step is asked again (repeat_retry), warmer
               step("readme", 'print(read_file(path="README.md"))'),
               step("read", 'print(read_file(path="calc.py"))'), step("read", 'print(read_file(path="calc.py"))'),
               step("done", 'final_answer("it adds")')]
    with session_for(tmp_path, replies, MODEL_TEMPERATURE="0.1",
                     AGENT_COACHING="+temperature_bumps,-function_retries") as session:
        assert session.run("Fix the failing test.").status == "answered"
        assert session.run("What does calc.py do? Look before you answer.").status == "answered"
    spans = [json.loads(line) for run in (tmp_path / "runs").iterdir()
             for line in (run / "trace.jsonl").read_text().splitlines()]
    llm = sorted((s for s in spans if s["attributes"].get("openinference.span.kind") == "LLM"),
                 key=lambda s: s["start_time"])
    sampled = [json.loads(s["attributes"]["llm.invocation_parameters"]).get("temperature") for s in llm]
    assert sampled[1:3] == [REFIX_TEMPERATURE, REFIX_TEMPERATURE], sampled
    assert sampled[0] in (None, 0.1) and set(sampled[3:6]) <= {None, 0.1} and sampled[6] == RETRY_TEMPERATURE, sampled
    # and why each request was made, with the coaching rule that shaped it
    refix = "fix after a failed one, from one completion's words (fresh_restart)"
    again = "fix asked as one completion, asked again: the reply changed nothing"
    assert [s["attributes"]["agent_runtime.request"] for s in llm][:7] == [
        "fix asked as one completion", again, refix, "step", "step", "step", "retry (repeat_retry): repeats step 2"]


def test_the_first_step_of_a_task_after_a_fix_is_a_step_a_repeat_of_it_is_checked_against(tmp_path):
    """The repair loop's patches (a fix task) are in the history before the next task's first step:
    that step changed no file, so running its code again is a repeat like any other."""
    replies = [edit("add() must add.", "calc.py", FIXED_CALC),
               step("read", 'print(read_file(path="calc.py"))'), step("read", 'print(read_file(path="calc.py"))'),
               step("done", 'final_answer("it adds")')]
    with session_for(tmp_path, replies) as session:
        assert session.run("Fix the failing test.").status == "answered"
        assert session.run("What does calc.py do? Look before you answer.").status == "answered"
    assert session.agent.repeat_retries == 1
    assert step_codes(session)[1:] == ['print(read_file(path="calc.py"))', 'final_answer("it adds")']


def test_a_refused_fix_is_tried_afresh_with_the_reason(tmp_path):
    """No code from a reply runs: a reply in the agent's own form is no fix. A fix one of whose
    files is refused (util.py cut short, its functions gone) is not applied in part: nothing of it
    goes in, and the next attempt is told why."""
    util = "def double(x):\n    return 2 * x\n\n\ndef half(x):\n    return x / 2\n"
    files = {**BUGGY_PROJECT, "util.py": util}
    own_form = step("fix", 'p = propose_file(path="calc.py", content="def add(a, b):\\n    return a + b\\n")\n'
                           'print(apply_patch(patch_id=p["patch_id"]))')
    replies = [own_form, own_form,  # the first request's reply, and its one re-ask
               edit("add() subtracts.", "calc.py", FIXED_CALC) + '### util.py\n```python\n"""Helpers."""\n```\n',
               edit("add() must add.", "calc.py", FIXED_CALC)]
    with session_for(tmp_path, replies, files=files) as session:
        result = session.run("test_calc.py fails: fix calc.py.")
    assert result.status == "answered" and result.steps == 3, result
    calls = [(c.tool, c.outcome) for c in session.runtime.state.history]
    assert calls == [("run_tests", "ok"),  # the first run, before the first request; the own form: nothing
                     ("propose_file", "ok"), ("propose_file", "error"),  # calc.py, util.py refused: nothing applied
                     ("propose_file", "ok"), ("apply_patch", "ok"), ("run_tests", "ok")], calls
    assert [e.undone for e in session.runtime.journal.history()] == [None], "only the passing fix went in"
    assert "Attempt 1 did not work: it changed no file." in text_of(session.model.requests[2][-1])
    note = text_of(session.model.requests[3][-1])
    assert "Attempt 2 did not work: propose_file refused it: content would delete double, half from util.py. " \
           "Nothing was changed." in note and "tests still failed" not in note
    assert (session.repo / "util.py").read_text() == util
    assert (session.repo / "calc.py").read_text() == FIXED_CALC


@pytest.mark.parametrize("restart", [True, False])
def test_a_reply_with_no_file_and_no_code_gets_one_reminder(tmp_path, restart):
    """A reply with neither a file nor code changed nothing: it is asked again in the same attempt,
    reminded of the form (with or without fresh restarts alike), and not told that a change failed."""
    from agent_runtime.agent.edits import NAMED_REMINDER

    replies = ["calc.py is wrong, add() should add.",  # neither a file nor code: reminded once
               edit("add() must add.", "calc.py", FIXED_CALC)]
    with session_for(tmp_path, replies, AGENT_COACHING="-function_retries" if restart else "-fresh_restart") as session:
        result = session.run("Fix the failing test.")
    assert result.status == "answered" and result.steps == 1
    assert [c.tool for c in session.runtime.state.history] == ["run_tests", "propose_file", "apply_patch", "run_tests"]
    nudge = text_of(session.model.requests[1][-1])
    assert nudge == NAMED_REMINDER, nudge[-1200:]
    assert "tests still fail" not in nudge and "The change stays" not in nudge, nudge[-1200:]
    assert (session.repo / "calc.py").read_text() == FIXED_CALC


def test_a_fix_cannot_write_the_tests_and_an_unusable_attempt_is_tried_again(tmp_path):
    """Tests written in the reply are never put into code: a reply of tests alone changes nothing,
    is asked again once, and then the next request is a fresh attempt that says so."""
    tests_only = edit("The test is wrong.", "test_calc.py", "def test_add():\n    pass\n")
    replies = [tests_only, tests_only, edit("add() must add.", "calc.py", FIXED_CALC)]
    with session_for(tmp_path, replies) as session:
        result = session.run("Fix the failing test.")
    assert result.status == "answered" and result.steps == 2
    assert "Attempt 1 did not work: it changed no file." in text_of(session.model.requests[2][-1])
    proposed = [c.arguments.get("path") for c in session.runtime.state.history if c.tool.startswith("propose")]
    assert proposed == ["calc.py"], "the tests were never proposed"
    assert (session.repo / "test_calc.py").read_text() == BUGGY_PROJECT["test_calc.py"]


def test_a_file_the_task_says_to_keep_is_not_a_fix_target():
    """The 1.5B model rewrote the "new API" the task said must not change."""
    from agent_runtime.agent.tasks import fix_targets

    files = ["basket.py", "checkout.py", "importer.py", "tests/test_checkout.py"]
    task = ("Since the Basket refactor, tests/test_checkout.py fails with AttributeError. basket.py is the new "
            "API and must not change; fix the code that uses it so the tests pass. Leave the tests alone.")
    assert fix_targets(files, task) == ("checkout.py", "importer.py")
    assert fix_targets(files, "Fix basket.py so that the tests pass.") == ("basket.py", "checkout.py", "importer.py")
    assert fix_targets(files, "Don't touch checkout.py or importer.py; fix it.") == ("basket.py",)
    assert fix_targets(["a.py"], "a.py must not change.") == ("a.py",), "never nothing to fix"
    assert fix_targets(["mybasket.py", "basket.py"], "basket.py must not change") == ("mybasket.py",)


def test_a_new_attempt_asked_for_at_the_step_limit_does_not_reach_the_next_task(tmp_path):
    from agent_runtime.agent.attempts import REFIX_TEMPERATURE

    replies = [edit("add() must multiply.", "calc.py", FIXED_CALC.replace("a + b", "a * b")),
               step("answer", 'final_answer("it adds")')]
    with session_for(tmp_path, replies, AGENT_MAX_STEPS="1", AGENT_COACHING="+temperature_bumps") as session:
        assert session.run("Fix the failing test.").status == "step_limit"
        assert session.attempts._pending.temperature == REFIX_TEMPERATURE  # asked for, never made
        session.run("Go through calc.py and say what it does.")
    assert session.model.temperatures == [None, None]
    assert "Attempt 1" not in text_of(session.model.requests[1][-1])


def test_a_bigger_repository_shows_the_files_the_failure_involves_and_runs_only_the_named_tests(tmp_path):
    """Too many files to show whole: the tests the task names run first (not a whole suite), and the
    files the failure involves (named in the output, imported by the test) stand in for the repository."""
    from agent_runtime.agent.edits import EDIT_ASK

    files = {f"tools/util_{i}.py": f"def helper_{i}():\n    return {i}\n" for i in range(14)}
    files.update({
        "shop/__init__.py": "",
        "shop/pricing.py": "def discount(price, percent):\n    return price * (1 - percent)\n",
        "tests/test_pricing.py": "from shop.pricing import discount\n\n\ndef test_discount():\n"
                                 "    assert discount(80.0, 25) == 60.0\n",
        "tests/test_other.py": "def test_slow():\n    assert True\n",
    })
    repo = make_repo(tmp_path / "big", files)
    fixed = "def discount(price, percent):\n    return price * (1 - percent / 100)\n"
    replay = write_replay(tmp_path / "r.json", [edit("percent is a fraction of 100.", "shop/pricing.py", fixed)])
    settings = load_settings({"MODEL_ID": f"replay:{replay}", "RUNS_DIR": str(tmp_path / "runs")})
    with Session(settings, repo, Approver("auto", interactive=False),
                 Display(console=Console(file=io.StringIO()), out=io.StringIO())) as session:
        result = session.run("tests/test_pricing.py fails: fix it.")
    assert result.status == "answered" and (repo / "shop/pricing.py").read_text() == fixed
    (request,) = session.model.requests[0]
    text = text_of(request)
    assert "-m pytest -q --tb=short tests/test_pricing.py" in text and text.endswith(EDIT_ASK)
    assert "The files the failure involves" in text and "### shop/pricing.py\n```python\ndef discount" in text
    assert "def helper_3" not in text, "not the whole repository"
    runs = [c.arguments.get("command") or "" for c in session.runtime.state.history if c.tool == "run_tests"]
    assert len(runs) == 2 and all(r.endswith("-m pytest -q --tb=short tests/test_pricing.py") for r in runs), \
        "the fix is checked with the same tests"


def test_a_follow_up_fix_is_told_the_conversation_s_earlier_tasks_and_answers(tmp_path):
    """A fix request is one completion's, which does not see the conversation: a follow-up that refers
    to earlier work ("as you said") is told the earlier tasks and their answers before its own."""
    fix = "add subtracts.\n\n```python\ndef add(a, b):\n    return a + b\n```\n"
    replies = [step("done", 'final_answer("add() subtracts")'), fix]
    with session_for(tmp_path, replies) as session:
        session.run("Go through calc.py and say what it does.")
        result = session.run("Now fix the failing test as you said.")
    second = "\n".join(text_of(m) for m in session.model.requests[1])
    assert "- The task: Go through calc.py and say what it does.\n  Your answer: add() subtracts" in second, second
    assert result.status == "answered" and "a + b" in (session.repo / "calc.py").read_text()


def test_a_fix_in_a_big_file_is_asked_for_as_changed_lines_and_applied_as_one_diff(tmp_path):
    """A library module too big to show whole: the failing test's code and the function it runs are
    shown under their headings, the fix is asked for as SEARCH/REPLACE lines, and what is applied
    changes those lines only (the rest of the file byte for byte)."""
    from agent_runtime.agent.edits import CHANGES_ASK

    filler = "".join(f"\n\ndef helper_{i}(value):\n    \"\"\"Helper {i}.\"\"\"\n    return value + {i}\n"
                     for i in range(40))
    core = ("class Parser:\n    def parse(self, text):\n        words = []\n        for word in text.split(\" \"):\n"
            "            if word:\n                words.append(word)\n        return words[1:]\n" + filler)
    files = {f"tools/util_{i}.py": f"def util_{i}():\n    return {i}\n" for i in range(14)}
    files |= {"pkg/__init__.py": "", "pkg/core.py": core,
             "tests/test_core.py": "from pkg.core import Parser\n\n\ndef test_parse():\n"
                                   "    assert Parser().parse(\"a b\") == [\"a\", \"b\"]\n"}
    repo = make_repo(tmp_path / "big", files)
    reply = ("parse drops the first word.\n\n### pkg/core.py::Parser.parse\n```python\n<<<<<<< SEARCH\n"
             "        return words[1:]\n=======\n        return words\n>>>>>>> REPLACE\n```\n")
    replay = write_replay(tmp_path / "r.json", [reply])
    settings = load_settings({"MODEL_ID": f"replay:{replay}", "RUNS_DIR": str(tmp_path / "runs")})
    with Session(settings, repo, Approver("auto", interactive=False),
                 Display(console=Console(file=io.StringIO()), out=io.StringIO())) as session:
        result = session.run("tests/test_core.py::test_parse fails: fix it.")
    assert result.status == "answered"
    assert (repo / "pkg/core.py").read_text() == core.replace("return words[1:]", "return words")
    text = text_of(session.model.requests[0][0])
    assert text.endswith(CHANGES_ASK) and "### pkg/core.py::Parser.parse\n```python\n    def parse" in text
    assert "def helper_30" not in text, "not the whole module"
    assert text.count("        return words[1:]") == 1, "the class around the method is not shown again"
    assert "pkg/core.py::Parser.parse (its only call): returned ['b'] at line 7 `return words[1:]`" in text
    assert "    words = ['a', 'b']" in text, "what its variables held in the failing test"
    tools = [c.tool for c in session.runtime.state.history]
    assert "propose_patch_unified" in tools and "replace_symbol" not in tools


def big_module_repo(tmp_path, test_source: str):
    filler = "".join(f"\n\ndef helper_{i}(value):\n    return value + {i}\n" for i in range(60))
    core = ("class Parser:\n    def parse(self, text):\n        words = text.split()\n        return words[1:]\n"
            + filler)
    files = {f"tools/util_{i}.py": f"def util_{i}():\n    return {i}\n" for i in range(14)}
    files |= {"pkg/__init__.py": "", "pkg/core.py": core, "tests/test_core.py": test_source}
    return make_repo(tmp_path / "big", files), core


FIX_PARSE = ("parse drops the first word.\n\n### pkg/core.py::Parser.parse\n```python\n<<<<<<< SEARCH\n"
             "        return words[1:]\n=======\n        return words\n>>>>>>> REPLACE\n```\n")


def fix_parse(tmp_path, repo, reply=FIX_PARSE):
    """The task `test_parse fails`, answered by `reply`."""
    replay = write_replay(tmp_path / "r.json", [reply])
    settings = load_settings({"MODEL_ID": f"replay:{replay}", "RUNS_DIR": str(tmp_path / "runs")})
    with Session(settings, repo, Approver("auto", interactive=False),
                 Display(console=Console(file=io.StringIO()), out=io.StringIO())) as session:
        return session.run("tests/test_core.py::test_parse fails: fix it."), session


def test_a_fix_is_judged_by_its_file_with_the_tests_that_failed_before_left_out(tmp_path):
    tests = ("import time\n\nfrom pkg.core import Parser\n\n\ndef test_parse():\n    assert Parser().parse('a b') == ['a', 'b']\n\n\n"
             "def test_broken_before():\n    assert False\n\n\ndef test_other():\n    assert Parser().parse('') == []\n")
    repo, core = big_module_repo(tmp_path, tests)
    result, session = fix_parse(tmp_path, repo)
    assert result.status == "answered"
    runs = [c.arguments.get("command") or "" for c in session.runtime.state.history if c.tool == "run_tests"]
    assert runs[-1].endswith("tests/test_core.py --deselect tests/test_core.py::test_broken_before"), runs


def test_a_slow_test_file_is_not_run_before_the_first_request(tmp_path, monkeypatch):
    """The run of the failing test's whole file, before the model is asked anything, has a short
    limit: past it, the failing tests alone judge a fix."""
    from agent_runtime.agent import testplan

    monkeypatch.setattr(testplan, "WIDER_FIRST_S", 2)
    tests = ("import time\n\nfrom pkg.core import Parser\n\n\ndef test_parse():\n    assert Parser().parse('a b') == ['a', 'b']\n\n\n"
             "def test_slow():\n    time.sleep(8)\n")
    repo, core = big_module_repo(tmp_path, tests)
    result, session = fix_parse(tmp_path, repo)
    assert result.status == "answered" and (repo / "pkg/core.py").read_text() != core
    calls = [c for c in session.runtime.state.history if c.tool == "run_tests" and not c.arguments.get("values")]
    assert [c.arguments.get("timeout") for c in calls][:2] == [None, testplan.spectrum_timeout()], \
        "the file's run (traced for the suspects) is cut short"
    assert calls[1].arguments.get("suspects") and testplan.spectrum_timeout() <= 3
    assert all(c.arguments["command"].endswith("::test_parse") for c in calls[2:]), \
        "after the fix only the failing test runs"
    assert result.answer.startswith("The failing tests pass (`") and "::test_parse`); no other tests were run." \
        in result.answer, "the answer does not claim the suite passed"


def test_a_test_file_too_slow_to_run_on_each_fix_leaves_the_failing_tests_class_to_judge_it(tmp_path, monkeypatch):
    """pyparsing's test file was too slow to run before the first request, so its failing test alone
    judged a fix: one broke 44 tests of the same class and the agent said the tests pass. The class
    runs instead: a fix that breaks its neighbour there is no fix; the right one is."""
    from agent_runtime.agent import testplan

    # the file's 8 s test is past it; the class's run, a second or two on a busy machine, is within it
    monkeypatch.setattr(testplan, "WIDER_FIRST_S", 5)
    tests = ("import time\n\nfrom pkg.core import Parser\n\n\nclass TestParse:\n"
             "    def test_parse(self):\n        assert Parser().parse('a b') == ['a', 'b']\n\n"
             "    def test_empty(self):\n        assert Parser().parse('') == []\n\n"
             "    def test_broken_before(self):\n        assert False\n\n\n"
             "class TestSlow:\n    def test_slow(self):\n        time.sleep(8)\n")
    breaking = FIX_PARSE.replace("        return words\n", "        return ['a', 'b']\n")
    for reply, solved in ((breaking, False), (FIX_PARSE, True)):
        repo, core = big_module_repo(tmp_path / str(solved), tests)
        replay = write_replay(tmp_path / f"r{solved}.json", [reply, "Thought: I stop.\n<code>\nfinal_answer('no fix')\n</code>"])
        settings = load_settings({"MODEL_ID": f"replay:{replay}", "RUNS_DIR": str(tmp_path / "runs"),
                                  "AGENT_MAX_STEPS": "2"})
        with Session(settings, repo, Approver("auto", interactive=False),
                     Display(console=Console(file=io.StringIO()), out=io.StringIO())) as session:
            result = session.run("tests/test_core.py::TestParse::test_parse fails: fix it.")
        runs = [c.arguments.get("command") or "" for c in session.runtime.state.history
                if c.tool == "run_tests" and not c.arguments.get("values") and not c.arguments.get("suspects")]
        assert runs[-1].endswith("tests/test_core.py::TestParse --deselect tests/test_core.py::TestParse::test_broken_before"), runs
        assert not any(r.endswith("tests/test_core.py") for r in runs), "the slow file is not run whole"
        if solved:
            assert result.status == "answered" and (repo / "pkg/core.py").read_text() != core
            assert "::TestParse::test_parse`), and so does `" in result.answer
            assert "test_broken_before`; the rest of the suite was not run." in result.answer, result.answer
        else:
            assert (repo / "pkg/core.py").read_text() == core, "the fix that broke test_empty is undone"
            assert result.answer != "The tests pass." and "The tests pass" not in (result.answer or "")


def test_a_fix_in_a_function_only_the_traced_run_leads_to(tmp_path):
    """Parser.parse calls its handlers through a table: no name, traceback or static call leads to
    `_words`, where the bug is. The failing tests' file, run traced, does: `_words` is shown and
    can be written back; the reply that fixes it solves the task."""
    filler = "".join(f"\n\ndef helper_{i}(value):\n    return value + {i}\n" for i in range(60))
    core = ("def _words(text):\n    return text.split()[1:]\n\n\ndef _chars(text):\n    return list(text)\n\n\n"
            "HANDLERS = {'words': _words, 'chars': _chars}\n\n\n"
            "class Parser:\n    def __init__(self, kind='words'):\n        self.kind = kind\n\n"
            "    def parse(self, text):\n        handler = HANDLERS[self.kind]\n        return handler(text)\n" + filler)
    tests = ("from pkg.core import Parser\n\n\ndef test_chars():\n    assert Parser('chars').parse('ab') == ['a', 'b']\n\n\n"
             "def test_empty():\n    assert Parser('chars').parse('') == []\n\n\n"
             "def test_parse():\n    assert Parser().parse('a b') == ['a', 'b']\n")
    files = {f"tools/util_{i}.py": f"def util_{i}():\n    return {i}\n" for i in range(14)}
    files |= {"pkg/__init__.py": "", "pkg/core.py": core, "tests/test_core.py": tests}
    repo = make_repo(tmp_path / "big", files)
    fix = ("_words drops the first word.\n\n### pkg/core.py::_words\n```python\n<<<<<<< SEARCH\n"
           "    return text.split()[1:]\n=======\n    return text.split()\n>>>>>>> REPLACE\n```\n")
    result, session = fix_parse(tmp_path, repo, fix)
    (request,) = session.model.requests[0]
    assert result.status == "answered", result
    assert (repo / "pkg/core.py").read_text() == core.replace("text.split()[1:]", "text.split()")
    assert "### pkg/core.py::_words\n```python\ndef _words(text):" in text_of(request)
    suspects = [c for c in session.runtime.state.history if c.tool == "run_tests" and c.arguments.get("suspects")]
    assert len(suspects) == 1 and suspects[0].arguments["suspects"] == "tests/test_core.py::test_parse"


def test_a_failing_tests_class_is_found_from_its_id(tmp_path):
    from agent_runtime.agent.testplan import class_of_test, plan_tests

    assert class_of_test("tests/t.py::TestA::test_x[a::b]") == "tests/t.py::TestA"
    assert class_of_test("tests/t.py::test_x[a::b]") == "tests/t.py::test_x[a::b]"
    repo = make_repo(tmp_path / "p", {"tests/t.py": "def test_x():\n    pass\n", "pyproject.toml": "[tool.pytest.ini_options]\n"})
    files = ["pyproject.toml", "tests/t.py"]
    plan = plan_tests("tests/t.py::TestA::test_x and tests/t.py::test_y fail", files, repo, small=False)
    assert plan.classes.endswith("tests/t.py::TestA tests/t.py::test_y"), plan
    assert plan_tests("tests/t.py::test_y fails", files, repo, small=False).classes is None, "no class: the file is next"
