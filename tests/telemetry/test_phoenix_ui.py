"""Phoenix's UI, in a real headless Chromium, shows every span of real agent runs.

A real Phoenix (started once for the module) receives the traces of real `agent-runtime` runs
with the replay model: one task with `--approval never` (a refused `git push --force`), and a
REPL on a pseudo-terminal whose two tasks share a Phoenix session (a patch the user approves, a
`git push` the user refuses with a message), and a planned task (agent/planner.py): a replay
planner names the function to change in a repository too big to be shown whole, and a replay
coder fixes it. Then, in the browser, every span of every trace is clicked and its Info tab read:
it renders (no error boundary, which a `tool.parameters` object used to trigger), and it shows
what a person looks for: the tool's arguments and result, the policy decision and the approval
outcome, the step's thought and code (a repair attempt's reply and change) and observation, the
model's reply, the task and its final answer, the plan's problem and targets. The Attributes tab
of each model call says which role answered (`llm.role` planner or coder). The Sessions page
lists the REPL's session with both of its traces.

Screenshots go to the test's temporary directory and, when AGENT_RUNTIME_ARTIFACTS is set, to
$AGENT_RUNTIME_ARTIFACTS/phoenix-ui/ (with timings.json).
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
from conftest import BUGGY_PROJECT, VENV_BIN, make_repo, run_cli, runs_in_order, step, write_replay
from terminal import Terminal

from agent_runtime.telemetry.phoenix import PhoenixServer
from agent_runtime.telemetry.records import load_spans

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Phoenix's ErrorBoundary shows "Something went wrong" and an "error details" disclosure, or
# "Connection timed out" when the error's message matches /timeout/i (React error #31 about an
# object with a key "timeout" does).
ERROR_MARKERS = ["Something went wrong", "Connection timed out", "error details", "Minified React error",
                 "Un-parsable attributes"]
PROJECT = "ui-test"

SINGLE_TASK = "explain calc.py, then push it"
SINGLE_ANSWER = "add() in calc.py subtracts instead of adding; the push was refused"
SINGLE_REPLIES = [
    step("Look at the Python files.", 'print(list_files(pattern="*.py"))'),
    step("Read the code and find add.", 'print(read_file(path="calc.py"))\nprint(rg_search(pattern="def add"))'),
    step("Push the branch.", 'print(run_cmd(command="git push --force"))'),
    step("Report.", f'final_answer("{SINGLE_ANSWER}")'),
]
REPL_TASKS = ["fix add in calc.py", "show what changed"]
REPL_ANSWERS = ["add() fixed with patch p1; the user refused the push", "calc.py now adds"]
REFUSAL_MESSAGE = "do not push, I review first"
REPL_REPLIES = [
    step("Propose the fix.", 'print(propose_patch(path="calc.py", old="return a - b", new="return a + b"))'),
    step("Apply it.", 'print(apply_patch(patch_id="p1"))'),
    step("Push it.", 'print(run_cmd(command="git push"))'),
    step("Done.", f'final_answer("{REPL_ANSWERS[0]}")'),
    step("Look at the change.", 'print(git_diff(path="calc.py"))'),
    step("Answer.", f'final_answer("{REPL_ANSWERS[1]}")'),
]

# The planner/coder mode: a repository too big to be shown whole (as tests/agent/test_planner.py's
# big_repo), a failing test, a plan naming the method that drops a word, the coder's fix of it.
PLANNED_PROJECT = {
    **{f"tools/util_{i}.py": f"def util_{i}():\n    return {i}\n" for i in range(14)},
    "pkg/__init__.py": "",
    "pkg/core.py": ("class Parser:\n    def parse(self, text):\n        return clean(text.split())[1:]\n\n\n"
                    "def clean(words):\n    return [w for w in words if w]\n"
                    + "".join(f"\n\ndef helper_{i}(value):\n    return value + {i}\n" for i in range(60))),
    "tests/test_core.py": "from pkg.core import Parser\n\n\ndef test_parse():\n"
                          "    assert Parser().parse('a b') == ['a', 'b']\n",
}
PLANNED_TASK = "tests/test_core.py::test_parse fails: fix it."
PLAN_PROBLEM = "Parser.parse cuts off the first word of the text."
PLAN_TARGET = "pkg/core.py::Parser.parse"
PLANNER_REPLY = json.dumps({"problem": PLAN_PROBLEM, "targets": [PLAN_TARGET]})
CODER_REPLY = ("parse drops the first word.\n\n### pkg/core.py::Parser.parse\n```python\n<<<<<<< SEARCH\n"
               "        return clean(text.split())[1:]\n=======\n        return clean(text.split())\n"
               ">>>>>>> REPLACE\n```\n")
PLANNED_LLMS = {"llm: replay:planner.json": "planner", "llm: replay:planned.json": "coder"}  # span name: llm.role


# --- fixtures: Phoenix, the runs, the browser ---


@pytest.fixture(scope="module")
def timings() -> dict[str, float]:
    return {}


@pytest.fixture(scope="module")
def shots(tmp_path_factory, timings):
    directory = tmp_path_factory.mktemp("phoenix-ui")
    yield directory
    (directory / "timings.json").write_text(json.dumps(timings, indent=1))
    artifacts = os.environ.get("AGENT_RUNTIME_ARTIFACTS")
    if artifacts:
        shutil.copytree(directory, Path(artifacts) / "phoenix-ui", dirs_exist_ok=True)
    print(f"\nPhoenix UI screenshots: {directory}" + (f" (copied to {artifacts}/phoenix-ui)" if artifacts else ""))
    print("timings:", json.dumps(timings))


def _tracing_env(phoenix: PhoenixServer, runs: Path, endpoint: str | None = None) -> dict[str, str]:
    return {"PHOENIX_ENABLED": "true", "PHOENIX_ENDPOINT": endpoint or phoenix.url,
            "PHOENIX_PROJECT_NAME": PROJECT, "RUNS_DIR": str(runs)}


@pytest.fixture(scope="module")
def runs(phoenix, tmp_path_factory, timings) -> dict[str, list[dict]]:
    """The local spans (trace.jsonl) of four traces: `single`, `repl1`, `repl2`, `planned`."""
    timings["phoenix_start_s"] = phoenix.start_s
    base = tmp_path_factory.mktemp("runs")
    # One task; PHOENIX_ENDPOINT in its OTLP form (…/v1/traces) works as well as the base URL.
    repo = make_repo(base / "single", BUGGY_PROJECT)
    replay = write_replay(base / "single.json", SINGLE_REPLIES)
    started = time.monotonic()
    result = run_cli("--approval", "never", "--model", f"replay:{replay}", SINGLE_TASK, cwd=repo,
                     env=_tracing_env(phoenix, base / "runs-single", phoenix.url + "/v1/traces"))
    timings["single_task_run_s"] = round(time.monotonic() - started, 1)
    assert result.returncode == 5, result.stderr  # answered, but its push was refused
    assert f"trace in Phoenix: {phoenix.url}/redirects/traces/" in result.stderr, result.stderr
    assert "not accepting spans" not in result.stderr

    # The REPL, on a terminal, approval by a person: two tasks, one Phoenix session.
    repo = make_repo(base / "repl", BUGGY_PROJECT)
    replay = write_replay(base / "repl.json", REPL_REPLIES)
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "200", **_tracing_env(phoenix, base / "runs-repl")}
    started = time.monotonic()
    term = Terminal([str(VENV_BIN / "agent-runtime"), "--approval", "ask", "--model", f"replay:{replay}"], repo, env)
    try:
        term.read_until("› ", timeout=60)
        term.type(REPL_TASKS[0] + "\n")
        term.read_until("[y/N/", timeout=120)  # apply_patch p1: Apply this patch? [y/N/a/m]
        term.type("y\n")
        term.read_until("wants to run", timeout=60)  # git push
        term.read_until_after("wants to run", "[y/N/", timeout=30)
        term.type("m\n")
        term.read_until("Message to the model:", timeout=30)
        term.type(REFUSAL_MESSAGE + "\n")
        term.read_until_after(REPL_ANSWERS[0], "› ", timeout=60)
        term.type(REPL_TASKS[1] + "\n")
        term.read_until_after(REPL_ANSWERS[1], "› ", timeout=60)
        term.type("/exit\n")
        assert term.wait() == 0, term.output[-3000:]
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
    timings["repl_two_tasks_s"] = round(time.monotonic() - started, 1)
    assert (repo / "calc.py").read_text().count("return a + b") == 1, "the approved patch was applied"

    # A planned task: the planner names Parser.parse, the coder fixes it (SEARCH/REPLACE), the tests pass.
    # The failing test runs in the sandbox (three times before the first request): with this venv's
    # python3 and without its pytest plugins, as the autouse isolated_state gives function-scoped tests.
    repo = make_repo(base / "planned", PLANNED_PROJECT)
    env = {**_tracing_env(phoenix, base / "runs-planned"),
           "PLANNER_MODEL": f"replay:{write_replay(base / 'planner.json', [PLANNER_REPLY])}",
           "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
           "XDG_STATE_HOME": str(tmp_path_factory.mktemp("state")),
           "XDG_CONFIG_HOME": str(tmp_path_factory.mktemp("config"))}
    replay = write_replay(base / "planned.json", [CODER_REPLY])
    started = time.monotonic()
    result = run_cli("--approval", "auto", "--model", f"replay:{replay}", PLANNED_TASK, cwd=repo, env=env,
                     timeout=900)  # on a loaded 2-core machine the test runs alone took 3-4 minutes
    timings["planned_task_run_s"] = round(time.monotonic() - started, 1)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"trace in Phoenix: {phoenix.url}/redirects/traces/" in result.stderr, result.stderr
    assert "        return clean(text.split())\n" in (repo / "pkg/core.py").read_text(), "the coder's fix was applied"

    single = [load_spans(d) for d in runs_in_order(base / "runs-single")]
    repl = [load_spans(d) for d in runs_in_order(base / "runs-repl")]
    planned = [load_spans(d) for d in runs_in_order(base / "runs-planned")]
    assert len(single) == 1 and len(repl) == 2 and len(planned) == 1
    return {"single": single[0], "repl1": repl[0], "repl2": repl[1], "planned": planned[0]}


@pytest.fixture(scope="module")
def page(timings):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    started = time.monotonic()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1700, "height": 1100})
        page.set_default_timeout(30_000)
        timings["browser_launch_s"] = round(time.monotonic() - started, 2)
        try:
            yield page
        finally:
            browser.close()


# --- Phoenix, read back ---


def gql(base: str, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(f"{base}/graphql", data=json.dumps({"query": query, "variables": variables or {}}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # the test's Phoenix
        data = json.load(response)
    assert not data.get("errors"), data["errors"]
    return data["data"]


TRACE_QUERY = """query($t: String!) { trace: getTraceByOtelId(traceId: $t) {
  project { id name } session { id sessionId }
  spans(first: 1000) { edges { node { id name spanKind statusCode startTime context { spanId } } } } } }"""


def phoenix_trace(base: str, spans: list[dict], timeout: float = 60) -> dict:
    """The trace in Phoenix once every span of the run's trace.jsonl is there (ingestion is asynchronous)."""
    trace_id, wanted = spans[0]["trace_id"], {s["span_id"] for s in spans}
    deadline = time.monotonic() + timeout
    while True:
        trace = gql(base, TRACE_QUERY, {"t": trace_id})["trace"]
        have = {e["node"]["context"]["spanId"] for e in trace["spans"]["edges"]} if trace else set()
        if wanted <= have:
            return trace
        assert time.monotonic() < deadline, f"spans {sorted(wanted - have)} of {trace_id} not in Phoenix after {timeout}s"
        time.sleep(0.5)


