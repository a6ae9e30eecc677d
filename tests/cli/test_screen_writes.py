"""Nothing the model, a repository, a tool or a server writes may redraw or rewrite the screen, on any
path to the terminal besides the approval prompt's body (tests/safety/test_approval_visible.py): log
lines, rich's emoji codes, an internal error's message, the --json stream read on a terminal."""

from __future__ import annotations

import io
import json
import logging

import pytest

from agent_runtime.cli import main as cli_main
from agent_runtime.cli.display import Display, stderr_console
from agent_runtime.cli.jsonout import JsonDisplay
from agent_runtime.safety import approval, planted

# An OSC 52 clipboard write, a screen clear and a window title: none may reach the terminal raw.
HOSTILE = "\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07\x1b[2J\x1b]0;ok\x07"


def test_a_log_line_quoting_a_sandboxed_programs_file_name_shows_its_escapes(tmp_path, capsys):
    """planted.remove logs the name of an entry a sandboxed command created: the name is the command's."""
    logger = logging.getLogger("agent_runtime")
    handler, level = cli_main.terminal_log_handler(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    try:
        assert planted.remove(str(tmp_path), f"gone{HOSTILE}/x") is False  # its folder cannot be reached
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    err = capsys.readouterr().err
    assert "could not reach gone^[]52;c;" in err, err
    assert "\x1b" not in err and "\x07" not in err, repr(err)


@pytest.mark.parametrize("code", [":lock:", ":cross_mark:", ":warning-emoji:"])
def test_an_emoji_code_in_a_command_is_shown_as_written(code, capsys):
    """rich turns `:lock:` into 🔒 in a printed string: the notice of a remembered approval would name
    a command other than the one that runs."""
    approval.stderr_notice(f"approved: remembered from this session — run_cmd: cat {code}")
    display = Display(stderr_console(force_terminal=True, width=100))
    display.warn(f"cannot read {code}")
    display.error(f"no file {code}")
    display.task(f"fix {code}")
    err = capsys.readouterr().err
    assert err.count(code) == 4, err


def test_an_internal_errors_message_shows_its_escapes(monkeypatch, capsys):
    def broken() -> int:
        raise RuntimeError(f"name{HOSTILE}")  # a bug's message may quote anything it was given

    monkeypatch.setattr(cli_main, "main", broken)
    with pytest.raises(SystemExit):
        cli_main.entry()
    err = capsys.readouterr().err
    assert "internal error: RuntimeError" in err and "^[[2J" in err, err
    assert "\x1b" not in err and "\x07" not in err, repr(err)


def test_json_events_read_on_a_terminal_hide_nothing_and_decode_to_what_was_said():
    """Bidi overrides, zero-width and tag characters, line separators go out as \\u escapes: the same
    JSON value, but a terminal (or `less`) showing the line cannot be reordered by them."""
    out = io.StringIO()
    display = JsonDisplay(out=out, quiet=True)
    said = f"rm -rf build\u202e#/ \u2066x\u2069 a\u200bb \U000e0041 \u2028 \x85 \x7f café 中文 {HOSTILE}"
    display.event("warning", message=said)
    line = out.getvalue()
    for char in ("\u202e", "\u2066", "\u2069", "\u200b", "\U000e0041", "\u2028", "\x85", "\x7f", "\x1b", "\x07"):
        assert char not in line, repr(char)
    assert "\\u202e" in line and "\\udb40\\udc41" in line, line
    assert "café 中文" in line, "letters of any script stay as they are"
    assert json.loads(line)["message"] == said
