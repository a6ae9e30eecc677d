"""Secrets found by their shape (detect-secrets' plugins and hand patterns for what they lack), with no
variable or .env file naming them: out of trace.jsonl, final.md and the terminal of a real run; and
ordinary code left as it is. All the secrets here are fake, in the real formats
(benchmarks/secret_recall.py measures the same on a larger corpus)."""

from __future__ import annotations

import base64
import json

import pytest
from conftest import BUGGY_PROJECT, make_repo, run_cli, step, write_replay

from agent_runtime.redact import REDACTED, Redactor

A36 = "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1eF3hJ5"  # 36 letters and digits
B64_64 = base64.b64encode(bytes(range(7, 71))).decode()  # 88 characters: an Azure storage key's length
PEM_BODY = base64.b64encode(bytes(range(100, 148))).decode()
JWT = ".".join(base64.urlsafe_b64encode(part).decode().rstrip("=") for part in (
    b'{"alg":"HS256","typ":"JWT"}', b'{"sub":"1234567890","iat":1700000000}', bytes(range(32))))

# kind -> (text as it is met, the secret in it)
SAMPLES = {
    "npm": (f"//registry.npmjs.org/:_authToken=npm_{A36}", f"npm_{A36}"),
    "npm bare": (f"NPM_TOKEN=npm_{A36} npm publish", f"npm_{A36}"),
    "github": (f"export GH_TOKEN=ghp_{A36}", f"ghp_{A36}"),
    "github fine-grained": (f"token github_pat_{A36[:22]}_{A36}{A36[:23]}", f"github_pat_{A36[:22]}_{A36}{A36[:23]}"),
    "gitlab": ("PRIVATE-TOKEN: glpat-" + A36[:20], "glpat-" + A36[:20]),
    "slack": ("SLACK_BOT_TOKEN=xoxb-123456789012-1234567890123-" + A36[:24], "xoxb-123456789012-1234567890123-" + A36[:24]),
    "aws key id": ("aws_access_key_id = AKIA" + A36.upper()[:16], "AKIA" + A36.upper()[:16]),
    "aws secret": ("aws_secret_access_key=" + A36[:30] + "/+Kq7mNp9r", A36[:30] + "/+Kq7mNp9r"),
    "gcp service account": (json.dumps({"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\n"
                                        + PEM_BODY + "\n-----END PRIVATE KEY-----\n"}), PEM_BODY),
    "azure": (f"DefaultEndpointsProtocol=https;AccountName=demo;AccountKey={B64_64};EndpointSuffix=core.windows.net",
              B64_64),
    "stripe": ("STRIPE_SECRET_KEY=sk_live_" + A36 * 2 + A36[:27], "sk_live_" + A36 * 2 + A36[:27]),
    "openai": (f"OPENAI_API_KEY=sk-proj-{A36}T3BlbkFJ{A36}", f"sk-proj-{A36}T3BlbkFJ{A36}"),
    "anthropic": (f"x-api-key: sk-ant-api03-{A36 * 2}AA", f"sk-ant-api03-{A36 * 2}AA"),
    "huggingface": ("HF_TOKEN=hf_" + A36[:34], "hf_" + A36[:34]),
    "pem": (f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----", PEM_BODY),
    "password": ("password=hunter2hunter2", "hunter2hunter2"),
    "password in json": ('{"password": "c0rrect-h0rse"}', "c0rrect-h0rse"),
    "url password": ("postgres://app:Pg-s3cret-99@db.internal:5432/app", "Pg-s3cret-99"),
    "jwt": (f"Authorization: Bearer {JWT}", JWT),
}

# Code that names secrets without holding one: redaction must not change a character of it.
ORDINARY = [
    "password = password",
    "self.secret = secret or (lambda rel: False)",
    "api_key: str | None = None",
    'secret = os.environ["SECRET"]',
    "if password == confirm_password:",
    'token = get_token(url, timeout=5)',
    'api_key_env = "MY_SERVER_KEY"',
    "password=${DB_PASSWORD}",
    "commit 3cbef60a1b2c3d4e5f60718293a4b5c6d7e8f901 (HEAD -> main)",
    'digest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"',
    "run_id = '7f3c9a2e-1b4d-4e8f-9a0b-2c3d4e5f6a7b'",
    "data = base64.b64decode('SGVsbG8sIHdvcmxkIQ==')",
    "return console.input(prompt, password=password, stream=stream)",
    "    def is_secret_name(name: str) -> bool:",
]


def leaked(text: str, secret: str) -> bool:
    half = len(secret) // 2
    return any(piece in text for piece in (secret, secret[:half], secret[half:]))


@pytest.mark.parametrize("kind", SAMPLES)
def test_each_kind_is_redacted_by_its_shape(kind):
    text, secret = SAMPLES[kind]
    out = Redactor()(f"before {text} after")
    assert not leaked(out, secret), out
    assert REDACTED in out and out.startswith("before ") and out.endswith(" after")


def test_ordinary_code_is_left_alone():
    redact = Redactor()
    assert [redact(line) for line in ORDINARY] == ORDINARY


def test_a_name_is_kept_where_its_value_goes():
    redact = Redactor()
    assert redact("password=hunter2hunter2 for the db") == f"password={REDACTED} for the db"
    assert redact(SAMPLES["azure"][0]).startswith(f"DefaultEndpointsProtocol=https;AccountName=demo;AccountKey={REDACTED}")


def test_json_stays_json():
    """A value cut at a backslash never takes half of an escape: redacted JSON text still parses."""
    redact = Redactor()
    text = json.dumps({"code": 'x = {"password": "hunter2hunter2"}\nurl = "' + SAMPLES["url password"][0] + '"'})
    out = redact(text)
    assert "hunter2hunter2" not in out and "Pg-s3cret-99" not in out
    assert json.loads(out)["code"].startswith('x = {"password": "[REDACTED]"}')


def test_a_run_writes_no_secret_found_by_shape(tmp_path):
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    everything = "\n".join(text for text, _ in SAMPLES.values())
    replay = write_replay(tmp_path / "r.json", [
        step("Here are the credentials I found:\n" + everything, f"print({everything!r})"),
        step("Done.", f"final_answer({everything!r})"),
    ])
    runs = tmp_path / "runs"
    done = run_cli("--approval", "never", "--model", f"replay:{replay}", "list the credentials", cwd=repo,
                   env={"RUNS_DIR": str(runs), "XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    assert done.returncode == 0, done.stderr
    run_dir = next(runs.iterdir())
    written = {p.name: p.read_text(encoding="utf-8") for p in run_dir.iterdir() if p.is_file()}
    assert written["trace.jsonl"].strip() and written["final.md"].strip()
    assert "registry.npmjs.org/:_authToken=[REDACTED]" in written["final.md"], "the answer is kept, less its secrets"
    for name, text in written.items():
        for kind, (_, secret) in SAMPLES.items():
            assert not leaked(text, secret), f"{kind} in {name}"
    for kind, (_, secret) in SAMPLES.items():
        assert not leaked(done.stdout + done.stderr, secret), f"{kind} on the terminal"


def test_text_that_makes_the_plugins_backtrack_is_redacted_quickly():
    """Some plugins' patterns are cubic in a run of spaces or quadratic in a long word: unguarded,
    the first of these took minutes (a run stalled on one span)."""
    import time

    redact = Redactor()
    for text in ("password " + " " * 20000 + "x", "password" * 2500, "secret_" * 3000, "key = " * 3000,
                 "ibm_cloud_iam_api_key " * 900, '{\\"password\\": \\"' * 1200, "password=" + "ab1" * 7000):
        start = time.monotonic()
        redact(text)
        assert time.monotonic() - start < 5, text[:40]