def _first_text(value) -> str:
    """The first non-empty string in a tool's result (what the Output block shows near its top)."""
    if isinstance(value, str):
        return value if value.strip() else ""
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return next((found for found in map(_first_text, items) if found), "")


def json_lines(value) -> list[str]:
    """A JSON value's lines as Phoenix's JSON viewer shows them (indented by two, one key a line)."""
    return [line.strip() for line in json.dumps(value, indent=2, ensure_ascii=False).splitlines()]


def reply_lines(reply: str) -> list[str]:
    """What the Info tab shows of a model's reply: its first line, or a JSON object's lines (Phoenix
    pretty-prints a message that is JSON, as the planner's plan is)."""
    try:
        value = json.loads(reply)
    except ValueError:
        value = None
    return json_lines(value) if isinstance(value, dict) else [reply.splitlines()[0]]


def expectations(span: dict) -> list[str]:
    """What the span's Info tab must show, from the span as the run recorded it."""
    attrs, kind = span["attributes"], span["kind"]
    if kind == "AGENT":
        return [attrs["input.value"], attrs["output.value"], "Metadata", "run_id"]
    if kind == "CHAIN" and "plan.model" in attrs:  # the planner's stage: its request in, the plan out
        plan = json.loads(attrs["output.value"])
        return [attrs["input.value"].splitlines()[0], "Output", *json_lines(plan)]
    if kind == "CHAIN" and span["name"] == "approval.wait":  # the time at a prompt, apart from the call's
        return ["Input", attrs["input.value"], "Output", attrs["output.value"]]
    if kind == "CHAIN":
        action = attrs["input.value"]
        # A CodeAgent step: the thought, then "Code:"; an attempt of the harness's repair loop (a fix
        # task, agent/repair.py: the planned task's): the model's reply, then "Change:" and its diff.
        code = action.split("Code:\n" if "Code:\n" in action else "\n\nChange:\n", 1)[1].splitlines()[0]
        observation = [line for line in attrs["output.value"].splitlines() if line.strip()]
        return [action.splitlines()[0], code, observation[1] if len(observation) > 1 else observation[0]]
    if kind == "LLM":
        return ["Output", "assistant", *reply_lines(attrs["llm.output_messages.0.message.content"])]
    assert kind == "TOOL", span
    arguments = {k: v for k, v in json.loads(attrs["input.value"]).items() if v is not None}
    first_text = _first_text(json.loads(attrs["output.value"]))
    expect = [f"Tool: {attrs['tool.name']}", "Input", "Output", "Metadata",
              f'"decision": "{attrs["policy.decision"]}"', f'"outcome": "{attrs["approval.outcome"]}"',
              json.loads(attrs["metadata"])["summary"], first_text.splitlines()[0][:60]]
    expect += [json.dumps(v, ensure_ascii=False) for v in arguments.values()]  # as the JSON viewer shows them
    if attrs.get("policy.rule"):
        expect.append(f'"rule": "{attrs["policy.rule"]}"')
    if span["status"] == "ERROR":
        expect.append(span["status_message"])
    return expect


