"""Phoenix as the reviewer's desk (issue 33): what went wrong is on the trace list, not only inside it.

One real Phoenix for the module receives real `agent-runtime` runs with the replay model:
- `messy` (a REPL on a pseudo-terminal, a person at the prompts): a patch that fails, `rm -rf .git`
  denied by the policy, a patch the person approves, a `git push --force` the person refuses with a
  message, then the tests pass;
- `clean` (the same REPL's next task): a diff read, an answer;
- `failing` (a single task): the tests run and fail, the agent answers anyway;
- two evals of a two-task suite with `--phoenix` (a model that fixes `add`, one that does nothing).

Checked through Phoenix's API (GraphQL, which the UI's filter bar uses, and REST) and in headless
Chromium with screenshots: the filters docs/traces.md gives find exactly the traces they say; the
approvals and refusals are `approval` annotations on their TOOL spans (HUMAN when a person
answered, with the person's message); the approval wait is a span of its own and out of the
root's `agent_runtime.active_ms`; the suite is a dataset with two experiments, one run per task
with its trace, compared side by side.

Screenshots go to the test's temporary directory and, when AGENT_RUNTIME_ARTIFACTS is set, to
$AGENT_RUNTIME_ARTIFACTS/phoenix-review/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from conftest import BUGGY_PROJECT, ROOT, VENV_BIN, make_repo, run_cli, runs_in_order, step, write_replay
from terminal import Terminal

from agent_runtime.telemetry.phoenix import PhoenixServer
from agent_runtime.telemetry.records import load_spans

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PROJECT = f"review-{uuid.uuid4().hex[:6]}"
SUITE = f"review-suite-{uuid.uuid4().hex[:6]}"

REFUSAL_MESSAGE = "never force-push, I review first"
MESSY_TASK = "fix add in calc.py and push"
MESSY_ANSWER = "add() fixed with p1 and the tests pass; the push was refused"
CLEAN_TASK = "show what changed"
CLEAN_ANSWER = "calc.py now adds"
REPL_REPLIES = [
    step("Fix it.", 'print(propose_patch(path="calc.py", old="return a - b - 1", new="return a + b"))'),
    step("Clean up.", 'print(run_cmd(command="rm -rf .git"))'),
    step("Propose again.", 'print(propose_patch(path="calc.py", old="return a - b", new="return a + b"))'),
    step("Apply it.", 'print(apply_patch(patch_id="p1"))'),
    step("Push.", 'print(run_cmd(command="git push --force"))'),
    step("Check.", "print(run_tests())"),
    step("Done.", f'final_answer("{MESSY_ANSWER}")'),
    step("Look at the change.", 'print(git_diff(path="calc.py"))'),
    step("Answer.", f'final_answer("{CLEAN_ANSWER}")'),
]
FAILING_TASK = "run the tests and say if they pass"
FAILING_REPLIES = [step("Run the tests.", "print(run_tests())"), step("Report.", 'final_answer("they fail")')]

# The docs' filters (docs/traces.md) and the traces each must find among the three.
FILTERS = {
    "status_code == 'ERROR'": {"messy", "failing"},
    "agent_runtime.refusals > 0": {"messy"},
    "agent_runtime.failed_tool_calls > 0": {"messy"},
    "agent_runtime.files_changed > 0": {"messy"},
    "agent_runtime.tests_passed == 'false'": {"failing"},
    "agent_runtime.tests_passed == 'unknown'": {"clean"},
    "agent_runtime.exit_code != 0": {"messy"},  # answered, but refused: exit code 5
    "agent_runtime.approval_wait_ms > 0": {"messy"},
}
SPAN_FILTERS = {  # on every span: the TOOL spans refused / approved (annotations), the waits
    "span_kind == 'TOOL' and approval.outcome == 'denied'": {"run_cmd: rm -rf .git", "run_cmd: git push --force"},
    "annotations['approval'].label == 'user refused'": {"run_cmd: git push --force"},
    "annotations['approval'].label == 'policy denied'": {"run_cmd: rm -rf .git"},
    "span_kind == 'TOOL' and annotations['approval'].label == 'user approved'": {"apply_patch p1"},
    "name == 'approval.wait'": {"approval.wait"},
}

FIXER = [step("Propose.", 'print(propose_patch(path="calc.py", old="return a - b", new="return a + b"))'),
         step("Apply.", 'print(apply_patch(patch_id="p1"))'),
         step("Done.", 'final_answer("add fixed")')]
IDLE = [step("Nothing to do.", 'final_answer("looks fine")')]
SUITE_TASKS = [
    {"id": "fix-add", "prompt": "add() in calc.py subtracts: make it add.", "files": BUGGY_PROJECT,
     "check": "python -m pytest -q -p no:cacheprovider test_calc.py", "timeout_s": 240},
    {"id": "fix-sub", "prompt": "sub() in calc.py adds: make it subtract.",
     "files": {"calc.py": "def sub(a, b):\n    return a + b\n",
               "test_calc.py": "from calc import sub\n\n\ndef test_sub():\n    assert sub(5, 3) == 2\n"},
     "check": "python -m pytest -q -p no:cacheprovider test_calc.py", "timeout_s": 240},
]


# --- fixtures: one Phoenix, the runs, the evals, the browser ---


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    directory = tmp_path_factory.mktemp("phoenix-review")
    yield directory
    artifacts = os.environ.get("AGENT_RUNTIME_ARTIFACTS")
    if artifacts:
        shutil.copytree(directory, Path(artifacts) / "phoenix-review", dirs_exist_ok=True)
    print(f"\nPhoenix review screenshots: {directory}")


def _env(phoenix: PhoenixServer, base: Path, runs: str) -> dict[str, str]:
    """What an agent run of this module sees: its Phoenix and project, its own state and config."""
    return {"PHOENIX_ENABLED": "true", "PHOENIX_ENDPOINT": phoenix.url, "PHOENIX_PROJECT_NAME": PROJECT,
            "RUNS_DIR": str(base / runs), "XDG_STATE_HOME": str(base / "state"), "XDG_CONFIG_HOME": str(base / "config"),
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


@pytest.fixture(scope="module")
def runs(phoenix, tmp_path_factory) -> dict[str, list[dict]]:
    """The local spans (trace.jsonl) of the traces `messy`, `clean` and `failing`."""
    base = tmp_path_factory.mktemp("runs")
    repo = make_repo(base / "repl", BUGGY_PROJECT)
    replay = write_replay(base / "repl.json", REPL_REPLIES)
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "200", **_env(phoenix, base, "runs-repl")}
    term = Terminal([str(VENV_BIN / "agent-runtime"), "--approval", "ask", "--model", f"replay:{replay}"], repo, env)
    try:
        term.read_until("› ", timeout=90)
        term.type(MESSY_TASK + "\n")
        term.read_until("[y/N/", timeout=120)  # apply_patch p1: Apply this patch? [y/N/a/m]
        time.sleep(1.0)  # the person reads the patch: a wait the trace must keep apart
        term.type("y\n")
        term.read_until_after("wants to run", "[y/N/", timeout=60)  # git push --force
        term.type("m\n")
        term.read_until("Message to the model:", timeout=30)
        term.type(REFUSAL_MESSAGE + "\n")
        term.read_until_after(MESSY_ANSWER, "› ", timeout=180)
        term.type(CLEAN_TASK + "\n")
        term.read_until_after(CLEAN_ANSWER, "› ", timeout=60)
        term.type("/exit\n")
        assert term.wait() == 0, term.output[-3000:]
    finally:
        if term.proc.poll() is None:
            term.proc.kill()

    repo = make_repo(base / "single", BUGGY_PROJECT)
    replay = write_replay(base / "failing.json", FAILING_REPLIES)
    result = run_cli("--approval", "never", "--model", f"replay:{replay}", FAILING_TASK, cwd=repo,
                     env=_env(phoenix, base, "runs-single"))
    assert result.returncode == 0, result.stderr[-3000:]
    repl = [load_spans(d) for d in runs_in_order(base / "runs-repl")]
    single = [load_spans(d) for d in runs_in_order(base / "runs-single")]
    assert len(repl) == 2 and len(single) == 1
    found = {"messy": repl[0], "clean": repl[1], "failing": single[0]}
    # The runs' own test results, quoted whole if not as meant: a test run that fails for a reason of
    # the machine's (not the code's) shows here, not as a wrong filter result three tests later.
    for label, passed in (("messy", True), ("failing", False)):
        (*_, last) = [s for s in found[label] if s["name"] == "run_tests"]
        output = last["attributes"].get("output.value") or ""
        assert f'"passed": {json.dumps(passed)}' in output, (label, output)
    return found


def _eval(phoenix: PhoenixServer, base: Path, label: str, replies: list[str]) -> str:
    replay = write_replay(base / f"{label}.json", replies)
    result = run_cli("--model", f"replay:{replay}", "eval", str(base / f"{SUITE}.jsonl"), "--phoenix",
                     "--experiment", label, "--out", str(base / f"{label}.jsonl"), cwd=base,
                     env=_env(phoenix, base, "runs-eval"), timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f'Phoenix experiment "{label}": 2 runs on dataset {SUITE}: {phoenix.url}/datasets/' in result.stdout, \
        result.stdout[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def evals(phoenix, tmp_path_factory) -> dict[str, list[dict]]:
    """Two evals of the suite, as experiments `fixer` and `idle`; their results files' lines."""
    base = tmp_path_factory.mktemp("evals")
    (base / f"{SUITE}.jsonl").write_text("".join(json.dumps(t) + "\n" for t in SUITE_TASKS))
    found = {}
    for label, replies in (("fixer", FIXER), ("idle", IDLE)):
        _eval(phoenix, base, label, replies)
        found[label] = [json.loads(line) for line in (base / f"{label}.jsonl").read_text().splitlines()]
    return found


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1700, "height": 1100})
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            browser.close()


