"""Redaction that holds: every value of a workspace's .env files (any name), secret-looking
environment variables and the user's keys, in every encoded form, out of spans, run files,
the terminal and `tool` output; run directories and the undo journal private; writers that
never fail on what a model or a file contains."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import urllib.parse
from pathlib import Path

import pytest
from conftest import BUGGY_PROJECT, make_repo, run_cli, step, write_replay
from rich.console import Console

from agent_runtime.redact import REDACTED, Redactor, encoded_forms

PASSWORD = "Sup3r-S3cret-Pw"
DATABASE_URL = f"postgres://admin:{PASSWORD}@db.internal.example:5432/app"
PLAIN_NAMED = "nothing-secret-in-the-name-7731"  # a value under an innocent-looking name


def forms_of(secret: str) -> list[str]:
    data = secret.encode()
    return [
        secret,
        data.hex(),
        data.hex().upper(),
        base64.b64encode(data).decode(),
        base64.urlsafe_b64encode(data).decode(),
        base64.b64encode(b"x" + data + b"yz").decode(),  # inside a longer blob, at another alignment
        base64.b64encode(b"xy" + data).decode(),
        json.dumps(secret)[1:-1],
        urllib.parse.quote(secret, safe=""),
    ]


def assert_clean(text: str, *secrets: str) -> None:
    for secret in secrets:
        for form in forms_of(secret):
            core = form.rstrip("=")[3:-3] if len(form) > 12 else form  # a base64 blob's middle is the secret
            assert core not in text, f"{secret!r} leaked as {form!r}"


# --- the Redactor itself ---


def test_every_encoded_form_is_redacted():
    redact = Redactor([DATABASE_URL, PLAIN_NAMED])
    for secret in (DATABASE_URL, PASSWORD, PLAIN_NAMED):
        for form in forms_of(secret):
            text = f"before {form} after"
            assert_clean(redact(text), secret)
            assert "before" in redact(text) and "after" in redact(text)
    assert redact(json.dumps({"url": DATABASE_URL})) == json.dumps({"url": REDACTED})


def test_url_credentials_are_redacted_whatever_their_origin():
    redact = Redactor()
    assert redact("connect to mysql://root:toor@10.0.0.5/db now") == f"connect to mysql://{REDACTED}@10.0.0.5/db now"
    assert redact('{"u":"https://bob:p@ss@host/x","e":"a@b"}') == '{"u":"https://' + REDACTED + '@host/x","e":"a@b"}'
    assert redact("http://localhost:8080/path and ssh://git@github.com") == \
        "http://localhost:8080/path and ssh://git@github.com", "URLs without a password are left alone"


def test_the_redactor_never_fails_and_its_output_can_be_written(tmp_path):
    redact = Redactor(["s3cret-value"])
    nasty = "lone \ud83e surrogate, NUL \x00, escaped bytes \udcff\udcfe, s3cret-value"
    out = redact(nasty)
    assert "s3cret-value" not in out and "\\ud83e" in out
    (tmp_path / "f.txt").write_text(out, encoding="utf-8")  # no UnicodeEncodeError
    assert redact.value({"k": ["s3cret-value", 1, None, ("x", "s3cret-value")]}) == \
        {"k": [REDACTED, 1, None, ("x", REDACTED)]}
    assert Redactor()(123) == "123"


def test_short_and_plain_values_are_not_turned_into_redaction_everywhere():
    assert "1234" in Redactor(["1234"])("pin 1234"), "too short to redact safely"
    forms = encoded_forms("abcdefgh")
    assert "abcdefgh" in forms and "6162636465666768" in forms


def test_for_session_gathers_every_source(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".env").write_text(f"DATABASE_URL={DATABASE_URL}\nGREETING={PLAIN_NAMED}\nDEBUG=true\nPORT=8080\n")
    (repo / ".env.production").write_text("STRIPE_KEY=rk_live_0123456789abcdef\n")
    (repo / ".env.example").write_text("EXAMPLE_VALUE=placeholder-not-secret\n")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / ".env").write_text("CWD_VALUE=from-the-current-dir-42\n")
    user = tmp_path / "config" / "agent-runtime" / "config.env"
    user.parent.mkdir(parents=True)
    user.write_text("MODEL_API_KEY=user-config-model-key-1\nMODEL_ID=openai/gpt-4o-mini\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("MY_SERVICE_TOKEN", "env-token-value-555")
    monkeypatch.setenv("HARMLESS_DIR", "/usr/local/share/harmless")

    class Settings:
        model_api_key = "settings-model-key-2"

    redact = Redactor.for_session(repo, Settings(), cwd=cwd)
    text = " ".join([DATABASE_URL, PASSWORD, PLAIN_NAMED, "rk_live_0123456789abcdef", "from-the-current-dir-42",
                     "user-config-model-key-1", "env-token-value-555", "settings-model-key-2"])
    assert redact(text) == " ".join([REDACTED] * 8)
    kept = redact("placeholder-not-secret openai/gpt-4o-mini /usr/local/share/harmless true 8080")
    assert kept == "placeholder-not-secret openai/gpt-4o-mini /usr/local/share/harmless true 8080"


# --- run records: private, and never failing ---


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_run_records_are_private_and_writers_never_fail(tmp_path, monkeypatch):
    from agent_runtime.config import load_settings
    from agent_runtime.telemetry.records import RunRecord, load_run

    old = os.umask(0o000)  # the most permissive umask: files must still be private
    try:
        record = RunRecord.start(tmp_path / "runs", "task \ud83e", load_settings({}), tmp_path, "replay:x", "never",
                                 "bwrap", Redactor(["s3cret-value"]))
        record.event("tool_call", arguments={"code": "print('\ud83e')", "nul": "a\x00b", "bytes": b"\xff\xfe",
                                             "value": "s3cret-value", "surrogate_escape": "\udcff"})
        record.event("odd", thing=object(), nested={"deep": ["\ud800", 1.5]})
        record.finish("answered", "the answer \ud83e s3cret-value", steps=1)
    finally:
        os.umask(old)
    assert mode(record.dir) == 0o700
    for name in ("metadata.json", "events.jsonl", "final.md", "trace.jsonl"):
        assert mode(record.dir / name) == 0o600, name
    lines = (record.dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    events = [json.loads(line) for line in lines]
    assert events[0]["arguments"]["value"] == REDACTED and events[0]["arguments"]["nul"] == "a\x00b"
    assert "s3cret-value" not in (record.dir / "final.md").read_text()
    assert load_run(record.dir)["outcome"] == "answered"


def test_the_undo_journal_is_private(tmp_path, tools_for):
    repo = make_repo(tmp_path / "r", {"a.txt": "a1\n"})
    old = os.umask(0o000)
    try:
        runtime, tools = tools_for(repo)
        tools["apply_patch"](patch_id=tools["propose_patch"](path="a.txt", old="a1", new="a2")["patch_id"])
    finally:
        os.umask(old)
    undo = Path(os.environ["XDG_STATE_HOME"]) / "agent-runtime" / "undo"
    journals = sorted(p.name.split(".", 1)[1] for p in undo.iterdir())
    assert journals == ["ids", "jsonl", "lock", "proposed.jsonl"]  # id counters, applied, lock, proposals
    assert all(mode(p) == 0o600 for p in undo.iterdir()) and mode(undo) == 0o700


# --- a whole run: nothing of the .env reaches trace, events, metadata or the terminal ---


def test_a_run_never_writes_env_values_anywhere(tmp_path):
    repo = make_repo(tmp_path / "p", {**BUGGY_PROJECT, ".gitignore": ".env\n"})
    (repo / ".env").write_text(f"DATABASE_URL={DATABASE_URL}\nGREETING={PLAIN_NAMED}\n")
    b64 = base64.b64encode(PASSWORD.encode()).decode()
    replay = write_replay(tmp_path / "r.json", [
        step(f"The database is {DATABASE_URL}.",
             f'print(rg_search(pattern="{PASSWORD}"))\nprint("{PLAIN_NAMED}", "{PASSWORD.encode().hex()}", "{b64}")'),
        step("Echo it.", f'print(run_cmd(command="echo {DATABASE_URL} {PLAIN_NAMED}"))'),
        step("A string a writer chokes on.", 'print(rg_search(pattern="x", glob="\\ud83e"))'),
        step("Done.", f'final_answer("the password is {PASSWORD}")'),
    ])
    runs = tmp_path / "runs"
    done = run_cli("--approval", "never", "--model", f"replay:{replay}", "look at the database", cwd=repo,
                   env={"RUNS_DIR": str(runs), "XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    assert done.returncode == 0, done.stderr
    run_dir = next(runs.iterdir())
    assert mode(run_dir) == 0o700
    written = {p.name: p.read_text(encoding="utf-8") for p in run_dir.iterdir() if p.is_file()}
    assert written["events.jsonl"].count("\n") == 3, "the events of every call were written"
    assert "\\ud83e" in written["events.jsonl"], "the lone surrogate is kept, as an escape"
    assert "tool_call" in written["events.jsonl"] and written["trace.jsonl"].strip()
    for name, text in written.items():
        assert mode(run_dir / name) == 0o600, name
        assert_clean(text, DATABASE_URL, PASSWORD, PLAIN_NAMED)
    assert_clean(done.stdout + done.stderr, DATABASE_URL, PASSWORD, PLAIN_NAMED)
    assert "the password is [REDACTED]" in done.stdout


def test_tool_command_output_is_redacted(tmp_path):
    repo = make_repo(tmp_path / "p", {"a.txt": "a\n", ".gitignore": ".env\n"})
    (repo / ".env").write_text(f"DATABASE_URL={DATABASE_URL}\n")
    done = run_cli("tool", "run_cmd", json.dumps({"command": f"echo {PASSWORD} {DATABASE_URL}"}), cwd=repo,
                   env={"XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    assert done.returncode == 0, done.stderr
    assert_clean(done.stdout + done.stderr, DATABASE_URL, PASSWORD)
    assert REDACTED in done.stdout


def test_observations_on_the_terminal_are_redacted_and_visible():
    from types import SimpleNamespace

    from agent_runtime.cli.display import Display
    from agent_runtime.redact import active_redactor, install_redaction

    before = active_redactor()
    install_redaction(Redactor([PASSWORD]))
    try:
        buffer = io.StringIO()
        display = Display(console=Console(file=buffer, width=200, force_terminal=True), out=io.StringIO())
        step_ = SimpleNamespace(step_number=1, model_output=f"I see {PASSWORD}", error=None, timing=None,
                                token_usage=None, observations=f"Execution logs:\nrow {PASSWORD} \x1b[2Kgone\n")
        display.step_done(step_, code_shown=False)
    finally:
        install_redaction(before)
    out = buffer.getvalue()
    assert PASSWORD not in out and "row [REDACTED] ^[[2Kgone" in out and "\x1b[2Kgone" not in out


@pytest.mark.parametrize("value", ["\ud83e", "\x00", "\udcff"])
def test_span_files_take_any_string(tmp_path, value):
    from agent_runtime.config import load_settings
    from agent_runtime.telemetry.exporters import Tracing

    tracing = Tracing(load_settings({}), Redactor(["s3cret-value"]))
    try:
        path = tmp_path / "trace.jsonl"
        tracing.start_run(path)
        with tracing.provider.get_tracer("test").start_as_current_span("odd") as span:
            span.set_attribute("input.value", f"x{value}y s3cret-value")
        tracing.end_run()
    finally:
        tracing.shutdown()
    spans = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert spans and "s3cret-value" not in path.read_text()
