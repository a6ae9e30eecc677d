"""How many secrets the redactor finds by their shape alone (no secret variable or .env names them),
and how much ordinary code it changes (issue 45).

    python benchmarks/secret_recall.py [--before REF] [--lines N] [--seed S]

Recall per kind: on FAKE secrets generated in each real format (npm, GitHub, GitLab, Slack, AWS,
a GCP service-account key file, Azure storage, Stripe, OpenAI, Anthropic, Hugging Face, PEM private
keys, `password=`, URL passwords, JWTs), each in a few of the places it is met (a config line, a
command, JSON, prose), the share whose secret is gone: neither whole nor either half of it left.
"before" is the redactor of REF (default main), loaded from git on its own.

False positives: of N ordinary lines of code (spread evenly over this repository's agent_runtime/ and
the installed `rich` package), how many redaction changes; how many it changes once detect-secrets'
high-entropy plugins (left out of the redactor) are added; and of all those lines, how many change.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import random
import string
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

from _common import ROOT, emit

from agent_runtime.redact import Redactor

ALNUM = string.ascii_letters + string.digits


def corpus(rng: random.Random) -> dict[str, list[tuple[str, str]]]:
    """kind -> [(text, the secret in it)]."""
    def pick(chars: str, n: int) -> str:
        return "".join(rng.choice(chars) for _ in range(n))

    def b64(n: int) -> str:
        return base64.b64encode(rng.randbytes(n)).decode()

    def b64url(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    out: dict[str, list[tuple[str, str]]] = {}

    def add(kind: str, secret: str, *templates: str) -> None:
        out.setdefault(kind, []).extend((t.format(s=secret), secret) for t in templates)

    for _ in range(3):
        add("npm", "npm_" + pick(ALNUM, 36), "//registry.npmjs.org/:_authToken={s}", "NPM_TOKEN={s} npm publish",
            '{{"npmrc": "//registry.npmjs.org/:_authToken={s}"}}')
        add("github_classic", "ghp_" + pick(ALNUM, 36), "git clone https://x-access-token:{s}@github.com/o/r",
            "export GH_TOKEN={s}", "the token is {s}.")
        add("github_fine_grained", f"github_pat_{pick(ALNUM, 22)}_{pick(ALNUM, 59)}", "GITHUB_TOKEN={s}",
            '{{"token": "{s}"}}')
        add("gitlab", "glpat-" + pick(ALNUM + "_-", 20), "PRIVATE-TOKEN: {s}", "gitlab_token = '{s}'")
        add("slack", f"xoxb-{pick(string.digits, 12)}-{pick(string.digits, 13)}-{pick(ALNUM, 24)}",
            "SLACK_BOT_TOKEN={s}", "curl -H 'Authorization: Bearer {s}' https://slack.com/api/auth.test")
        add("aws_access_key_id", "AKIA" + pick(string.ascii_uppercase + string.digits, 16),
            "aws_access_key_id = {s}", '{{"AccessKeyId": "{s}"}}')
        add("aws_secret_access_key", pick(ALNUM + "/+", 40), "aws_secret_access_key = {s}",
            "aws_secret_access_key={s}", "export AWS_SECRET_ACCESS_KEY={s}", '{{"SecretAccessKey": "{s}"}}')
        body = "".join(b64(48) + "\\n" for _ in range(4))
        gcp = json.dumps({"type": "service_account", "project_id": "demo", "private_key_id": pick("0123456789abcdef", 40),
                          "private_key": "-----BEGIN PRIVATE KEY-----\n" + body.replace("\\n", "\n")
                          + "-----END PRIVATE KEY-----\n", "client_email": "x@demo.iam.gserviceaccount.com"})
        out.setdefault("gcp_service_account_key", []).append((gcp, body.split("\\n")[1]))
        add("azure_storage_key", b64(64),
            "DefaultEndpointsProtocol=https;AccountName=demo;AccountKey={s};EndpointSuffix=core.windows.net",
            "az storage blob list --account-name demo --account-key {s}", "AZURE_STORAGE_KEY={s}")
        add("stripe", "sk_live_" + pick(ALNUM, 99), "STRIPE_SECRET_KEY={s}", "stripe.api_key = \"{s}\"")
        add("stripe_legacy", "sk_live_" + pick(ALNUM, 24), "Stripe key {s} rotated")
        add("openai", f"sk-proj-{pick(ALNUM + '_-', 74)}T3BlbkFJ{pick(ALNUM + '_-', 74)}", "OPENAI_API_KEY={s}",
            "client = OpenAI(api_key=\"{s}\")")
        add("anthropic", f"sk-ant-api03-{pick(ALNUM + '_-', 93)}AA", "ANTHROPIC_API_KEY={s}", "x-api-key: {s}")
        add("huggingface", "hf_" + pick(string.ascii_letters, 34), "HF_TOKEN={s}", "huggingface-cli login --token {s}")
        for kind in ("RSA PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY"):
            lines = [b64(48) for _ in range(3)]
            pem = f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----"
            out.setdefault("pem_private_key", []).append((pem, lines[1]))
        password = pick(ALNUM, 14)
        add("password", password, "password={s}", "DB_PASSWORD={s}", "password: {s}", '{{"password": "{s}"}}',
            "db_password = '{s}'", "mysql --password={s} app")
        add("url_password", pick(ALNUM, 12) + "@" + pick(ALNUM, 4), "postgres://app:{s}@db.internal:5432/app",
            "DATABASE_URL=mysql://root:{s}@10.0.0.5/db", "git remote add o https://me:{s}@git.example.com/r.git")
        header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = b64url(json.dumps({"sub": pick(string.digits, 8), "name": "Jo", "iat": 1700000000}).encode())
        add("jwt", f"{header}.{claims}.{b64url(rng.randbytes(32))}", "Authorization: Bearer {s}", "token={s}",
            "session cookie {s}")
    return out


def redacted(out: str, secret: str) -> bool:
    half = len(secret) // 2
    return not any(piece in out for piece in (secret, secret[:half], secret[half:]) if len(piece) >= 6)


def recall(redact: Callable[[str], str], samples: dict[str, list[tuple[str, str]]]) -> dict[str, float]:
    return {kind: round(sum(redacted(redact(text), secret) for text, secret in pairs) / len(pairs), 2)
            for kind, pairs in samples.items()}


def old_redactor(ref: str) -> Callable[[str], str] | None:
    """REF's Redactor, loaded from git as a module of its own (it kept its patterns in redact.py)."""
    for path in ("agent_runtime/redact.py", "agent_runtime/redact/__init__.py"):
        shown = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:{path}"], capture_output=True, text=True)
        if shown.returncode == 0:
            break
    else:
        return None
    file = Path(tempfile.mkdtemp(prefix="redact-before-")) / "redact_before.py"
    file.write_text(shown.stdout)
    spec = importlib.util.spec_from_file_location("redact_before", file)
    module = importlib.util.module_from_spec(spec)
    sys.modules["redact_before"] = module
    spec.loader.exec_module(module)
    return module.Redactor()