class PhoenixUI:
    """Clicks spans in a trace's tree and reads their Info tab."""

    def __init__(self, page, base: str, shots: Path, timings: dict):
        self.page, self.base, self.shots, self.timings = page, base, shots, timings
        self.failures: list[str] = []
        self.clicks: list[float] = []
        self.dirty = False  # an error boundary stays up until the page is loaded again

    @property
    def tree(self):
        return self.page.locator('ul[data-testid="trace-tree"]')

    @property
    def info(self):
        return self.page.get_by_test_id("span-info-wrap")

    def open_trace(self, trace: dict, trace_id: str) -> None:
        started = time.monotonic()
        self.project_id, self.trace_id = trace["project"]["id"], trace_id
        self.page.goto(f"{self.base}/redirects/traces/{trace_id}")  # -> /projects/<id>/traces/<trace_id>
        self.tree.locator(".span-node-wrap").first.wait_for()
        self.info.wait_for()
        self.timings.setdefault("first_trace_load_s", round(time.monotonic() - started, 2))

    def select(self, node: dict, nth: int) -> None:
        """Click the span in the tree (the nth node of that name); the URL is the fallback for a
        click that landed elsewhere and for a page that shows an error boundary."""
        url = (f"{self.base}/projects/{self.project_id}/traces/{self.trace_id}"
               f"?selectedSpanNodeId={urllib.parse.quote(node['id'])}")
        if self.dirty:
            self.page.goto(url)
            self.dirty = False
        else:
            title = node["name"].replace("\\", "\\\\").replace('"', '\\"')
            self.tree.locator(f'.span-node-wrap:has(span[title="{title}"])').nth(nth).click()
            try:
                self.page.wait_for_url(f"**selectedSpanNodeId={urllib.parse.quote(node['id'])}*", timeout=5_000)
            except Exception:  # noqa: BLE001 - playwright's TimeoutError: go there directly
                self.page.goto(url)
        self.page.get_by_test_id("span-details").get_by_text(node["context"]["spanId"]).first.wait_for(timeout=15_000)
        ready = self.info.get_by_text("Input", exact=True)
        for marker in ("error details", "Connection timed out", "Something went wrong"):
            ready = ready.or_(self.info.get_by_text(marker))
        ready.first.wait_for(timeout=15_000)
        self.page.wait_for_timeout(300)  # CodeMirror fills its blocks

    def check(self, span: dict, node: dict, nth: int, label: str) -> None:
        started = time.monotonic()
        self.select(node, nth)
        self.clicks.append(time.monotonic() - started)
        text = self.info.inner_text()
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in span["name"])[:50]
        self.page.screenshot(path=str(self.shots / f"{label}_{span['kind']}_{safe}_{span['span_id'][:6]}.png"))
        broken = [m for m in ERROR_MARKERS if m in text]
        where = f"{label}: {span['kind']} {span['name']!r}"
        if broken:
            self.failures.append(f"{where}: the Info tab shows the error boundary: {text.strip()[:300]}")
            self.dirty = True
            return
        missing = [s for s in expectations(span) if s not in text]
        if missing:
            self.failures.append(f"{where}: the Info tab lacks {missing}")
        shown = [s for s in ("RunResult(", "ActionStep(", "memory_step") if s in text]
        if shown:
            self.failures.append(f"{where}: the Info tab shows Python reprs {shown}")

    def attributes(self, span: dict, node: dict, nth: int, keys: list[str], label: str) -> dict[str, str | None]:
        """Click the span in the tree, then its Attributes tab, and read what the table shows for
        each key (None: no such row); back on the Info tab after (Phoenix keeps the tab open from
        span to span)."""
        self.select(node, nth)
        details = self.page.get_by_test_id("span-details")
        details.get_by_role("tab", name="Attributes").click()
        rows = details.locator("tr:has(.json-table__key)")
        rows.first.wait_for()
        self.page.wait_for_timeout(300)
        shown: dict[str, str | None] = {}
        for key in keys:  # the key is shown as `llm.<wbr>role`: its text is the key
            row = rows.filter(has=self.page.locator(".json-table__key", has_text=key))
            values = [row.nth(i) for i in range(row.count())
                      if row.nth(i).locator(".json-table__key").inner_text().strip() == key]
            shown[key] = values[0].locator(".json-table__value").inner_text().strip() if values else None
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in span["name"])[:50]
        self.page.screenshot(path=str(self.shots / f"{label}_attributes_{span['kind']}_{safe}.png"))
        details.get_by_role("tab", name="Info").click()
        self.info.wait_for()
        return shown

    def nodes(self, spans: list[dict]) -> tuple[dict, dict[str, dict], dict[str, int]]:
        """The trace in Phoenix, its nodes by span id, and each node's place among the same-named ones."""
        trace = phoenix_trace(self.base, spans)
        nodes = {e["node"]["context"]["spanId"]: e["node"] for e in trace["spans"]["edges"]}
        order = sorted(nodes.values(), key=lambda n: n["startTime"])  # the tree's order for same-named spans
        nth = {span_id: [n["id"] for n in order if n["name"] == node["name"]].index(node["id"])
               for span_id, node in nodes.items()}
        return trace, nodes, nth

    def check_trace(self, label: str, spans: list[dict]) -> dict:
        trace, nodes, nth = self.nodes(spans)
        self.open_trace(trace, spans[0]["trace_id"])
        self.page.screenshot(path=str(self.shots / f"{label}_trace.png"))
        for span in spans:
            self.check(span, nodes[span["span_id"]], nth[span["span_id"]], label)
        return trace


