"""skill: a task that needs the project's own procedure, written down in a repository skill
(.agent-runtime/skills/NAME/SKILL.md): how a release is cut, how a bug fix is filed, how the
schema changes, how a public name is deprecated. The prompt only says "follow the project's
... procedure"; the check (the project's tests, then a procedure check kept out of the
repository) fails the task as given and a plausible solution that ignores the skill.

`agent-runtime eval evals/skills/ --skills off|trusted` measures what the skill is worth.
"""

from common import skill_task

TASKS = []

# ---------------------------------------------------------------------------------------------
TASKS.append(skill_task(
    id="skill-release-version-files",
    difficulty="medium",
    prompt="""
Prepare release 1.4.0 of ledgerline. Follow the project's release procedure.
""",
    skill=("release", r'''
---
name: release
description: How to cut a release of ledgerline (version numbers, changelog, release date). Use when asked to prepare, cut or bump a release.
---
# Releasing ledgerline

The version is written in three places, and all three must say the same:

1. `pyproject.toml`: `version = "X.Y.Z"`
2. `ledgerline/__init__.py`: `__version__ = "X.Y.Z"`
3. `ledgerline/_build.py`: `VERSION_INFO = (X, Y, Z)` and `RELEASE_DATE = "YYYY-MM-DD"` (today)

CHANGES.md: the entries under `## Unreleased` become the release's section, headed
`## X.Y.Z (YYYY-MM-DD)`, the same date as RELEASE_DATE. Above it, start a new `## Unreleased`
section holding the single line `- Nothing yet.`

Run the tests (`python -m pytest -q tests`) before you finish. Do not tag or push: the
maintainers do that.
'''),
    files={
        "pyproject.toml": r'''
[project]
name = "ledgerline"
version = "1.3.2"
description = "Plain-text ledgers: parse, balance, report."
requires-python = ">=3.9"
''',
        "ledgerline/__init__.py": r'''
"""Plain-text ledgers: parse, balance, report."""

from ledgerline.parse import parse_line

__version__ = "1.3.2"
__all__ = ["parse_line", "__version__"]
''',
        "ledgerline/_build.py": r'''
# Read by `ledgerline --version` and by the User-Agent of the price fetcher.
VERSION_INFO = (1, 3, 2)
RELEASE_DATE = "2026-03-14"
''',
        "ledgerline/parse.py": r'''
from decimal import Decimal


def parse_line(line):
    """`2026-01-05 groceries 12.50` -> (date, account, amount); a trailing minus is negative."""
    date, account, amount = line.split()
    negative = amount.endswith("-")
    value = Decimal(amount.rstrip("-").replace(",", ""))
    return date, account, -value if negative else value
''',
        "CHANGES.md": r'''
# Changes

## Unreleased

- `parse_line` accepts a thousands separator in amounts (`1,250.00`).
- New `--strict` flag: an unbalanced ledger is an error.

## 1.3.2 (2026-03-14)

- Amounts with a trailing minus (`12.50-`) are negative.
''',
        "tests/test_parse.py": r'''
from decimal import Decimal

from ledgerline import parse_line


def test_a_line():
    assert parse_line("2026-01-05 groceries 12.50") == ("2026-01-05", "groceries", Decimal("12.50"))


def test_trailing_minus_and_separator():
    assert parse_line("2026-01-06 rent 1,250.00-")[2] == Decimal("-1250.00")
''',
    },
    fix={
        "pyproject.toml": [('version = "1.3.2"', 'version = "1.4.0"')],
        "ledgerline/__init__.py": [('__version__ = "1.3.2"', '__version__ = "1.4.0"')],
        "ledgerline/_build.py": [("VERSION_INFO = (1, 3, 2)\nRELEASE_DATE = \"2026-03-14\"",
                                  "VERSION_INFO = (1, 4, 0)\nRELEASE_DATE = \"2026-06-01\"")],
        "CHANGES.md": [("## Unreleased\n\n", "## Unreleased\n\n- Nothing yet.\n\n## 1.4.0 (2026-06-01)\n\n")],
    },
    # The versions a search for "1.3.2" finds, and the changelog's heading renamed.
    without_skill={
        "pyproject.toml": [('version = "1.3.2"', 'version = "1.4.0"')],
        "ledgerline/__init__.py": [('__version__ = "1.3.2"', '__version__ = "1.4.0"')],
        "CHANGES.md": [("## Unreleased\n", "## 1.4.0\n")],
    },
    procedure=r'''
import pathlib
import re

ROOT = pathlib.Path.cwd()
HEADING = re.compile(r"^## (.+)$", re.M)


def sections():
    text = (ROOT / "CHANGES.md").read_text()
    parts = HEADING.split(text)[1:]
    return [(parts[i].strip(), parts[i + 1].strip()) for i in range(0, len(parts), 2)]


def test_the_three_versions_agree_on_1_4_0():
    pyproject = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    init = re.search(r'^__version__ = "([^"]+)"', (ROOT / "ledgerline/__init__.py").read_text(), re.M).group(1)
    build = {}
    exec((ROOT / "ledgerline/_build.py").read_text(), build)
    assert (pyproject, init, ".".join(map(str, build["VERSION_INFO"]))) == ("1.4.0",) * 3


def test_the_changelog_has_the_release_under_a_fresh_unreleased_section():
    found = sections()
    assert [title for title, _ in found][:1] == ["Unreleased"], found
    assert found[0][1] == "- Nothing yet."
    title, body = found[1]
    dated = re.fullmatch(r"1\.4\.0 \((\d{4}-\d{2}-\d{2})\)", title)
    assert dated, title
    assert "thousands separator" in body and "--strict" in body
    build = {}
    exec((ROOT / "ledgerline/_build.py").read_text(), build)
    assert build["RELEASE_DATE"] == dated.group(1)
    assert found[2] == ("1.3.2 (2026-03-14)", "- Amounts with a trailing minus (`12.50-`) are negative.")
''',
))