# --- Phoenix, read back ---


def _request(base: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=15) as response:  # the test's Phoenix
        return json.load(response)


def gql(base: str, query: str, variables: dict | None = None) -> dict:
    data = _request(base, "/graphql", {"query": query, "variables": variables or {}})
    assert not data.get("errors"), data["errors"]
    return data["data"]


def project_id(base: str) -> str:
    projects = gql(base, "{ projects { edges { node { id name } } } }")["projects"]["edges"]
    return next(e["node"]["id"] for e in projects if e["node"]["name"] == PROJECT)


FILTERED = """query($id: ID!, $f: String, $roots: Boolean) { node(id: $id) { ... on Project {
  spans(first: 200, rootSpansOnly: $roots, filterCondition: $f) {
    edges { node { name statusCode context { traceId spanId } } } } } } }"""


def filtered(base: str, condition: str, roots: bool) -> list[dict]:
    """The spans Phoenix's filter condition finds in the project (the UI's filter bar sends the same)."""
    spans = gql(base, FILTERED, {"id": project_id(base), "f": condition, "roots": roots})["node"]["spans"]
    return [e["node"] for e in spans["edges"]]


def wait_for(what, timeout: float = 60):
    """Phoenix ingests spans and annotations in the background: poll until `what()` is truthy."""
    deadline = time.monotonic() + timeout
    while not (found := what()):
        assert time.monotonic() < deadline, f"not in Phoenix after {timeout}s"
        time.sleep(0.5)
    return found