# --- the tests ---


def names(spans: list[dict], kind: str) -> list[str]:
    return [s["name"] for s in sorted(spans, key=lambda s: s["start_time"]) if s["kind"] == kind]


def test_spans_say_what_happened(runs):
    single, repl1, repl2 = runs["single"], runs["repl1"], runs["repl2"]
    assert names(single, "AGENT") == [f"task: {SINGLE_TASK}"]
    assert names(single, "CHAIN") == ["step 1", "step 2", "step 3", "step 4"]
    assert names(single, "LLM") == ["llm: replay:single.json"] * 4
    assert names(single, "TOOL") == ["list_files: *.py", "read_file: calc.py", "rg_search: def add",
                                     "run_cmd: git push --force"]
    assert names(repl1, "TOOL") == ["propose_patch: calc.py", "apply_patch p1", "run_cmd: git push"]
    assert names(repl2, "TOOL") == ["git_diff: calc.py"]
    by_name = {s["name"]: s for s in single + repl1}
    push = by_name["run_cmd: git push --force"]
    assert push["status"] == "ERROR" and "approval mode is 'never'" in push["status_message"]
    rule = push["attributes"]["policy.rule"]  # the policy's rule for pushes (policy.toml names it)
    assert [e["name"] for e in push["events"]] == [f"policy: ask (rule {rule}) → denied by the approval mode"]
    user_push = by_name["run_cmd: git push"]
    assert user_push["status"] == "ERROR" and user_push["attributes"]["approval.source"] == "user"
    assert [e["name"] for e in user_push["events"]] == [
        f"policy: ask (rule {user_push['attributes']['policy.rule']}) → denied by the user: {REFUSAL_MESSAGE}"]
    applied = by_name["apply_patch p1"]
    assert applied["status"] == "OK" and applied["attributes"]["approval.outcome"] == "approved"
    assert applied["events"][0]["name"].endswith("→ approved by the user")
    # The time at each prompt is a span of its own under its call (telemetry/spans.py approval_wait).
    waits = [s for s in repl1 if s["name"] == "approval.wait"]
    assert sorted(s["parent_id"] for s in waits) == sorted([applied["span_id"], user_push["span_id"]])
    assert {s["attributes"]["output.value"].split(" after ")[0] for s in waits} == {"approved", "denied"}
    assert sorted(s["attributes"]["input.value"] for s in waits) == ["asked: apply_patch p1", "asked: run_cmd: git push"]
    # A refused call makes the whole trace ERROR (telemetry/review.py): the trace list shows it red.
    # Who refused what, first (the trace list's error column is narrow); a patch no test ran after is not green.
    statuses = {"single": ("ERROR", "refused: approval mode is 'never' (run_cmd: git push --force)"),
                "repl1": ("ERROR", "refused by the user (run_cmd: git push), tests not run after the last change"),
                "repl2": ("OK", None), "planned": ("OK", None)}
    for label, spans in runs.items():
        root = next(s for s in spans if s["kind"] == "AGENT")
        assert root["parent_id"] is None and (root["status"], root["status_message"]) == statuses[label], label
        assert root["attributes"]["agent_runtime.refusals"] == (1 if label in ("single", "repl1") else 0)
        assert all("tool.parameters" not in s["attributes"] for s in spans)
    # One Phoenix session per REPL, its own for a single task; every span carries it.
    sessions = {label: {s["attributes"].get("session.id") for s in spans} for label, spans in runs.items()}
    assert all(len(ids) == 1 for ids in sessions.values()), sessions
    assert sessions["repl1"] == sessions["repl2"] != sessions["single"]
    assert next(iter(sessions["repl1"])).startswith("repl-") and next(iter(sessions["single"])).startswith("task-")
    assert next(iter(sessions["planned"])).startswith("task-") and sessions["planned"] != sessions["single"]
    # The planned task: the planner's stage, then the coder's step; each model call says its role.
    planned = runs["planned"]
    assert names(planned, "CHAIN") == ["plan", "step 1"]
    assert [(s["name"], s["attributes"]["llm.role"]) for s in sorted(planned, key=lambda s: s["start_time"])
            if s["kind"] == "LLM"] == list(PLANNED_LLMS.items())


