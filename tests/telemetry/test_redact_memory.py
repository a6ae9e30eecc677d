"""Redaction that remembers: a secret found by its shape once (beside its label, in a bearer header, as
a whole private key) is a known value from then on, in every encoded form, so it is taken out where it
appears again alone: in a later span, steps.jsonl line or final.md of the same run. A private key's
header folded or cut off does not let it through either."""

from __future__ import annotations

import base64
import json
import textwrap
import urllib.parse

from conftest import BUGGY_PROJECT, make_repo, run_cli, step, write_replay

from agent_runtime.redact import REDACTED, Redactor

SECRET = "Zq8vTn3LpW4xKc"  # found by its label only: `password = '...'`
JWT_PARTS = [base64.urlsafe_b64encode(part).decode().rstrip("=") for part in (
    b'{"alg":"HS256","typ":"JWT"}', b'{"sub":"4242","name":"memory test"}', bytes(range(40, 72)))]
JWT = ".".join(JWT_PARTS)
SIGNATURE = JWT_PARTS[2]
PEM_LINES = [base64.b64encode(bytes(range(n, n + 48))).decode() for n in (10, 60, 110)]
PEM = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(PEM_LINES) + "\n-----END RSA PRIVATE KEY-----"
OTHER_LINES = [base64.b64encode(bytes(range(n, n + 48))).decode() for n in (3, 53)]
OTHER_PEM = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(OTHER_LINES) + "\n-----END OPENSSH PRIVATE KEY-----"


def forms(value: str) -> list[str]:
    data = value.encode()
    return [value, base64.b64encode(data).decode().rstrip("="), data.hex(), data.hex().upper(),
            urllib.parse.quote(value + "/", safe="")]


LATER = [  # the same secrets again, without what found them
    f"the value was {SECRET}", *(f"encoded: {form}" for form in forms(SECRET)[1:]),
    f"signature {SIGNATURE} alone", f"claims {JWT_PARTS[1]}", f"a line of the key: {PEM_LINES[1]}",
    "\n".join(PEM.splitlines()[1:-1]),  # the body without its header or footer
]


def test_a_fresh_redactor_does_not_know_them_alone():
    """What the memory is for: without the first sighting, these texts pass unchanged."""
    redact = Redactor()
    assert [redact(text) for text in LATER] == LATER


def test_what_was_found_by_shape_is_taken_out_wherever_it_appears_again():
    redact = Redactor()
    first = redact(f"password = '{SECRET}'\nAuthorization: Bearer {JWT}\n{PEM}")
    assert SECRET not in first and SIGNATURE not in first and PEM_LINES[0] not in first, first
    for text in LATER:
        out = redact(text)
        assert REDACTED in out, (text, out)
        assert not any(piece in out for piece in (SECRET, SIGNATURE, JWT_PARTS[1], *PEM_LINES)), out
        assert not any(form in out for form in forms(SECRET)), out
    assert redact("ordinary words stay") == "ordinary words stay"


def test_an_ordinary_word_found_beside_a_label_is_not_remembered():
    """`http://user:secret@host` in a comment takes out `secret` there; remembered, it would take the
    word out of all code after it (benchmarks/secret_recall.py: 213 of 66,687 lines changed, not 6)."""
    redact = Redactor()
    assert redact("# http://user:secret@host: an example") == f"# http://{REDACTED}@host: an example"
    assert redact("import secrets\npassword = password") == "import secrets\npassword = password"


def test_a_private_key_with_its_header_folded_or_cut_off_is_taken_out():
    """`fold -w 20` splits the header over lines; a header cut in an earlier output leaves `KEY-----`
    and the body, or the body and the footer."""
    folded = "\n".join(textwrap.wrap(OTHER_PEM.replace("\n", " "), 20, break_on_hyphens=False))
    cut = OTHER_PEM[OTHER_PEM.index("KEY-----"):]
    tail = OTHER_PEM[OTHER_PEM.index("\n") + 1:]
    json_cut = json.dumps({"key": "RSA PRIVATE KEY-----\n" + "\n".join(OTHER_LINES) + "\n"})
    for text in (folded, cut, tail, json_cut):
        out = Redactor()(text)
        assert not any(line[8:40] in out for line in OTHER_LINES), (text, out)
    public = "-----BEGIN PUBLIC KEY-----\n" + OTHER_LINES[0] + "\n-----END PUBLIC KEY-----"
    assert Redactor()(public) == public  # not a secret


def test_a_run_record_takes_them_out_after_the_first_sighting(tmp_path):
    """A real run: the first step's code holds the secrets where their shape shows; the second prints
    them alone (base64, hex, the JWT's signature, the key's lines) and the answer repeats the bare
    value. None of it is in trace.jsonl, steps.jsonl, final.md or on the terminal."""
    repo = make_repo(tmp_path / "p", BUGGY_PROJECT)
    first = f"password = '{SECRET}'\nheader = 'Authorization: Bearer {JWT}'\nkey = '''{PEM}'''\nprint('seen')"
    again = "\n".join(f"print({text!r})" for text in LATER)
    replay = write_replay(tmp_path / "r.json", [
        step("I look at the configuration.", first),
        step("Printing what I found.", again),
        step("Done.", f"final_answer('the database password is {SECRET}, signature {SIGNATURE}')"),
    ])
    runs = tmp_path / "runs"
    done = run_cli("--approval", "never", "--model", f"replay:{replay}", "find the credentials", cwd=repo,
                   env={"RUNS_DIR": str(runs), "XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    assert done.returncode == 0, done.stderr
    run_dir = next(runs.iterdir())
    written = {name: (run_dir / name).read_text(encoding="utf-8") for name in ("trace.jsonl", "steps.jsonl", "final.md")}
    assert "the database password is [REDACTED], signature [REDACTED]" in written["final.md"], written["final.md"]
    assert "encoded: [REDACTED]" in written["steps.jsonl"], "the second step is recorded, less its secrets"
    secrets = [*forms(SECRET), SIGNATURE, JWT_PARTS[1], *PEM_LINES]
    for name, text in written.items():
        assert [s for s in secrets if s in text or json.dumps(s)[1:-1] in text] == [], name
    assert [s for s in secrets if s in done.stdout + done.stderr] == [], "the terminal"


def test_many_finds_stay_quick_and_each_is_remembered_up_to_the_limit():
    """A run that prints hundreds of distinct tokens: each find is compiled alone and batches of like
    size merged, so the memory costs milliseconds a find, not a recompilation of everything."""
    import time

    from agent_runtime.redact import MAX_REMEMBERED

    redact = Redactor()
    redact("password = 'warm-up-1'")  # detect-secrets' import, outside the clock
    started = time.monotonic()
    for n in range(400):
        redact(f"password = 'Tok3n-{n:04d}-abcdefgh'")
    assert time.monotonic() - started < 10
    assert MAX_REMEMBERED - 20 < redact.count <= MAX_REMEMBERED
    assert redact("first Tok3n-0000-abcdefgh, later Tok3n-0120-abcdefgh") == f"first {REDACTED}, later {REDACTED}"