def in_phoenix(base: str, runs: dict[str, list[dict]]) -> None:
    wanted = {s["span_id"] for spans in runs.values() for s in spans}
    wait_for(lambda: wanted <= {s["context"]["spanId"] for s in filtered(base, "", False)})


ROOT_OF_TRACE = """query($t: String!) { trace: getTraceByOtelId(traceId: $t) {
  rootSpans: spans(first: 1, rootSpansOnly: true) { edges { node { name } } } } }"""


def root(spans: list[dict]) -> dict:
    (found,) = [s for s in spans if s["parent_id"] is None]
    return found


def documented_filters() -> list[str]:
    """The filter expressions docs/traces.md gives (its filters table: the first column)."""
    text = (ROOT / "docs" / "traces.md").read_text()
    table = text.split("## Finding the runs that matter", 1)[1].split("| filter | finds |", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", table, re.MULTILINE)


# --- the tests ---


def test_the_root_span_says_what_went_wrong(runs):
    messy, clean, failing = (root(runs[k]) for k in ("messy", "clean", "failing"))
    assert messy["status"] == "ERROR"
    assert messy["status_message"] == ("2 refusals: denied by rule git-directory (run_cmd: rm -rf .git); "
                                       "refused by the user (run_cmd: git push --force), 1 failed tool call")
    figures = {k.removeprefix("agent_runtime."): v for k, v in messy["attributes"].items()
               if k.startswith("agent_runtime.")}
    assert figures["time_to_first_request_s"] >= 0
    assert {k: v for k, v in figures.items() if not k.endswith(("_ms", "_s"))} == {
        "refusals": 2, "failed_tool_calls": 1, "files_changed": 1, "tests_passed": "true", "exit_code": 5,
        "refused": ["denied by rule git-directory (run_cmd: rm -rf .git)",
                    "refused by the user (run_cmd: git push --force)"]}
    # The person's time at the prompts is out of the active time, and shown as spans of their own.
    latency_ms = (messy["end_time"] - messy["start_time"]) / 1e6
    assert figures["approval_wait_ms"] >= 1000, "the person looked at the patch for a second"
    assert abs(figures["active_ms"] - (latency_ms - figures["approval_wait_ms"])) < 50
    waits = [s for s in runs["messy"] if s["name"] == "approval.wait"]
    tools = {s["span_id"]: s for s in runs["messy"] if s["kind"] == "TOOL"}
    assert sorted(tools[w["parent_id"]]["name"] for w in waits) == ["apply_patch p1", "run_cmd: git push --force"]
    for wait in waits:
        tool = tools[wait["parent_id"]]
        assert wait["attributes"]["approval.wait_ms"] == tool["attributes"]["approval.wait_ms"]
        assert abs((wait["end_time"] - wait["start_time"]) / 1e6 - wait["attributes"]["approval.wait_ms"]) < 1
        assert tool["start_time"] <= wait["start_time"] <= wait["end_time"] <= tool["end_time"]
    assert sum(w["attributes"]["approval.wait_ms"] for w in waits) == pytest.approx(figures["approval_wait_ms"],
                                                                                    abs=1)
    assert clean["status"] == "OK" and clean["attributes"]["agent_runtime.tests_passed"] == "unknown"
    assert clean["attributes"]["agent_runtime.refusals"] == 0
    assert failing["status"] == "ERROR" and failing["status_message"] == "tests failing"
    assert failing["attributes"]["agent_runtime.tests_passed"] == "false"


def test_the_documented_filters_find_the_traces_that_matter(phoenix, runs):
    documented = documented_filters()
    assert set(documented) == set(FILTERS) | set(SPAN_FILTERS), "docs/traces.md and this test list the same filters"
    in_phoenix(phoenix.url, runs)
    traces = {root(spans)["trace_id"]: label for label, spans in runs.items()}
    for condition, expected in FILTERS.items():  # the trace list: root spans
        found = {traces.get(s["context"]["traceId"]) for s in filtered(phoenix.url, condition, True)}
        assert found == expected, f"{condition}: {found}"
    ours = {s["span_id"] for spans in runs.values() for s in spans}
    for condition, expected in SPAN_FILTERS.items():  # annotations are stored in the background
        deadline = time.monotonic() + 30
        while True:
            spans = filtered(phoenix.url, condition, False)
            found = {s["name"] for s in spans}
            if found == expected or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert found == expected, f"{condition}: {found}"
        assert all(s["context"]["spanId"] in ours for s in spans)


def test_approvals_and_refusals_are_annotations_on_their_tool_spans(phoenix, runs):
    in_phoenix(phoenix.url, runs)
    tools = {s["name"]: s for s in runs["messy"] + runs["failing"] if s["kind"] == "TOOL"}
    ids = [tools[n]["span_id"] for n in ("apply_patch p1", "run_cmd: git push --force", "run_cmd: rm -rf .git")]
    query = "&".join(f"span_ids={i}" for i in ids)

    def annotations() -> dict[str, dict]:
        data = _request(phoenix.url, f"/v1/projects/{PROJECT}/span_annotations?{query}")["data"]
        return {a["span_id"]: a for a in data if a["name"] == "approval"}

    found = wait_for(lambda: len(annotations()) == 3 and annotations())
    applied, pushed, removed = (found[i] for i in ids)
    # Who decided as the label, with no score (Phoenix's chip would show a mean score); what, as the explanation.
    assert applied["annotator_kind"] == "HUMAN" and applied["result"]["label"] == "user approved"
    assert applied["result"]["score"] is None
    assert pushed["annotator_kind"] == "HUMAN" and pushed["result"]["label"] == "user refused"
    assert pushed["result"]["explanation"] == f"refused by the user: {REFUSAL_MESSAGE}"
    assert pushed["metadata"]["source"] == "user" and pushed["metadata"]["refused"] is True
    assert removed["annotator_kind"] == "CODE" and removed["result"]["label"] == "policy denied"
    assert removed["result"]["explanation"].startswith("denied by rule git-directory: ")
    assert "repository's history" in removed["result"]["explanation"]
    assert removed["metadata"]["policy_rule"] == "git-directory"
    # Calls the policy let through without asking carry none; nor does the single task's (no question asked).
    others = [s["span_id"] for s in runs["messy"] + runs["failing"]
              if s["kind"] == "TOOL" and s["span_id"] not in ids]
    query = "&".join(f"span_ids={i}" for i in others)
    assert _request(phoenix.url, f"/v1/projects/{PROJECT}/span_annotations?{query}")["data"] == []


def test_the_filters_and_annotations_in_the_phoenix_ui(phoenix, runs, page, shots):
    in_phoenix(phoenix.url, runs)
    base, pid = phoenix.url, project_id(phoenix.url)
    page.goto(f"{base}/projects/{pid}/traces")
    rows = page.locator("tbody tr")
    page.get_by_text(f"task: {FAILING_TASK}").first.wait_for()
    page.wait_for_timeout(1000)
    page.screenshot(path=str(shots / "traces_all.png"))
    text = page.locator("table").first.inner_text()
    assert f"task: {MESSY_TASK}" in text and f"task: {CLEAN_TASK}" in text

    tasks = {"messy": MESSY_TASK, "clean": CLEAN_TASK, "failing": FAILING_TASK}

    def listed(shot: str, expected: set[str]) -> str:
        """The rows once the list shows `expected` (or after 90 s: a page of Phoenix's takes 5-10 s to load
        here, much longer while the two cores are busy)."""
        deadline = time.monotonic() + 90
        while True:
            page.wait_for_timeout(1000)
            shown = "\n".join(rows.nth(i).inner_text() for i in range(rows.count()))
            found = {label for label, task in tasks.items() if f"task: {task}" in shown}
            loaded = found or "No traces found" in shown
            if (loaded and found == expected) or time.monotonic() > deadline:
                break
        page.screenshot(path=str(shots / shot))
        return shown

    # Typed into the filter bar, as a reviewer does (Escape closes the completions, Enter applies).
    editor = page.locator(".cm-content").first
    editor.fill("agent_runtime.refusals > 0")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    page.wait_for_url("**spanFilterCondition=agent_runtime.refusals*")
    shown = listed("filter_refusals.png", {"messy"})
    assert f"task: {MESSY_TASK}" in shown and FAILING_TASK not in shown and CLEAN_TASK not in shown, shown
    # Each documented trace filter, as a link with the condition (the filter bar shows it).
    for condition, expected in FILTERS.items():
        page.goto(f"{base}/projects/{pid}/traces?" + urllib.parse.urlencode({"spanFilterCondition": condition}))
        page.locator(".cm-content", has_text=condition).first.wait_for()
        safe = re.sub(r"[^a-z_]+", "_", condition.lower()).strip("_")
        shown = listed(f"filter_{safe}.png", expected)
        assert {label for label, task in tasks.items() if f"task: {task}" in shown} == expected, (condition, shown)
        if "ERROR" in condition:
            assert "tests failing" in shown and "2 refusals: denied by rule git-directory" in shown, shown

    # The refused push: its Annotations tab shows the person's verdict and message.
    push = next(s for s in runs["messy"] if s["name"] == "run_cmd: git push --force")
    trace = gql(base, """query($t: String!) { trace: getTraceByOtelId(traceId: $t) {
      spans(first: 100) { edges { node { id context { spanId } } } } } }""", {"t": push["trace_id"]})["trace"]
    node = next(e["node"]["id"] for e in trace["spans"]["edges"] if e["node"]["context"]["spanId"] == push["span_id"])
    # Wide enough for the annotations table to show its explanation column.
    page.set_viewport_size({"width": 2600, "height": 1100})
    page.goto(f"{base}/projects/{pid}/traces/{push['trace_id']}?selectedSpanNodeId={urllib.parse.quote(node)}")
    details = page.get_by_test_id("span-details")
    details.get_by_text(push["span_id"]).first.wait_for()
    details.get_by_role("button", name="Annotations", exact=True).first.click()  # folded by default
    details.get_by_text("Table", exact=True).first.click()
    details.get_by_text(REFUSAL_MESSAGE).first.wait_for()
    page.wait_for_timeout(500)
    page.screenshot(path=str(shots / "annotation_refused_push.png"))
    table = details.locator("table").first.inner_text()
    page.set_viewport_size({"width": 1700, "height": 1100})
    assert re.search(r"approval\s+HUMAN\s+user refused\s+(?:--\s+)?" + re.escape(f"refused by the user: {REFUSAL_MESSAGE}"),
                     table), table


def test_each_eval_is_an_experiment_on_the_suites_dataset(phoenix, evals):
    base = phoenix.url
    (dataset,) = [d for d in _request(base, "/v1/datasets")["data"] if d["name"] == SUITE]
    examples = _request(base, f"/v1/datasets/{dataset['id']}/examples")["data"]["examples"]
    assert sorted(e["id"] for e in examples) == ["fix-add", "fix-sub"]
    assert {e["id"]: e["input"]["prompt"] for e in examples} == {t["id"]: t["prompt"] for t in SUITE_TASKS}
    experiments = {e["name"]: e for e in _request(base, f"/v1/datasets/{dataset['id']}/experiments")["data"]}
    assert set(experiments) == {"fixer", "idle"}
    assert len(_request(base, f"/v1/datasets/{dataset['id']}/versions")["data"]) == 1, "the same suite: one version"
    solved = {label: {r["id"]: r["solved"] for r in results} for label, results in evals.items()}
    assert solved == {"fixer": {"fix-add": True, "fix-sub": False}, "idle": {"fix-add": False, "fix-sub": False}}
    node_to_task = {e["node_id"]: e["id"] for e in examples}
    prompts = {t["id"]: t["prompt"] for t in SUITE_TASKS}
    for label, results in evals.items():
        experiment = experiments[label]
        assert experiment["metadata"]["model"].startswith("replay:") and experiment["metadata"]["build"]
        runs = _request(base, f"/v1/experiments/{experiment['id']}/runs")["data"]
        by_task = {node_to_task[r["dataset_example_id"]]: r for r in runs}
        assert set(by_task) == {"fix-add", "fix-sub"}
        for result in results:
            run = by_task[result["id"]]
            assert run["output"]["solved"] == result["solved"] and run["output"]["steps"] == result["steps"]
            assert run["output"]["run_id"] == result["run_id"]
            # the task's trace: the agent's root span in Phoenix
            trace = wait_for(lambda trace_id=run["trace_id"]: gql(base, ROOT_OF_TRACE, {"t": trace_id})["trace"])
            assert trace["rootSpans"]["edges"][0]["node"]["name"] == f"task: {prompts[result['id']]}"
        scores = gql(base, """query($id: ID!) { node(id: $id) { ... on Experiment {
            annotationSummaries { annotationName meanScore } } } }""", {"id": experiment["id"]})["node"]
        means = {s["annotationName"]: s["meanScore"] for s in scores["annotationSummaries"]}
        assert set(means) == {"solved", "seconds", "steps", "tokens"}
        assert means["solved"] == {"fixer": 0.5, "idle": 0.0}[label]
        assert means["steps"] == sum(r["steps"] for r in results) / 2


def test_two_experiments_side_by_side_in_the_phoenix_ui(phoenix, evals, page, shots):
    base = phoenix.url
    (dataset,) = [d for d in _request(base, "/v1/datasets")["data"] if d["name"] == SUITE]
    experiments = {e["name"]: e["id"] for e in _request(base, f"/v1/datasets/{dataset['id']}/experiments")["data"]}
    page.goto(f"{base}/datasets/{dataset['id']}/experiments")
    page.get_by_text("fixer").first.wait_for()
    page.get_by_text("idle").first.wait_for()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(shots / "experiments_list.png"))
    listing = page.locator("main").first.inner_text() if page.locator("main").count() else page.inner_text("body")
    for name in ("solved", "steps", "tokens", "seconds"):
        assert name in listing, f"the experiments list lacks the {name} column: {listing[:1500]}"
    query = f"experimentId={experiments['fixer']}&experimentId={experiments['idle']}"
    page.goto(f"{base}/datasets/{dataset['id']}/compare?{query}")
    page.get_by_text("add() in calc.py subtracts").first.wait_for()
    page.wait_for_timeout(2000)
    page.screenshot(path=str(shots / "experiments_compare.png"), full_page=True)
    text = page.inner_text("body")
    assert "sub() in calc.py adds" in text and "fixer" in text and "idle" in text, text[:2000]
    for label in ("solved", "unsolved", "steps", "tokens", "seconds"):
        assert label in text, f"the compare view lacks {label}"
    # A run's trace, one click away: the agent's task and its steps.
    page.get_by_role("button", name="View run trace").first.click()
    page.get_by_text(f"task: {SUITE_TASKS[0]['prompt']}").first.wait_for()
    page.get_by_text("apply_patch p1").first.wait_for()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(shots / "experiment_run_trace.png"))