def test_the_planned_run_has_a_plan_span_over_the_planner_and_a_role_for_each_model(runs):
    planned = runs["planned"]
    by_name = {s["name"]: s for s in planned}
    assert names(planned, "AGENT") == [f"task: {PLANNED_TASK}"]
    llms = [s for s in sorted(planned, key=lambda s: s["start_time"]) if s["kind"] == "LLM"]
    assert [s["attributes"]["llm.role"] for s in llms] == ["planner", "coder"]
    root, plan = by_name[f"task: {PLANNED_TASK}"], by_name["plan"]
    assert root["attributes"]["agent.outcome"] == "answered"
    assert plan["parent_id"] == root["span_id"] and plan["kind"] == "CHAIN"
    assert llms[0]["parent_id"] == plan["span_id"], "the planner's call is inside the plan's span"
    assert llms[1]["parent_id"] == by_name["step 1"]["span_id"], "the coder's call is its step's"
    attrs = plan["attributes"]
    assert list(attrs["plan.targets"]) == [PLAN_TARGET] and attrs["plan.problem"] == PLAN_PROBLEM
    assert attrs["plan.used"] is True and "plan.note" not in attrs and "plan.dropped" not in attrs
    assert "apply_patch p1" in by_name and by_name["apply_patch p1"]["status"] == "OK"


