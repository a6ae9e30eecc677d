"""The documentation: a README short enough to read (the rest is in docs/), and no page that
points at a file the repository does not have (a link, a backticked path, a design document)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOCS = ["usage", "models", "safety", "traces", "configuration", "evaluation", "mcp", "architecture", "development"]

# Backticked paths that name what exists only at run time or on the user's machine, never in the
# repository: keep this short, and say why each is here.
RUNTIME_PATHS = (
    "~/",              # the user's home: config, cache, state (~/.config/agent-runtime/...)
    "/",               # absolute paths on the user's machine (/path/model.gguf, /src/calc)
    "$",               # $XDG_CONFIG_HOME, $HOME, ...
    ".venv",           # made by make run
    ".agent-runtime/",  # a workspace's own agent-runtime directory (deny_write)
    ".agent_runtime/",
    ".git/",           # a workspace's git directory
    "./",              # a script in the user's workspace (`./build.sh`, `./configure`)
)
# Files docs/architecture.md names as the plan (issue 24: the smolagents adapter and its contract
# tests), not yet in the repository; take them out of this list when they land.
PLANNED: set[str] = set()  # files a page may name before they exist (none now)
# Where a module path such as `safety/executor.py` or `agent/` is read from (the architecture
# table names modules inside the package).
BASES = (ROOT, ROOT / "agent_runtime")

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\n]+)`")
FILE_SUFFIXES = {".py", ".md", ".toml", ".lock", ".yml", ".yaml", ".json", ".jsonl", ".txt", ".sh", ".cfg"}


def test_the_readme_is_short_and_links_every_docs_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200, "README.md: keep it to 200 lines; the rest goes to docs/"
    for name in DOCS:
        assert (ROOT / "docs" / f"{name}.md").is_file(), f"docs/{name}.md is missing"
        assert f"(docs/{name}.md)" in readme, f"README.md does not link docs/{name}.md"


def anchors(page: Path) -> set[str]:
    """The anchors of a Markdown page's headings, as GitHub makes them."""
    return {re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            for line in page.read_text().splitlines() if line.startswith("#")}


def looks_like_repo_path(text: str) -> bool:
    # A path with a folder in it: a bare `programs/` or `core.py` is named relative to the text around it.
    if " " in text or "://" in text or "/" not in text.rstrip("/") or text.startswith(RUNTIME_PATHS):
        return False
    if not re.fullmatch(r"[\w.*\-/]+", text):
        return False
    return text.endswith("/") or Path(text.rstrip("/")).suffix in FILE_SUFFIXES


def exists(path: str, page: Path) -> bool:
    for base in (page.parent, *BASES):
        if any(ch in path for ch in "*?["):
            if list(base.glob(path)):
                return True
        elif (base / path).exists():
            return True
    return False


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_and_path_on_a_page_exists(page: Path):
    text = page.read_text()
    missing = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a URL, or an anchor on this page
        path, _, anchor = target.partition("#")
        if not (page.parent / path).exists():
            missing.append(f"link {target}")
        elif anchor and anchor not in anchors(page.parent / path):
            missing.append(f"link {target} (no such heading)")
    for code in CODE.findall(text):
        if looks_like_repo_path(code) and code not in PLANNED and not exists(code, page):
            missing.append(f"path `{code}`")
    assert not missing, f"{page.relative_to(ROOT)} names what the repository does not have: {missing}"


def test_the_path_check_sees_a_missing_file(tmp_path: Path):
    assert looks_like_repo_path("benchmarks/x.py") and looks_like_repo_path("docs/y.md")
    assert looks_like_repo_path("evals/real/build.py") and looks_like_repo_path("safety/policy/")
    assert not looks_like_repo_path("~/.cache/agent-runtime/models/")
    assert not looks_like_repo_path("git push origin main") and not looks_like_repo_path("scheme://user:password@")
    assert exists("evals/real/build.py", ROOT / "README.md") and exists("safety/executor.py", ROOT / "README.md")
    assert not exists("benchmarks/no_such_benchmark.py", ROOT / "README.md")


def source_files() -> list[Path]:
    skip = {".git", ".venv", "venv", "node_modules", "__pycache__", "build", "dist"}
    return [p for p in ROOT.rglob("*") if p.suffix in {".py", ".md", ".toml"} and p.is_file()
            and not skip & set(p.relative_to(ROOT).parts) and p != Path(__file__).resolve()]


def test_a_design_document_is_cited_by_a_path_that_exists():
    """The design document lives outside the repository: a citation names a file in it (such as
    docs/architecture.md), never a bare name the repository does not have."""
    name = "DESIGN" + ".md"
    wrong = []
    for path in source_files():
        text = path.read_text(errors="replace")
        for match in re.finditer(r"([\w./\-]*)" + re.escape(name), text):
            cited = match.group(0)
            if not ((ROOT / cited).is_file() or (path.parent / cited).is_file()):
                line = text.count("\n", 0, match.start()) + 1
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {cited}")
    assert not wrong, f"cites a design document the repository does not have: {wrong}"