def code_lines(n: int) -> list[str]:
    """n non-blank lines of ordinary code, evenly spread over agent_runtime/ and then `rich`."""
    import rich

    lines = []
    for root in (ROOT / "agent_runtime", Path(rich.__file__).parent):
        for path in sorted(root.rglob("*.py")):
            lines += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    step = max(1, len(lines) // n)
    return lines[::step][:n]


def entropy_flags(lines: list[str]) -> set[str]:
    """The lines on which the high-entropy plugins (left out of the redactor) find something."""
    from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString, HexHighEntropyString

    plugins = [Base64HighEntropyString(), HexHighEntropyString()]
    return {line for line in lines if any(len(value) >= 6 for plugin in plugins for value in plugin.analyze_string(line))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="main", help="the git ref whose redactor is 'before'")
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=45)
    args = parser.parse_args()
    samples = corpus(random.Random(args.seed))
    after = Redactor()
    before = old_redactor(args.before)
    lines = code_lines(args.lines)
    changed_after = [line for line in lines if after(line) != line]
    figures = {
        "samples": {kind: len(pairs) for kind, pairs in samples.items()},
        "recall_after": recall(after, samples),
        "recall_before": recall(before, samples) if before else f"no redactor at {args.before}",
        "code_lines": len(lines),
        "false_positives_after": len(changed_after),
        "false_positives_before": sum(before(line) != line for line in lines) if before else None,
        "false_positives_with_entropy_plugins_added": len(set(changed_after) | entropy_flags(lines)),
        "changed_lines_after": changed_after[:20],
    }
    every = code_lines(10**9)  # all the lines, not a sample of them
    figures["all_code_lines"] = {"lines": len(every), "changed_after": sum(after(line) != line for line in every),
                                 "changed_before": sum(before(line) != line for line in every) if before else None}
    emit(figures)


if __name__ == "__main__":
    main()