def test_every_span_renders_in_the_phoenix_ui(phoenix, runs, page, shots, timings):
    ui = PhoenixUI(page, phoenix.url, shots, timings)
    started = time.monotonic()
    for label, spans in runs.items():
        ui.check_trace(label, spans)
    timings["spans_clicked"] = len(ui.clicks)
    timings["span_click_to_info_s_mean"] = round(sum(ui.clicks) / len(ui.clicks), 2)
    timings["span_click_to_info_s_max"] = round(max(ui.clicks), 2)
    timings["all_spans_checked_s"] = round(time.monotonic() - started, 1)
    assert not ui.failures, "\n".join(ui.failures)
    assert len(ui.clicks) == sum(len(spans) for spans in runs.values())


def test_the_plan_and_each_models_role_show_in_the_phoenix_ui(phoenix, runs, page, shots, timings):
    """The plan's span shows the problem and the target (Info tab: the plan as JSON; Attributes tab:
    plan.problem, plan.targets.0); the planner's call is nested under it in the tree; the Attributes
    tab of each model call shows its llm.role."""
    spans = runs["planned"]
    ui = PhoenixUI(page, phoenix.url, shots, timings)
    started = time.monotonic()
    trace, nodes, nth = ui.nodes(spans)
    ui.open_trace(trace, spans[0]["trace_id"])
    by_name = {s["name"]: s for s in spans}
    plan = by_name["plan"]
    planner_name = next(name for name, role in PLANNED_LLMS.items() if role == "planner")
    # The tree: the planner's call is a child of `plan` (a node's children are in the <ul> of its <li>).
    plan_item = ui.tree.locator("li").filter(has=page.locator('span[title="plan"]')).last
    assert plan_item.locator(f'ul span[title="{planner_name}"]').count() == 1, "the planner's call is under plan"

    ui.select(nodes[plan["span_id"]], nth[plan["span_id"]])
    info = ui.info.inner_text()
    ui.info.get_by_text(f'"problem": {json.dumps(PLAN_PROBLEM)}').first.scroll_into_view_if_needed()  # below the request
    page.screenshot(path=str(shots / "planned_plan_info.png"))
    assert PLAN_PROBLEM in info and PLAN_TARGET in info, info[-1500:]
    assert f'"problem": {json.dumps(PLAN_PROBLEM)}' in info and '"used": true' in info
    shown = ui.attributes(plan, nodes[plan["span_id"]], nth[plan["span_id"]],
                          ["plan.problem", "plan.targets.0", "plan.used", "openinference.span.kind"], "planned")
    assert shown == {"plan.problem": PLAN_PROBLEM, "plan.targets.0": PLAN_TARGET, "plan.used": "true",
                     "openinference.span.kind": "CHAIN"}, shown

    roles = {}
    for name in PLANNED_LLMS:
        span = by_name[name]
        shown = ui.attributes(span, nodes[span["span_id"]], nth[span["span_id"]], ["llm.role", "llm.model_name"],
                              "planned")
        assert shown["llm.model_name"] == name.removeprefix("llm: "), shown
        roles[name] = shown["llm.role"]
    assert roles == PLANNED_LLMS, roles
    timings["plan_and_roles_checked_s"] = round(time.monotonic() - started, 1)