# ---------------------------------------------------------------------------------------------
TEXT_PY = r'''
import re


def slugify(title):
    """A title as a URL slug: lowercase words joined by single hyphens."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def truncate(text, width):
    """At most `width` characters; a cut text ends with an ellipsis."""
    if len(text) <= width:
        return text
    return text[: width - 1].rstrip() + "…"
'''

TASKS.append(skill_task(
    id="skill-bugfix-regression-test",
    difficulty="easy",
    prompt="""
Issue #57: `slugify("Crème brûlée")` returns "cr-me-br-l-e"; it should return "creme-brulee".
Fix it, following the project's procedure for bug fixes.
""",
    skill=("bugfix", r'''
---
name: bugfix
description: The project's procedure for fixing a reported bug (regression test, changelog line). Use for any bug fix or issue.
---
# Fixing a bug

1. Write the regression test first: `tests/regressions/test_issue_<N>.py` (N: the issue's
   number) with one function `test_issue_<N>` that reproduces the report. It must fail before
   the fix and pass after it.
2. Fix the code. Keep the change small.
3. In CHANGES.md, under `## Unreleased`, in the `### Fixed` section (create it after the other
   sections if it is missing), add one line: `- <what was wrong, in a few words> (#<N>)`.
4. Run the whole suite: `python -m pytest -q tests`.
'''),
    files={
        "boardlib/__init__.py": "",
        "boardlib/text.py": TEXT_PY,
        "CHANGES.md": r'''
# Changes

## Unreleased

### Added
- `truncate(text, width)` ends a cut text with an ellipsis.

## 0.9.0 (2026-02-02)

### Added
- `slugify(title)`.
''',
        "tests/test_text.py": r'''
from boardlib.text import slugify, truncate


def test_slugify_ascii():
    assert slugify("Hello, World!") == "hello-world"
    assert slugify("  Many   spaces  ") == "many-spaces"


def test_truncate():
    assert truncate("short", 10) == "short"
    assert truncate("a longer line", 8) == "a longe…"
''',
    },
    fix={
        "boardlib/text.py": [("import re\n", "import re\nimport unicodedata\n"),
                             ('    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")',
                              '    plain = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()\n'
                              '    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")')],
        "tests/regressions/test_issue_57.py": r'''
from boardlib.text import slugify


def test_issue_57():
    assert slugify("Crème brûlée") == "creme-brulee"
''',
        "CHANGES.md": [("ellipsis.\n", "ellipsis.\n\n### Fixed\n- `slugify` dropped accented letters (#57).\n")],
    },
    # The fix and a changelog line, without the regression test or the number.
    without_skill={
        "boardlib/text.py": [("import re\n", "import re\nimport unicodedata\n"),
                             ('    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")',
                              '    plain = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()\n'
                              '    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")')],
        "CHANGES.md": [("ellipsis.\n", "ellipsis.\n- Fixed `slugify` for accented letters.\n")],
    },
    procedure=r'''
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path.cwd()
BUGGY = ''' + repr(TEXT_PY[1:]) + r'''
REGRESSION = ROOT / "tests/regressions/test_issue_57.py"


def test_the_bug_is_fixed():
    from boardlib.text import slugify

    assert slugify("Crème brûlée") == "creme-brulee"
    assert slugify("Ångström Über alles") == "angstrom-uber-alles"
    assert slugify("Hello, World!") == "hello-world"


def pytest_in(root):
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(root),
                           str(root / "tests/regressions/test_issue_57.py")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_regression_test_named_after_the_issue_fails_before_the_fix_and_passes_after():
    assert REGRESSION.is_file(), "no tests/regressions/test_issue_57.py"
    assert re.search(r"^def test_issue_57\(", REGRESSION.read_text(), re.M)
    assert pytest_in(ROOT).returncode == 0
    before = pathlib.Path(tempfile.mkdtemp())
    (before / "boardlib").mkdir()
    (before / "boardlib/__init__.py").write_text("")
    (before / "boardlib/text.py").write_text(BUGGY)
    (before / "tests/regressions").mkdir(parents=True)
    shutil.copy(REGRESSION, before / "tests/regressions/test_issue_57.py")
    assert pytest_in(before).returncode == 1, "the regression test passes on the unfixed code"


def test_the_changelog_names_the_issue_under_fixed():
    text = (ROOT / "CHANGES.md").read_text()
    unreleased = text.split("## Unreleased", 1)[1].split("\n## ", 1)[0]
    assert "- `truncate(text, width)` ends a cut text with an ellipsis." in unreleased
    fixed = unreleased.split("### Fixed", 1)
    assert len(fixed) == 2, "no ### Fixed section under ## Unreleased"
    assert re.search(r"^- .+\(#57\)\.?$", fixed[1].split("\n### ", 1)[0], re.M)
    assert "## 0.9.0 (2026-02-02)\n\n### Added\n- `slugify(title)`." in text
''',
))

