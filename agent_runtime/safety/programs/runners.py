"""Test runners and builds: the options that make them run other code (another makefile, a
script shell, a test wrapper) or write elsewhere, and the project runners (`uv run`, `poetry
run`) that run a command in the project's environment."""

from __future__ import annotations

import re
from typing import Callable

from agent_runtime.safety.programs.base import Effects, scan
from agent_runtime.safety.shellwords import Word

# `uv run pytest`: project runners that run a command in the project's environment.
RUNNERS = {"uv", "poetry", "pipenv", "pdm", "hatch", "rye"}
RUNNER_OPTIONS = {"--with", "--python", "-p", "--extra", "--group", "--package", "--env-file", "--directory",
                  "--project", "--index", "--from"}


def uv(args: list[Word], eff: Effects) -> None:
    if args and args[0].text == "run" and any(
            w.text.startswith(("--with", "--index", "--extra-index-url", "--find-links", "--script"))
            for w in args[1:]):
        eff.ask("package-install", "uv run --with installs packages (and runs their code) before the command")


PYTEST_WRITES = ("--basetemp", "--junitxml", "--junit-xml", "--report-log", "--resultlog", "--result-log", "--html",
                 "--json-report-file", "--debug")


def pytest(args: list[Word], eff: Effects) -> None:
    found = scan(args, "kmpcoW", {"--basetemp", "--junitxml", "--junit-xml", "--report-log", "--resultlog",
                                  "--result-log", "--html", "--json-report-file", "--rootdir", "--confcutdir",
                                  "--override-ini", "--maxfail", "--tb", "--deselect", "--ignore", "--ignore-glob",
                                  "--durations", "--log-file", "--log-level", "--import-mode", "--capture",
                                  "--config-file", "--cov", "--cov-report", "--timeout", "--junit-prefix"})
    for value in found.values(*PYTEST_WRITES, "--log-file"):
        if value.text:
            eff.writes.append((value, "pytest writes"))  # --basetemp is emptied first: it deletes
    for value in found.values("-o", "--override-ini"):
        key, _, setting = value.text.partition("=")
        if key.strip() == "cache_dir":
            eff.writes.append((Word(setting, value.static), "pytest writes its cache to"))
        elif key.strip() in ("addopts", "basetemp", "junit_logfile", "log_file", "required_plugins") or not value.static:
            eff.ask("pytest-options", f"pytest -o {key} passes options this check cannot see")


def make(args: list[Word], eff: Effects) -> None:
    found = scan(args, "fCIEoWjl", {"--file", "--makefile", "--directory", "--include-dir", "--eval",
                                    "--old-file", "--what-if", "--new-file", "--assume-old", "--assume-new",
                                    "--jobs", "--load-average"})
    if found.has("-f", "--file", "--makefile"):
        eff.ask("make-code", "make -f runs the recipes of another makefile")
    if found.has("-E", "--eval"):
        eff.ask("make-code", "make --eval runs make code given on the command line")
    if found.has("-I", "--include-dir"):
        eff.ask("make-code", "make -I changes where the makefile's includes come from")
    for word in found.positionals:
        if not word.static or re.match(r"^[A-Za-z_.][A-Za-z0-9_.]*[:+?!]?=", word.text):
            eff.ask("make-code", f"make {word.text}: a variable set on the command line can change what "
                                 "the recipes run")


def runner_config(program: str, risky: tuple[str, ...], why: str) -> Callable[[list[Word], Effects], None]:
    def handler(args: list[Word], eff: Effects) -> None:
        for word in args:
            if word.static and any(word.text == r or word.text.startswith(r + "=") or
                                   (len(r) == 2 and word.text.startswith(r) and not r.startswith("--"))
                                   for r in risky):
                eff.ask("runner-config", f"{program} {word.text.split('=')[0]}: {why}")
                return
    return handler


def go(args: list[Word], eff: Effects) -> None:
    runner_config("go", ("-exec", "-toolexec", "--exec", "--toolexec", "-overlay", "-modfile"),
                  "runs the build or the tests through another program")(args, eff)
    for i, word in enumerate(args):
        name, eq, value = word.text.partition("=")
        if name.lstrip("-") in ("o", "coverprofile", "cpuprofile", "memprofile", "blockprofile", "mutexprofile",
                                "trace", "outputdir") and word.text.startswith("-"):
            target = Word(value) if eq else (args[i + 1] if i + 1 < len(args) else Word(""))
            eff.writes.append((target, f"go {name} writes"))


# `python -m zipfile` / `tarfile`: the archive tools of the standard library, unpacking or packing as
# unzip and tar do (a change the command declares): option -> which argument after it is written.
ARCHIVE_MODULES = {"zipfile": {"-e": 1, "--extract": 1, "-c": 0, "--create": 0},
                   "tarfile": {"-e": 1, "--extract": 1, "-c": 0, "--create": 0}}


def python_module(args: list[Word], eff: Effects) -> None:
    for i, word in enumerate(args[:-1]):
        if word.text == "-m":
            module, rest = args[i + 1].text, args[i + 2:]
            if module == "pytest":
                pytest(rest, eff)
            for k, option in enumerate(rest):
                written = ARCHIVE_MODULES.get(module, {}).get(option.text)
                if written is not None:
                    after = rest[k + 1:]
                    target = after[written] if len(after) > written else Word(".")  # -e ARCHIVE: here
                    eff.writes.append((target, f"python -m {module} {option.text} writes"))
            return
        if not word.text.startswith("-"):
            return


HANDLERS = {
    "pytest": pytest, "py.test": pytest, "python": python_module, "python3": python_module,
    "make": make, "gmake": make, "uv": uv,
    "npm": runner_config("npm", ("--script-shell", "--node-options", "--userconfig", "--globalconfig", "--prefix",
                                 "-C", "--cwd", "--dir", "--workspace"),
                         "changes which scripts run, or the shell and options they run with"),
    "yarn": runner_config("yarn", ("--cwd", "--use-yarnrc", "--script-shell"), "changes which scripts run"),
    "pnpm": runner_config("pnpm", ("-C", "--dir", "--script-shell", "--filter", "--prefix"), "changes which scripts run"),
    "cargo": runner_config("cargo", ("--config", "-Z", "--manifest-path"),
                           "can set a program to run the build or the tests with"),
    "go": go,
    "tox": runner_config("tox", ("-c", "--conf", "-x", "--override", "--installpkg"), "changes the commands tox runs"),
    "nox": runner_config("nox", ("-f", "--noxfile"), "runs another noxfile"),
    "mvn": runner_config("mvn", ("-f", "--file", "-s", "--settings", "-gs", "--global-settings"),
                         "runs another build file or settings"),
    "gradle": runner_config("gradle", ("-b", "--build-file", "-c", "--settings-file", "-I", "--init-script"),
                            "runs another build or init script"),
    "./gradlew": runner_config("gradlew", ("-b", "--build-file", "-c", "--settings-file", "-I", "--init-script"),
                               "runs another build or init script"),
}
