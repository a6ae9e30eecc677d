"""Red team, redaction: credentials in shapes the redactor did not know (HTTP basic
authorization in a header that a sandboxed `git config` or a test printed)."""

from __future__ import annotations

import base64

from agent_runtime.redact import Redactor


def test_http_basic_credentials_are_redacted():
    token = base64.b64encode(b"deploy-bot:s3cr3t-pa55word").decode()
    redact = Redactor()
    for text in (f"extraheader = AUTHORIZATION: basic {token}", f"Authorization: Basic {token}",
                 f"curl -H 'Authorization: BASIC {token}'"):
        out = redact(text)
        assert token not in out and token[4:] not in out and "[REDACTED]" in out, out


def test_ordinary_words_after_basic_stay():
    assert Redactor()("a basic example of the basic idea") == "a basic example of the basic idea"