# ---------------------------------------------------------------------------------------------
MIGRATION_0001 = r'''
def up(db):
    db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL DEFAULT '')")
'''
MIGRATION_0002 = r'''
def up(db):
    db.execute("ALTER TABLE notes ADD COLUMN tags TEXT NOT NULL DEFAULT ''")
'''
NOTES = r'''
def add_note(db, title, body="", tags=()):
    cursor = db.execute("INSERT INTO notes (title, body, tags) VALUES (?, ?, ?)", (title, body, ",".join(tags)))
    db.commit()
    return cursor.lastrowid


def list_notes(db):
    """The notes' titles, oldest first."""
    return [title for (title,) in db.execute("SELECT title FROM notes ORDER BY id")]
'''
NOTES_ARCHIVED = r'''
def add_note(db, title, body="", tags=()):
    cursor = db.execute("INSERT INTO notes (title, body, tags) VALUES (?, ?, ?)", (title, body, ",".join(tags)))
    db.commit()
    return cursor.lastrowid


def list_notes(db, archived=False):
    """The notes' titles, oldest first: those not archived, or (archived=True) only the archived."""
    rows = db.execute("SELECT title FROM notes WHERE archived = ? ORDER BY id", (1 if archived else 0,))
    return [title for (title,) in rows]


def archive_note(db, note_id):
    db.execute("UPDATE notes SET archived = 1 WHERE id = ?", (note_id,))
    db.commit()
'''

