"""Question tasks (evals/kinds/): a question about the code, judged by the agent's final answer
(`answer`: regexes that must all match) instead of a check command. Each question's reference
answer passes and blank, generic, wrong and shotgun answers do not; the suite loader takes the
new field and keeps the old format; the runner marks a right answer solved and a wrong one, or
a right one from an agent that edited the code, unsolved."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import run_cli, step, write_replay

from agent_runtime.eval.suite import SuiteError, load_suite
from agent_runtime.eval.task import answer_misses

EVALS = Path(__file__).resolve().parents[2] / "evals"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


QUESTIONS = [task for task in read_jsonl(EVALS / "kinds" / "tasks.jsonl") if task["kind"] == "question"]
REFERENCE = {entry["id"]: entry for entry in read_jsonl(EVALS / "kinds" / "solutions.jsonl")}
IDS = [task["id"] for task in QUESTIONS]

# Answers a careless reader would give (a stale doc, a neighbouring value, the wrong policy).
WRONG = {
    "question-cache-ttl": ["600 seconds (ten minutes), see README.md and shop/settings.py",
                           "120 seconds, set in shop/settings.py", "15, in shop/settings.py"],
    "question-database-path": ["LEDGER_DATABASE; otherwise ~/ledger.db",
                               "LEDGER_DB; otherwise ~/.cache/ledger/ledger.sqlite3",
                               "XDG_DATA_HOME, ~/.local/share/ledger/ledger.db"],
    "question-exit-status": ["78, from ConfigError", "64 (UsageError)", "NoInput, status EX_BASE + 2",
                             "1, TallyError"],
    "question-utc-conversion": ["utc_now in events/timeutil.py; it assumes UTC",
                                "to_storage_time in events/records.py, assuming UTC+5",
                                "to_display_time in events/timeutil.py, UTC-5",
                                "to_storage_time in events/timeutil.py; it assumes the local time of the site"],
    "question-retry-waits": ["3 calls, 2 seconds in all (0.5 + 1.5)", "4 calls, 16.5 seconds",
                             "5 calls, 28 seconds (0.5 + 1.5 + 4.5 + 13.5 + ...)", "five times"],
}


def shotgun(task: dict) -> str:
    """Every path, name and number in the repository, in one answer."""
    text = "\n".join(task["files"].values())
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)) | set(re.findall(r"-?\d+(?:\.\d+)?", text))
    return " ".join([*task["files"], *sorted(words)])


def test_five_questions_with_their_references():
    assert len(QUESTIONS) >= 5 and set(IDS) <= set(REFERENCE) and set(IDS) == set(WRONG)


@pytest.mark.parametrize("task", QUESTIONS, ids=IDS)
def test_question_schema(task):
    assert set(task) == {"id", "prompt", "files", "setup", "check", "timeout_s", "protected", "kind", "answer"}
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", task["id"])
    assert task["check"] is None and task["setup"] is None and task["timeout_s"] > 0
    assert task["answer"] and all(isinstance(p, str) and re.compile(p) for p in task["answer"])
    assert 2 <= len(task["files"]) <= 8
    assert sum(content.count("\n") for content in task["files"].values()) <= 250
    assert task["protected"] == sorted(task["files"]), "a question is answered, the code left as it is"
    assert "do not change any files" in task["prompt"]
    assert set(REFERENCE[task["id"]]) == {"id", "answer"}
    text = json.dumps(task).lower()
    assert not any(marker in text for marker in ("humaneval", "mbpp", "quixbugs", "fizzbuzz", "is_palindrome"))


@pytest.mark.parametrize("task", QUESTIONS, ids=IDS)
def test_the_reference_answer_passes(task):
    reference = REFERENCE[task["id"]]["answer"]
    assert answer_misses(task["answer"], reference) == []
    assert answer_misses(task["answer"], reference.upper()) == [], "case does not matter"


@pytest.mark.parametrize("task", QUESTIONS, ids=IDS)
def test_blank_generic_wrong_and_shotgun_answers_fail(task):
    generic = [None, "", "   ", "I don't know.", "Done.", task["prompt"],
               "It is set in the configuration, see the code in the repository for the details.",
               " ".join(task["files"]), shotgun(task)]
    for answer in generic + WRONG[task["id"]]:
        assert answer_misses(task["answer"], answer), f"passes: {answer!r}"


def test_answer_misses_names_the_missing_patterns():
    assert answer_misses([r"\b900\b", r"settings\.py"], "900 s, in shop/config.py") == [r"settings\.py"]
    assert answer_misses([r"\b900\b"], None) == [r"\b900\b"]
    assert answer_misses([r"noinput"], "class NoInput") == []


def test_the_suites_load_apart():
    """`eval evals/` does not take in evals/kinds/ (a subdirectory); `eval evals/kinds/` is the other kinds."""
    main = load_suite(EVALS)
    assert {t["id"] for t in read_jsonl(EVALS / "tasks.jsonl")} <= {t.id for t in main}
    assert not any(t.kind in ("change", "question") for t in main)
    kinds = load_suite(EVALS / "kinds")
    questions = [t for t in kinds if t.kind == "question"]
    assert [t.id for t in questions] == IDS
    assert all(t.check is None and t.answer == tuple(raw["answer"]) for t, raw in zip(questions, QUESTIONS))
    assert all(t.check and not t.answer for t in kinds if t.kind == "change")


def write(tmp_path: Path, *tasks: dict) -> Path:
    path = tmp_path / "suite.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    return path


BASE = {"id": "q", "prompt": "p", "files": {"a.py": "x = 1\n"}}


def test_the_loader_takes_answer_and_keeps_the_old_format(tmp_path):
    old = load_suite(write(tmp_path, {**BASE, "check": "true"}))[0]
    assert old.check == "true" and old.answer == () and old.extra == {}
    with_both = load_suite(write(tmp_path, {**BASE, "check": "true", "answer": ["x"]}))[0]
    assert with_both.check == "true" and with_both.answer == ("x",)
    for question in ({**BASE, "check": None, "answer": ["x = 1"]}, {**BASE, "answer": ["x = 1"]}):
        loaded = load_suite(write(tmp_path, question))[0]
        assert loaded.check is None and loaded.answer == ("x = 1",)


@pytest.mark.parametrize("bad, message", [
    ({**BASE}, 'check: expected a check command (or, for a question, "answer": regexes); found none'),
    ({**BASE, "check": None}, 'check: expected a check command (or, for a question, "answer": regexes); found none'),
    ({**BASE, "check": None, "answer": []}, "answer: expected a non-empty list; found []"),
    ({**BASE, "check": None, "answer": "x"}, 'answer: expected a list; found "x"'),
    ({**BASE, "check": None, "answer": [3]}, "answer[0]: expected a string; found 3"),
    ({**BASE, "check": None, "answer": ["("]}, 'answer[0]: expected a valid regex; found "(" (missing )'),
])
def test_the_loader_rejects_a_bad_question(tmp_path, bad, message):
    path = write(tmp_path, bad)
    with pytest.raises(SuiteError, match=re.escape(f"{path}:1, {message}")):
        load_suite(path)


def run_questions(tmp_path: Path, replies: list[str], *ids: str) -> tuple[object, dict[str, dict]]:
    replay = write_replay(tmp_path / "replay.json", replies)
    out = tmp_path / "results.jsonl"
    only = [arg for task_id in ids for arg in ("--only", task_id)]
    done = run_cli("eval", str(EVALS / "kinds"), *only, "--model", f"replay:{replay}", "--out", str(out),
                   "--keep", cwd=tmp_path)
    return done, {r["id"]: r for r in map(json.loads, out.read_text().splitlines())} if out.exists() else {}


def test_the_runner_judges_the_final_answer(tmp_path):
    """One answer, given to two questions: right for the first, wrong for the second."""
    answer = "900 seconds: DEFAULTS['product_cache_ttl'] = 15 * MINUTE in shop/settings.py"
    replies = [step("read", 'print(read_file(path="shop/settings.py"))'),
               step("answer", f"final_answer({answer!r})")]
    done, found = run_questions(tmp_path, replies, "question-cache-ttl", "question-exit-status")
    assert done.returncode == 0, done.stderr
    right, wrong = found["question-cache-ttl"], found["question-exit-status"]
    assert right["status"] == "answered" and right["answer"] == answer
    assert right["solved"] is True and right["answer_missing"] == [] and right["tampered"] == []
    assert "check_exit_code" not in right, "no check command ran"
    assert wrong["status"] == "answered" and wrong["answer"] == answer
    assert wrong["solved"] is False and wrong["answer_missing"] == QUESTIONS[IDS.index("question-exit-status")]["answer"]
    assert "solved 1/2" in done.stdout


def test_a_question_cannot_edit_the_code_it_is_judged_on(tmp_path):
    """A question is answered from the code as it is: its tools only read, so an agent that tries to
    change the code (here to make its answer true) changes nothing, and the answer is judged on the
    code as shipped."""
    replies = [step("edit", 'p = propose_patch(path="shop/settings.py", old="15 * MINUTE", new="900")\n'
                            'print(apply_patch(patch_id=p["patch_id"]))'),
               step("answer", 'final_answer("900 seconds, in shop/settings.py")')]
    done, found = run_questions(tmp_path, replies, "question-cache-ttl")
    assert done.returncode == 0, done.stderr
    result = found["question-cache-ttl"]
    assert result["tampered"] == [], "nothing was changed"
    settings = next(t for t in QUESTIONS if t["id"] == "question-cache-ttl")["files"]["shop/settings.py"]
    assert (Path(result["repo"]) / "shop" / "settings.py").read_text() == settings