def test_the_sessions_page_lists_the_repl_session_with_both_traces(phoenix, runs, page, shots, timings):
    repl = [phoenix_trace(phoenix.url, runs[label]) for label in ("repl1", "repl2")]
    single = phoenix_trace(phoenix.url, runs["single"])
    session_id = runs["repl1"][0]["attributes"]["session.id"]
    assert [t["session"]["sessionId"] for t in repl] == [session_id, session_id]
    assert single["session"]["sessionId"] != session_id
    started = time.monotonic()
    page.goto(f"{phoenix.url}/projects/{repl[0]['project']['id']}/sessions")
    page.get_by_text(session_id).first.wait_for()
    page.wait_for_timeout(500)
    page.screenshot(path=str(shots / "sessions_list.png"))
    page.get_by_text(session_id).first.click()
    details = page.get_by_test_id("session-details-layout")
    for spans in (runs["repl1"], runs["repl2"]):
        details.get_by_text(spans[0]["trace_id"]).first.wait_for()
    page.wait_for_timeout(500)
    timings["sessions_page_s"] = round(time.monotonic() - started, 2)
    page.screenshot(path=str(shots / "session_repl.png"))
    text = details.inner_text()
    for expected in [*REPL_TASKS, *REPL_ANSWERS]:
        assert expected in text, f"the session page lacks {expected!r}"
    assert SINGLE_TASK not in text, "the single task is in a session of its own"