TASKS.append(skill_task(
    id="skill-migration-archived-flag",
    difficulty="medium",
    prompt="""
Notes need to be archivable: add `archive_note(db, note_id)` to notebox/notes.py, and make
`list_notes(db)` leave archived notes out (`list_notes(db, archived=True)` lists only the archived
ones). The database needs a column for it; follow the project's migration procedure.
""",
    skill=("migrations", r'''
---
name: migrations
description: How to change the notebox database schema (migration files, their names, their order). Use for any new table, column or index.
---
# Changing the schema

Databases in use have already run the existing migrations, so never edit one: every change is a
new migration.

1. Create `notebox/migrations/mNNNN_<what>.py`: NNNN is the next number, four digits (after
   m0002 comes m0003); <what> is a short snake_case summary, e.g. `m0003_add_due_date`.
2. It defines `up(db)`, which makes the change with `db.execute(...)`. A new column needs a
   default, so that the existing rows stay valid. Do not commit inside `up`.
3. Append its name (without `.py`) to `MIGRATIONS` in `notebox/migrations/__init__.py`. That
   list is the order the migrations run in; never reorder it.
4. Run the tests: `python -m pytest -q tests`.
'''),
    files={
        "notebox/__init__.py": "",
        "notebox/db.py": r'''
import sqlite3

from notebox.migrations import MIGRATIONS, load


def connect(path=":memory:"):
    db = sqlite3.connect(path)
    migrate(db)
    return db


def migrate(db):
    """Run the migrations this database has not had yet, in order (PRAGMA user_version counts them)."""
    done = db.execute("PRAGMA user_version").fetchone()[0]
    for number, name in enumerate(MIGRATIONS[done:], start=done + 1):
        load(name).up(db)
        db.execute(f"PRAGMA user_version = {number}")
    db.commit()
''',
        "notebox/migrations/__init__.py": r'''
import importlib

MIGRATIONS = [
    "m0001_create_notes",
    "m0002_add_tags",
]


def load(name):
    return importlib.import_module(f"notebox.migrations.{name}")
''',
        "notebox/migrations/m0001_create_notes.py": MIGRATION_0001,
        "notebox/migrations/m0002_add_tags.py": MIGRATION_0002,
        "notebox/notes.py": NOTES,
        "tests/test_notes.py": r'''
from notebox.db import connect
from notebox.notes import add_note, list_notes


def test_notes_are_listed_oldest_first():
    db = connect()
    add_note(db, "groceries", tags=["home"])
    add_note(db, "dentist")
    assert list_notes(db) == ["groceries", "dentist"]
''',
    },
    fix={
        "notebox/migrations/m0003_add_archived.py": r'''
def up(db):
    db.execute("ALTER TABLE notes ADD COLUMN archived INTEGER NOT NULL DEFAULT 0")
''',
        "notebox/migrations/__init__.py": [('    "m0002_add_tags",\n', '    "m0002_add_tags",\n    "m0003_add_archived",\n')],
        "notebox/notes.py": NOTES_ARCHIVED,
    },
    # The column added where the table is created: new databases have it, databases in use never will.
    without_skill={
        "notebox/migrations/m0001_create_notes.py": [("body TEXT NOT NULL DEFAULT '')",
                                                      "body TEXT NOT NULL DEFAULT '', "
                                                      "archived INTEGER NOT NULL DEFAULT 0)")],
        "notebox/notes.py": NOTES_ARCHIVED,
    },
    procedure=r'''
import pathlib
import re
import sqlite3
import tempfile

ROOT = pathlib.Path.cwd()
MIGRATIONS = ROOT / "notebox/migrations"
ORIGINAL = {"m0001_create_notes.py": ''' + repr(MIGRATION_0001[1:]) + r''',
            "m0002_add_tags.py": ''' + repr(MIGRATION_0002[1:]) + r'''}


def test_archived_notes_are_left_out_of_a_new_database():
    from notebox.db import connect
    from notebox.notes import add_note, archive_note, list_notes

    db = connect()
    first, second = add_note(db, "groceries"), add_note(db, "dentist")
    archive_note(db, first)
    assert list_notes(db) == ["dentist"] and list_notes(db, archived=True) == ["groceries"]
    assert second


def test_a_database_in_use_is_migrated_and_keeps_its_notes():
    from notebox.db import connect
    from notebox.notes import archive_note, list_notes

    path = pathlib.Path(tempfile.mkdtemp()) / "in-use.db"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL DEFAULT '')")
    old.execute("ALTER TABLE notes ADD COLUMN tags TEXT NOT NULL DEFAULT ''")
    old.execute("INSERT INTO notes (title) VALUES ('old one'), ('older one')")
    old.execute("PRAGMA user_version = 2")
    old.commit()
    old.close()
    db = connect(str(path))
    assert list_notes(db) == ["old one", "older one"]
    archive_note(db, 1)
    assert list_notes(db) == ["older one"] and list_notes(db, archived=True) == ["old one"]


def test_the_existing_migrations_are_untouched():
    for name, text in ORIGINAL.items():
        assert (MIGRATIONS / name).read_text() == text, f"{name} was edited"


def test_the_new_migration_is_named_by_the_scheme_and_registered_last():
    from notebox.migrations import MIGRATIONS as ORDER

    new = sorted(p.stem for p in MIGRATIONS.glob("m*.py") if p.name not in ORIGINAL)
    assert len(new) == 1, new
    assert re.fullmatch(r"m0003_[a-z0-9]+(_[a-z0-9]+)*", new[0]), new[0]
    assert ORDER == ["m0001_create_notes", "m0002_add_tags", new[0]]
''',
))

