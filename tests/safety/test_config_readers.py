"""A repository's configuration files are read only from the repository, and what they hold is
never quoted unless it is a variable's name.

The attack: `ln -s ~/.ssh/id_ed25519 .env` in a repository. python-dotenv reads a base64 line
ending in `=` as a variable's name, and the warning about ignored variables quoted those names:
key material on stderr (a terminal, CI logs, an MCP client's log).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_repo, run_cli

from agent_runtime.config import ConfigError, load_config, read_env_file

# A fake OpenSSH key: what matters is its shape (base64 lines, some ending in `=`).
KEY_LINES = ["b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
             "QyNTUxOQAAACBmYWtla2V5ZmFrZWtleWZha2VrZXlmYWtla2V5ZmFrZQAAAJgAAAAAAAAAAAAAAAt=",
             "ZmFrZWtleWZha2VrZXlmYWtla2V5ZmFrZWtleWZha2U=",
             "AAAEBmYWtlc2VjcmV0ZmFrZXNlY3JldGZha2VzZWNyZXQ=="]
FAKE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(KEY_LINES) + "\n-----END OPENSSH PRIVATE KEY-----\n"


def key_material(text: str) -> list[str]:
    """The key's lines (or long pieces of them) found in `text`."""
    return [line for line in KEY_LINES if line[:24] in text or line.rstrip("=")[-24:] in text]


@pytest.fixture
def fake_key(tmp_path) -> Path:
    key = tmp_path / "home" / ".ssh" / "id_ed25519"
    key.parent.mkdir(parents=True)
    key.write_text(FAKE_KEY)
    key.chmod(0o600)
    return key


def test_python_dotenv_reads_key_lines_as_names(fake_key):
    """Why quoting names was a leak (so the tests below can fail): the key's lines come back as names."""
    names = list(read_env_file(fake_key))
    assert key_material(" ".join(names)), names


def test_a_dotenv_symlinked_to_a_key_is_refused_and_nothing_of_it_is_shown(tmp_path, fake_key):
    repo = make_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    (repo / ".env").symlink_to(fake_key)
    settings, warnings = load_config(repo, env={}, cwd=repo, user_file=tmp_path / "none.env", export=False)
    assert len(warnings) == 1 and str(repo / ".env") in warnings[0] and "outside" in warnings[0], warnings
    assert key_material("\n".join(warnings)) == []
    with pytest.raises(ConfigError, match="symlink that leads outside"):
        read_env_file(repo / ".env", inside=repo)


def test_a_start_directory_dotenv_symlinked_out_is_refused_too(tmp_path, fake_key):
    repo = make_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    start = tmp_path / "start"
    start.mkdir()
    (start / ".env").symlink_to(fake_key)
    _, warnings = load_config(repo, env={}, cwd=start, user_file=tmp_path / "none.env", export=False)
    assert len(warnings) == 1 and str(start / ".env") in warnings[0], warnings
    assert key_material("\n".join(warnings)) == []


def test_a_dotenv_linked_inside_the_repository_is_read(tmp_path):
    repo = make_repo(tmp_path / "repo", {"config/dev.env": "AGENT_MAX_STEPS=7\nOTHER=1\n"})
    (repo / ".env").symlink_to("config/dev.env")
    settings, warnings = load_config(repo, env={}, cwd=repo, user_file=tmp_path / "none.env", export=False)
    assert settings.agent_max_steps == 7
    assert len(warnings) == 1 and "OTHER" in warnings[0], warnings


def test_the_ignored_warning_names_identifiers_only(tmp_path):
    """A .env of the repository itself holding a pasted key: names are shown, the rest only counted."""
    repo = make_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    (repo / ".env").write_text("AGENT_MAX_STEPS=9\nOPENAI_API_KEY=sk-abc\n" + FAKE_KEY + "weird-name=1\n")
    settings, warnings = load_config(repo, env={}, cwd=repo, user_file=tmp_path / "none.env", export=False)
    assert settings.agent_max_steps == 9
    assert len(warnings) == 1 and "OPENAI_API_KEY" in warnings[0], warnings
    assert key_material(warnings[0]) == [] and "weird-name" not in warnings[0] and "sk-abc" not in warnings[0]
    assert "not a variable name" in warnings[0]


def test_the_users_config_file_exports_only_names(tmp_path, fake_key, monkeypatch):
    """The user's own config.env may be a symlink (dotfiles); a key line read as a name never
    reaches the process environment (every program we start would inherit it)."""
    import os

    user = tmp_path / "config.env"
    user.write_text("SOME_PROVIDER_KEY=abc\n" + FAKE_KEY)
    before = set(os.environ)
    try:
        load_config(None, env={}, cwd=tmp_path, user_file=user)
        added = set(os.environ) - before
        assert added == {"SOME_PROVIDER_KEY"}, added
    finally:
        for name in set(os.environ) - before:
            del os.environ[name]


def test_the_cli_refuses_a_symlinked_dotenv_and_prints_no_key(tmp_path, fake_key):
    repo = make_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    (repo / ".env").symlink_to(fake_key)
    done = run_cli("tool", "list_files", "{}", cwd=repo, env={"XDG_CONFIG_HOME": str(tmp_path / "no-config")})
    assert done.returncode == 0, done.stderr
    assert "symlink that leads outside" in done.stderr and ".env" in done.stderr, done.stderr
    assert key_material(done.stdout + done.stderr) == []
    # the redactor reads it for its values (what it points at may be printed), and says nothing of its lines
    assert "could not parse" not in done.stderr, done.stderr


def test_a_dotenv_leading_to_a_name_with_escape_sequences_is_shown_harmless(tmp_path):
    """The warning names where the link leads: a terminal escape in that name is shown, not run."""
    repo = make_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    (repo / ".env").symlink_to("/nonexistent/\x1b]0;owned\x07\x1b[2J")
    done = run_cli("tool", "list_files", "{}", cwd=repo, env={"XDG_CONFIG_HOME": str(tmp_path / "no-config")})
    assert done.returncode == 0, done.stderr
    assert "leads outside" in done.stderr and "\x1b" not in done.stderr and "^[]0;owned" in done.stderr

