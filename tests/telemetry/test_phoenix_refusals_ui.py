"""Who refused what, and a change no test has seen, as Phoenix's UI shows them in a real headless Chromium.

Real `agent-runtime` runs (the replay model) send their traces to a real Phoenix: a command the policy
denies, one a hook of the user's blocks, one `--approval never` refuses, one a person refuses at the
REPL's prompt with a message, and a patch applied with no test run after it. Then, in the browser:
the trace list's error column names who refused what for each run and the untested run is not green;
each refused TOOL span's annotation chip reads who refused it (never a mean score), inline in the
Spans table and in the span's view, whose Metadata card says what (the rule, the hook).

Screenshots go to the test's temporary directory and, when AGENT_RUNTIME_ARTIFACTS is set, to
$AGENT_RUNTIME_ARTIFACTS/phoenix-refusals/.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from conftest import VENV_BIN, make_repo, run_cli, runs_in_order, step, write_replay
from terminal import Terminal

from agent_runtime.telemetry.records import load_spans

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PROJECT = "refusals-ui"
CALC = {"calc.py": "def add(a, b):\n    return a - b\n"}
MESSAGE = "no pushing today"

# task -> (its replies, --approval, what the trace list's error column must say)
RUNS = {
    "policy denies": ([step("Clean up.", 'print(run_cmd(command="rm -rf .git"))'), step("Done.", 'final_answer("ok")')],
                      "auto", "denied by rule git-directory (run_cmd: rm -rf .git)"),
    "hook blocks": ([step("Look.", 'print(run_cmd(command="git status"))'), step("Done.", 'final_answer("ok")')],
                    "auto", "blocked by the hook no-git (run_cmd: git status)"),
    "mode never": ([step("Push.", 'print(run_cmd(command="git push --force"))'), step("Done.", 'final_answer("ok")')],
                   "never", "refused: approval mode is 'never' (run_cmd: git push --force)"),
    "untested patch": ([step("Fix.", 'p = propose_patch(path="calc.py", old="a - b", new="a + b")\n'
                                     'print(apply_patch(patch_id=p["patch_id"]))'), step("Done.", 'final_answer("fixed")')],
                       "auto", "tests not run after the last change"),
}
PERSON = ("person refuses", [step("Push.", 'print(run_cmd(command="git push"))'), step("Done.", 'final_answer("ok")')],
          "refused by the user (run_cmd: git push)")
# refused TOOL span -> the chip's label (who) and what the span view's Metadata says (what)
CHIPS = {"run_cmd: rm -rf .git": ("policy denied", '"verdict": "denied by rule git-directory"'),
         "run_cmd: git status": ("hook blocked", '"verdict": "blocked by the hook no-git"'),
         "run_cmd: git push --force": ("auto-refused", '"verdict": "refused: approval mode \'never\'"'),
         "run_cmd: git push": ("user refused", '"verdict": "refused by the user"')}


def _gql(base: str, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(f"{base}/graphql", data=json.dumps({"query": query, "variables": variables or {}}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # the test's Phoenix
        data = json.load(response)
    assert not data.get("errors"), data["errors"]
    return data["data"]


ANNOTATED = """query($t: String!) { trace: getTraceByOtelId(traceId: $t) { project { id }
  spans(first: 100) { edges { node { id name context { spanId } spanAnnotations { name } } } } } }"""


def _in_phoenix(base: str, trace_id: str, annotated: int, timeout: float = 60) -> dict:
    """The trace once Phoenix has it with `annotated` annotated spans (both arrive asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        trace = _gql(base, ANNOTATED, {"t": trace_id})["trace"]
        nodes = [e["node"] for e in trace["spans"]["edges"]] if trace else []
        if trace and sum(1 for n in nodes if n["spanAnnotations"]) >= annotated:
            return trace
        assert time.monotonic() < deadline, f"{trace_id}: not in Phoenix with {annotated} annotated spans"
        time.sleep(0.5)


@pytest.fixture
def shots(tmp_path):
    directory = tmp_path / "shots"
    directory.mkdir()
    yield directory
    artifacts = os.environ.get("AGENT_RUNTIME_ARTIFACTS")
    if artifacts:
        shutil.copytree(directory, Path(artifacts) / "phoenix-refusals", dirs_exist_ok=True)
    print(f"\nscreenshots: {directory}")


def _run_all(phoenix, tmp_path) -> dict[str, list[dict]]:
    """Each task's spans (trace.jsonl), by task."""
    runs = tmp_path / "runs"
    env = {"PHOENIX_ENABLED": "true", "PHOENIX_ENDPOINT": phoenix.url, "PHOENIX_PROJECT_NAME": PROJECT,
           "RUNS_DIR": str(runs)}
    # The user's hook: blocks `git status` (exit 2, its stderr the reason), no opinion on the rest.
    script = tmp_path / "no-git.sh"
    script.write_text("grep -q 'git status' && { echo 'not here' >&2; exit 2; }\nexit 0\n")
    hooks = Path(os.environ["XDG_CONFIG_HOME"]) / "agent-runtime" / "hooks.toml"
    hooks.parent.mkdir(parents=True, exist_ok=True)
    hooks.write_text(f'[[hooks]]\nevent = "before_tool"\nname = "no-git"\ntools = ["run_cmd"]\n'
                     f'command = ["sh", "{script}"]\n')
    tasks = []
    for task, (replies, approval, _) in RUNS.items():
        repo = make_repo(tmp_path / task.replace(" ", "-"), CALC)
        replay = write_replay(tmp_path / f"{task.replace(' ', '-')}.json", replies)
        done = run_cli("--approval", approval, "--model", f"replay:{replay}", task, cwd=repo, env=env)
        assert done.returncode in (0, 5), done.stderr
        tasks.append(task)
    # A person at the REPL's prompt refuses with a message.
    task, replies, _ = PERSON
    repo = make_repo(tmp_path / "person", CALC)
    replay = write_replay(tmp_path / "person.json", replies)
    term = Terminal([str(VENV_BIN / "agent-runtime"), "--approval", "ask", "--model", f"replay:{replay}"], repo,
                    {**os.environ, **env, "TERM": "dumb", "COLUMNS": "200"})
    try:
        term.read_until("› ", timeout=60)
        term.type(task + "\n")
        term.read_until("[y/N/", timeout=60)
        term.type("m\n")
        term.read_until("Message to the model:", timeout=30)
        term.type(MESSAGE + "\n")
        term.read_until_after("refused", "› ", timeout=60)
        term.type("/exit\n")
        assert term.wait() == 0, term.output[-3000:]
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
    tasks.append(task)
    spans = [load_spans(d) for d in runs_in_order(runs)]
    assert len(spans) == len(tasks)
    return dict(zip(tasks, spans))


def test_phoenix_shows_who_refused_what_and_no_green_for_an_untested_change(phoenix, tmp_path, shots):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    by_task = _run_all(phoenix, tmp_path)
    expected = {task: said for task, (_, _, said) in RUNS.items()} | {PERSON[0]: PERSON[2]}

    # The spans as recorded: who decided, also for the policy's denial (no longer `not_required`).
    tools = {s["name"]: s for spans in by_task.values() for s in spans if s["kind"] == "TOOL"}
    assert {n: (tools[n]["attributes"]["approval.outcome"], tools[n]["attributes"]["approval.source"])
            for n in CHIPS} == {"run_cmd: rm -rf .git": ("denied", "policy"), "run_cmd: git status": ("denied", "hook"),
                                "run_cmd: git push --force": ("denied", "config"),
                                "run_cmd: git push": ("denied", "user")}
    traces = {task: _in_phoenix(phoenix.url, spans[0]["trace_id"], 1 if task in ("policy denies", "hook blocks",
                                                                                   "mode never", PERSON[0]) else 0)
              for task, spans in by_task.items()}
    project_id = next(iter(traces.values()))["project"]["id"]

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1700, "height": 1000})
        page.set_default_timeout(30_000)
        try:
            # The trace list: one row per task; its error column says who refused what; none is green.
            page.goto(f"{phoenix.url}/projects/{project_id}/traces")
            rows = page.locator("tbody tr")
            for task in expected:
                rows.filter(has_text=f"task: {task}").first.wait_for()
            page.wait_for_timeout(500)
            page.screenshot(path=str(shots / "trace_list.png"))
            for task, said in expected.items():
                row = rows.filter(has_text=f"task: {task}").first
                assert said in row.inner_text(), f"{task}: the trace list shows {row.inner_text()!r}"
                status = row.locator("td").nth(1).locator("[aria-label]").first.get_attribute("aria-label")
                assert status == "ERROR", f"{task}: the trace list shows it {status}"

            # The Spans table, one call at a time: its chip reads who refused it, inline (no mean
            # score, not folded into "+1").
            for name, (label, _) in CHIPS.items():
                condition = urllib.parse.quote(f"name == {json.dumps(name)}")  # the filter bar's condition
                page.goto(f"{phoenix.url}/projects/{project_id}/spans?timeRangeKey=7d&spanFilterCondition={condition}")
                page.locator(".cm-content").get_by_text(name).first.wait_for()
                row = rows.filter(has_text="approval").first
                row.wait_for()
                aside = page.get_by_role("button", name="Hide aside panel")
                if aside.count():  # the annotations column is beyond it
                    aside.first.click()
                assert rows.count() == 1, f"{name}: {rows.count()} rows"
                page.wait_for_timeout(500)
                page.screenshot(path=str(shots / f"spans_table_{name.replace(' ', '_').replace(':', '')}.png"))
                text = row.inner_text()
                assert label in text and "μ" not in text and "+1" not in text, \
                    f"{name}: the Spans table's row shows {text!r}"

            # The span's view: the chip, and the Metadata card naming the rule or hook.
            for task, spans in by_task.items():
                refused = [s for s in spans if s["name"] in CHIPS]
                if not refused:
                    continue
                span = refused[0]
                node = next(e["node"] for e in traces[task]["spans"]["edges"]
                            if e["node"]["context"]["spanId"] == span["span_id"])
                page.goto(f"{phoenix.url}/projects/{project_id}/traces/{span['trace_id']}"
                          f"?selectedSpanNodeId={urllib.parse.quote(node['id'])}")
                page.get_by_test_id("span-details").get_by_text(span["span_id"]).first.wait_for()
                info = page.get_by_test_id("span-info-wrap")
                label, metadata = CHIPS[span["name"]]
                info.get_by_text("Metadata", exact=True).first.wait_for()
                page.wait_for_timeout(1000)  # the annotations arrive after the span's own data
                page.screenshot(path=str(shots / f"span_{task.replace(' ', '_')}.png"))
                text = info.inner_text()
                assert f"approval\n{label}" in text and "μ" not in text and metadata in text, \
                    f"{span['name']}: the span view shows {text[:1500]!r}"
        finally:
            browser.close()