# ---------------------------------------------------------------------------------------------
RATES_HEAD = r'''
import math

BASE = {"domestic": 4.5, "eu": 9.0, "world": 16.0}
PER_KG = {"domestic": 1.2, "eu": 2.5, "world": 4.0}
'''

TASKS.append(skill_task(
    id="skill-deprecation-rename",
    difficulty="hard",
    prompt="""
Rename `calc_rate` to `parcel_rate` in parcelrate (it reads better next to `quote`). Other
projects call `calc_rate`, so follow the project's deprecation policy.
""",
    skill=("deprecation", r'''
---
name: deprecation
description: The project's policy for renaming or removing a public function (deprecation period, warning, docs). Use before renaming, removing or changing anything public.
---
# Deprecating a public name

A public name is never removed or renamed in one step.

1. Rename it, and make every caller inside parcelrate use the new name.
2. Keep the old name as a small function of its own, in the same module, that calls
   `deprecated(old, new, removed_in)` from `parcelrate/_compat.py` and then returns what the new
   function returns. Do not call `warnings.warn` yourself: users filter on
   `ParcelrateDeprecationWarning`. `removed_in` is the next major version (2.x: "3.0").
3. Export both names from `parcelrate/__init__.py`.
4. Add a row to the table in `docs/deprecations.md`: the old name, the new one, the version it
   is deprecated in (the current major.minor, from `__version__`) and the version it goes in.
'''),
    files={
        "parcelrate/__init__.py": r'''
from parcelrate.quote import quote
from parcelrate.rates import calc_rate

__version__ = "2.3.1"
__all__ = ["calc_rate", "quote"]
''',
        "parcelrate/rates.py": RATES_HEAD + r'''

def calc_rate(weight_kg, zone):
    """The price of a parcel in euros: the zone's base plus a rate per started kilogram."""
    if weight_kg <= 0:
        raise ValueError("weight_kg must be positive")
    if zone not in BASE:
        raise ValueError(f"unknown zone {zone!r}")
    return round(BASE[zone] + PER_KG[zone] * math.ceil(weight_kg), 2)
''',
        "parcelrate/quote.py": r'''
from parcelrate.rates import calc_rate


def quote(weights_kg, zone):
    """The price of sending several parcels to one zone."""
    return round(sum(calc_rate(weight, zone) for weight in weights_kg), 2)
''',
        "parcelrate/_compat.py": r'''
import warnings


class ParcelrateDeprecationWarning(DeprecationWarning):
    """Warned when a deprecated name of parcelrate is used."""


def deprecated(old, new, removed_in):
    """Warn, from the caller of a deprecated function, that `old` is replaced by `new`."""
    warnings.warn(f"{old} is deprecated, use {new} instead; it goes in parcelrate {removed_in}",
                  ParcelrateDeprecationWarning, stacklevel=3)
''',
        "docs/deprecations.md": r'''
# Deprecations

| old | new | deprecated in | removed in |
| --- | --- | --- | --- |
| `quote_many` | `quote` | 2.1 | 3.0 |
''',
        "tests/test_rates.py": r'''
import pytest

from parcelrate import quote


def test_quote():
    assert quote([0.4, 2.2], "domestic") == 13.8
    assert quote([1], "world") == 20.0


def test_an_unknown_zone():
    with pytest.raises(ValueError):
        quote([1], "moon")
''',
    },
    fix={
        "parcelrate/__init__.py": [("from parcelrate.rates import calc_rate\n",
                                    "from parcelrate.rates import calc_rate, parcel_rate\n"),
                                   ('__all__ = ["calc_rate", "quote"]', '__all__ = ["calc_rate", "parcel_rate", "quote"]')],
        "parcelrate/rates.py": [("import math\n", "import math\n\nfrom parcelrate._compat import deprecated\n"),
                                ("def calc_rate(weight_kg, zone):", "def parcel_rate(weight_kg, zone):"),
                                ("math.ceil(weight_kg), 2)\n",
                                 "math.ceil(weight_kg), 2)\n\n\ndef calc_rate(weight_kg, zone):\n"
                                 '    """Deprecated: parcel_rate."""\n'
                                 '    deprecated("calc_rate", "parcel_rate", "3.0")\n'
                                 "    return parcel_rate(weight_kg, zone)\n")],
        "parcelrate/quote.py": [("import calc_rate", "import parcel_rate"), ("sum(calc_rate(", "sum(parcel_rate(")],
        "docs/deprecations.md": [("| 2.1 | 3.0 |\n", "| 2.1 | 3.0 |\n| `calc_rate` | `parcel_rate` | 2.3 | 3.0 |\n")],
    },
    # The usual Python way: a wrapper that warns with a DeprecationWarning; no docs row.
    without_skill={
        "parcelrate/__init__.py": [("from parcelrate.rates import calc_rate\n",
                                    "from parcelrate.rates import calc_rate, parcel_rate\n"),
                                   ('__all__ = ["calc_rate", "quote"]', '__all__ = ["calc_rate", "parcel_rate", "quote"]')],
        "parcelrate/rates.py": [("import math\n", "import math\nimport warnings\n"),
                                ("def calc_rate(weight_kg, zone):", "def parcel_rate(weight_kg, zone):"),
                                ("math.ceil(weight_kg), 2)\n",
                                 "math.ceil(weight_kg), 2)\n\n\ndef calc_rate(weight_kg, zone):\n"
                                 '    warnings.warn("calc_rate is deprecated, use parcel_rate", DeprecationWarning,'
                                 " stacklevel=2)\n"
                                 "    return parcel_rate(weight_kg, zone)\n")],
        "parcelrate/quote.py": [("import calc_rate", "import parcel_rate"), ("sum(calc_rate(", "sum(parcel_rate(")],
    },
    procedure=r'''
import pathlib
import re
import warnings

import pytest

ROOT = pathlib.Path.cwd()


def test_the_new_name_and_its_callers():
    from parcelrate import parcel_rate, quote

    assert parcel_rate(2.2, "eu") == 16.5
    with pytest.raises(ValueError):
        parcel_rate(0, "eu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the project's own code no longer calls the old name
        assert quote([0.4, 2.2], "domestic") == 13.8


def test_the_old_name_still_works_and_warns_as_the_project_does():
    from parcelrate import calc_rate
    from parcelrate._compat import ParcelrateDeprecationWarning

    with pytest.warns(ParcelrateDeprecationWarning, match=r"calc_rate.*parcel_rate.*3\.0") as caught:
        assert calc_rate(2.2, "eu") == 16.5
    assert caught[0].filename == __file__, "the warning points at the caller"


def test_the_deprecations_table_has_the_row():
    text = (ROOT / "docs/deprecations.md").read_text()
    assert re.search(r"^\|\s*`?calc_rate`?\s*\|\s*`?parcel_rate`?\s*\|\s*2\.3\s*\|\s*3\.0\s*\|\s*$", text, re.M)
    assert "| `quote_many` | `quote` | 2.1 | 3.0 |" in text
''',
))
