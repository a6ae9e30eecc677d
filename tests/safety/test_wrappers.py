"""Issue 30: programs that run a command given to them as an argument (`script -c`, `parallel`,
`git bisect run`, `. /dev/stdin`, `chrt`, ...) and programs whose own language runs a shell (sqlite3
`.shell`, vim `:!`, gdb `!`) are seen through: what they run is judged as a command of its own, so
they are allowed in the sandbox only when it is; what they run that cannot be read here (their input,
a file, an option this check does not know) asks with a reason that says so. Also run for real: the
workspace survives with approval 'never' (and as an unprivileged user: tests/safety/test_unprivileged.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import make_repo, run_cli

from agent_runtime.safety.policy import Policy
from agent_runtime.safety.policy.containment import SandboxState
from agent_runtime.safety.sandbox import isolation

ON, OFF = SandboxState(True), SandboxState(False, "bubblewrap is not installed")
needs_bwrap = pytest.mark.skipif(isolation().bwrap is None, reason="bubblewrap does not run here")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load()


@pytest.fixture
def root(tmp_path) -> Path:
    return make_repo(tmp_path / "ws", {"src/app.py": "x = 1\n", "app.py": "x = 1\n", "names.txt": "a\n"})


# Each form runs `{c}`: a shell command given as an argument, by family.
SCHEDULING = ["chrt -f 10 sh -c '{c}'", "chrt 10 {c}", "taskset -c 0 {c}", "taskset 0x1 {c}", "ionice -c 3 {c}",
              "nice -n 5 {c}", "stdbuf -oL {c}", "setsid -f {c}", "flock /tmp/lock -c '{c}'", "flock /tmp/lock {c}",
              "prlimit --nofile=64 {c}", "numactl -N 0 {c}", "setarch x86_64 -R {c}", "timeout 5 {c}"]
SESSIONS = ["sem -j 2 '{c}'", "strace -f {c}", "ltrace -o /tmp/trace {c}",
            "script -qc '{c}' /dev/null", "script -q -c '{c}' /dev/null", "script --command '{c}' /dev/null",
            "script -q /dev/null {c}", "firejail --quiet {c}", "xvfb-run -a {c}", "dbus-run-session -- {c}",
            "nohup {c}", "time {c}", "watch -n 1 '{c}'", "faketime 2020-01-01 {c}", "ifne {c}", "chronic {c}",
            "busybox {c}", "busybox sh -c '{c}'", "toybox {c}"]
FANOUT = ["parallel ::: '{c}'", "parallel -j2 ::: '{c}' 'echo done'", "parallel -- '{c}'", "hyperfine '{c}'",
          "hyperfine --prepare '{c}' 'echo x'", "entr -s '{c}'", "pee '{c}' cat"]
PROJECT = ["git bisect run {c}", "cmake -E env {c}", "bundle exec {c}", "conda run -n base {c}",
           "perf stat {c}", "find . -maxdepth 0 -ok {c} ';'", "find . -maxdepth 0 -okdir {c} ';'"]
STDIN = [". /dev/stdin <<< '{c}'", "source /dev/stdin <<< '{c}'", "bash <<< '{c}'",
         ". /dev/stdin <<'EOF'\n{c}\nEOF"]
ESCAPES = ["sqlite3 x.db '.shell {c}'", "sqlite3 x.db '.system {c}'", "sqlite3 -cmd '.shell {c}' x.db 'select 1'",
           "sqlite3 x.db \".once '|{c}'\" 'select 1'", "vim -es -c ':!{c}' -c q", "vim -es -c 'silent !{c}' -c qa",
           "ex -c '!{c}' -c q", "nvim --headless -c '!{c}' -c q", "vi -c ':!{c}' -c q", "gdb -batch -ex '!{c}'",
           "gdb -batch -ex 'shell {c}'", "gdb -batch -ex 'pipe bt | {c}'"]
BUILTINS = ["trap '{c}' EXIT", "coproc {c}", "compgen -C '{c}' x", "man -P '{c}' ls"]
FORMS = SCHEDULING + SESSIONS + FANOUT + PROJECT + STDIN + ESCAPES + BUILTINS


@pytest.mark.parametrize("form", FORMS)
def test_what_a_wrapper_runs_is_judged_as_a_command_of_its_own(policy, root, form):
    """The inner command decides: a workspace change asks (the sandbox does not undo it), the same
    wrapper around `rm -rf /` is denied, and around `ls` it runs in the sandbox without asking."""
    for state in (ON, OFF):
        asked = policy.check_command(form.format(c="rm -rf src"), root, state)
        assert asked.decision == "ask", asked.as_dict()
        if state is ON:  # what asks is the inner command (without the sandbox the wrapper may ask too)
            assert asked.rule == "change-files" and asked.sandbox in ("review", "escapes"), asked.as_dict()
        inner = [c for c in asked.commands if c["argv"][:3] == ["rm", "-rf", "src"]]
        assert inner and inner[0]["via"] and inner[0]["decision"] == "ask", asked.commands
        denied = policy.check_command(form.format(c="rm -rf /"), root, state)
        assert (denied.decision, denied.rule) == ("deny", "delete-outside"), denied.as_dict()
    harmless = policy.check_command(form.format(c="ls"), root, ON)
    if form == "parallel -- '{c}'":  # parallel appends a value read at run time: `ls VALUE` may list outside
        assert (harmless.decision, harmless.rule) == ("ask", "dynamic-argument"), harmless.as_dict()
    else:
        assert harmless.decision == "allow", harmless.as_dict()


@pytest.mark.parametrize(("command", "decision", "rule"), [
    ("flock /tmp/lock ls", "allow", None),  # the sandbox's private /tmp, whether or not the file is there now
    ("flock -n 9 ls", "allow", None),  # a descriptor the shell opened
    ("flock build.lock ls", "ask", "write"),  # creates a file in the workspace
    ("flock /etc/agent-runtime.lock ls", "deny", "write-outside"),
    ("flock .env ls", "deny", "deny_write"), ("flock .git/index.lock ls", "deny", "deny_write"),
    ("flock $LOCK ls", "ask", "write-dynamic"),
])
def test_flocks_lock_file_is_judged_as_a_file_it_creates(policy, root, command, decision, rule):
    """flock opens its lock file, creating it when missing, and never prints it (issue 45: judged as a
    read, /tmp/lock asked once reads outside the workspace ask whether or not the path exists)."""
    got = policy.check_command(command, root, ON)
    assert (got.decision, got.rule if rule else None) == (decision, rule), got.as_dict()


@pytest.mark.parametrize("command", ["git submodule foreach '{c}'", "git -c alias.x='!{c}' x", "env -S '{c}'",
                                     "git rebase -x '{c}' HEAD~1"])
def test_wrappers_that_ask_anyway_still_judge_what_they_run(policy, root, command):
    assert policy.check_command(command.format(c="rm -rf /"), root, ON).decision == "deny"
    assert policy.check_command(command.format(c="ls"), root, ON).decision == "ask"


UNREADABLE = [
    ("script", "script runs a shell that reads its commands from its input"),
    ("source /dev/stdin", "source reads the commands it runs from its input"),
    ("echo 'rm -rf src' | . /dev/stdin", "source reads the commands it runs from its input"),
    ("bash <<< \"$CMD\"", "runs a string only known at run time"),
    ("sqlite3 x.db", "sqlite3 reads its commands from its input"),
    ("echo '.shell rm -rf src' | sqlite3 x.db", "sqlite3 reads its commands from its input"),
    ("sqlite3 -init evil.sql x.db 'select 1'", "sqlite3 -init runs the commands of a file"),
    ("sqlite3 x.db '.read evil.sql'", "sqlite3 .read runs the commands of a file"),
    ("sqlite3 x.db '.load ./evil'", "sqlite3 .load loads a library"),
    ("sqlite3 x.db \"select writefile('app.py', '')\"", "sqlite3's writefile()"),
    ("vim -es app.py", "vim in ex mode reads editor commands from its input"),
    ("vim -c 'call system(\"id\")' -c q app.py", "vim runs the editor command 'call system"),
    ("vim -c '%s/x/\\=system(\"id\")/' -c wq app.py", "vim runs the editor command"),
    ("nvim --headless -c 'lua os.execute(\"id\")' -c q", "nvim runs the editor command 'lua"),
    ("vim -S evil.vim app.py", "vim -S runs editor commands from a file"),
    ("vim -u evil.vimrc -c q app.py", "vim -u evil.vimrc runs editor commands from a file"),
    ("gdb -batch -x evil.gdb ./a.out", "gdb -x runs the commands of a file"),
    ("gdb -batch -ex 'python import os' ./a.out", "gdb runs the command 'python import os'"),
    ("gdb -batch -ex 'call system(\"id\")' ./a.out", "gdb runs the command 'call system"),
    ("gdb -p 1", "gdb -p attaches to another process"),
    ("ls | parallel", "parallel runs commands read from its input or a file"),
    ("parallel :::: jobs.txt", "parallel runs commands read from its input or a file"),
    ("parallel --sshlogin host ::: ls", "parallel --sshlogin runs the commands on other machines"),
    ("parallel --frobnicate ::: ls", "parallel --frobnicate: an option not known here"),
    ("parallel 'echo {= $_ =}' ::: a", "parallel {= ... =} runs Perl code"),
    ("ed app.py", "ed reads its commands from its input"),
    ("dc -e '!ls'", "dc's `!` runs a shell command"),
    ("emacs --batch --eval '(message \"hi\")'", "emacs --eval runs Lisp code"),
    ("expect -c 'spawn ls'", "expect -c runs code given on the command line"),
    ("chrt --frobnicate 10 ls", "chrt --frobnicate: an option not known here"),
    ("numactl -l 3 ls", "'3' cannot be the program it runs"),
    ("git bisect run", "git bisect run is given no command"),
    ("hyperfine --shell zsh 'ls'", "hyperfine --shell runs the commands with a program of its choosing"),
    ("systemd-run ls", "systemd-run hands the command to the system's service manager"),
    ("tsp ls", "tsp runs the command later or detached"), ("man -H ls", "man -H opens a browser"),
    ("coproc X { ls; }", "coproc runs a compound command this check does not read"),
    ("fc -s", "fc runs commands from the shell's history"),
    ("let 'a[$(ls)]=1'", "let evaluates arithmetic whose array subscripts can run commands"),
    ("strace -p 1", "strace -p attaches to another process"),
    ("nice --frobnicate 10 ls", "nice: '10' cannot be the program it runs"),
]


@pytest.mark.parametrize(("command", "because"), UNREADABLE)
def test_what_cannot_be_read_here_asks_and_says_why(policy, root, command, because):
    for state in (ON, OFF):
        decision = policy.check_command(command, root, state)
        assert decision.decision == "ask" and decision.sandbox == "escapes", (state, decision.as_dict())
        assert because in decision.reason, decision.reason
    assert "asked in the sandbox too" in policy.check_command(command, root, ON).reason


@pytest.mark.parametrize("command", [
    "sqlite3 app.db 'select count(*) from users'", "sqlite3 app.db .tables", "sqlite3 -header -csv app.db 'select 1'",
    "vim -es -c '%s/a/b/g' -c wq app.py", "vim -es -c 'set ff=unix' -c wq app.py", "ex -c 'g/^#/d' -c x app.py",
    "gdb -batch -ex run -ex bt ./a.out", "gdb -q -batch -ex 'thread apply all bt' --args ./a.out --flag",
    "script -qc 'pytest -q' /dev/null", "parallel -j2 pytest ::: tests/a tests/b", "taskset -c 0 pytest -q",
    "chrt -i 0 make", "busybox ls", "cmake --build build", "cmake -E echo hi", "hyperfine 'sleep 0.1'",
    "git bisect run ./check.sh", "source /dev/stdin <<< 'ls'", "bash <<< 'echo hi'"])
def test_plain_uses_stay_allowed_in_the_sandbox(policy, root, command):
    decision = policy.check_command(command, root, ON)
    assert decision.decision == "allow", decision.as_dict()


def test_parallel_quotes_its_values_into_the_command(policy, root):
    """GNU parallel quotes each value into `{}` (or appends it): a value is an argument, never code; the
    command decides. Values from a file or the input are only known at run time."""
    assert policy.check_command("parallel 'rm -rf {}' ::: /", root, ON).decision == "deny"
    assert policy.check_command("parallel rm -rf ::: src /", root, ON).decision == "deny"
    assert policy.check_command("parallel 'cat {}' ::: .env", root, ON).decision == "deny"
    dynamic = policy.check_command("ls | parallel rm -rf", root, ON)
    assert (dynamic.decision, dynamic.sandbox) == ("ask", "escapes")
    assert ["rm", "-rf", "$PARALLEL_ARG"] in [c["argv"] for c in dynamic.commands]


def test_a_directory_a_wrapper_moves_to_is_where_its_command_runs(policy, root):
    assert policy.check_command("cmake -E chdir src rm -rf .", root, ON).rule == "change-files"
    assert policy.check_command("cmake -E rm -rf /", root, ON).decision == "deny"
    assert policy.check_command("cmake -E remove_directory src", root, ON).rule == "change-files"


def test_another_process_asks(policy, root):
    for command in ("taskset -p 0x1 1", "chrt -p 10 1", "ionice -c 3 -p 1", "prlimit --pid 1 --nofile=1"):
        decision = policy.check_command(command, root, ON)
        assert (decision.decision, decision.rule) == ("ask", "processes"), (command, decision.as_dict())


def test_policy_check_names_the_inner_command_its_rule_and_reason(root):
    command = "script -qc 'rm -rf src' /dev/null"
    text = run_cli("policy", "check", "--sandbox", "on", command, cwd=root)
    assert text.returncode == 10, text.stderr
    assert text.stdout.startswith("ask (rule change-files): changes files directly")
    assert "rm -rf src  [via script -c]" in text.stdout and "Traceback" not in text.stderr
    out = json.loads(run_cli("policy", "check", "--sandbox", "on", "--json", "sqlite3 x.db '.shell rm -rf /'",
                             cwd=root).stdout)
    assert (out["decision"], out["rule"]) == ("deny", "delete-outside")
    assert {"argv": ["rm", "-rf", "/"], "decision": "deny", "rule": "delete-outside",
            "via": "sqlite3 .shell"} in out["commands"]
    unreadable = run_cli("policy", "check", "--sandbox", "on", "ed app.py", cwd=root)
    assert unreadable.returncode == 10
    assert unreadable.stdout.startswith("ask (rule interpreter-code): ed reads its commands from its input")


# Programs no rule knows (or allowed only because the sandbox contains them: npx, a workspace script)
# given a command as their arguments or as one string: the runners of the JS and other ecosystems.
RUNS_ITS_ARGUMENTS = ["npx -c '{c}'", "npx --call='{c}'", "npm exec --offline -c '{c}'", "npm exec -- {c}",
                      "npm x -c '{c}'", "pnpm exec {c}", "yarn exec {c}", "bun x {c}", "tox exec -- {c}",
                      "mise exec -- {c}", "pixi run {c}", "nix-shell --run '{c}'", "nix develop -c {c}",
                      "rlwrap {c}", "mpirun -n 1 {c}", "srun {c}", "concurrently '{c}'", "nodemon --exec '{c}'",
                      "cross-env NODE_ENV=test {c}", "dotenv run -- {c}", "watchexec -- {c}",
                      "./tools/run-in-env.sh {c}", "frobnicate --quiet {c}"]


# What an attacking helper got past the first version: an inner command denied or asked for a reason
# other than a declared change, one the parser cannot read, and words bash makes by brace expansion.
THROUGH_ATTACKS = ["npx -c 'rm -rf src /tmp/zz'", "npm exec -- rm -rf src .git", "npx -c 'rm -rf src $HOME'",
                   "npm exec -- dd if=/dev/null of=src/app.py", "npx -c 'sort -o src/app.py /dev/null'",
                   "npm exec -- python3 -c 'import shutil;shutil.rmtree(\"src\")'", "npx -c 'git clean -fdx'",
                   "npx -c 'f() { :; }; rm -rf src'", "npx -c 'rm -rf src; echo ``'", "npm exec -- {rm,-rf,src}",
                   "npm exec -- r{m,} -rf src", "npm exec -- perl -i -pe s/x/y/ src/app.py",
                   "frob --verbose 'rm -rf src'", "npx rimraf-like xargs rm"]


@pytest.mark.parametrize("command", THROUGH_ATTACKS)
def test_what_got_through_the_first_reading_asks(policy, root, command):
    decision = policy.check_command(command, root, ON)
    assert (decision.decision, decision.rule) == ("ask", "runs-command"), decision.as_dict()


def test_a_command_after_many_arguments_is_seen_too(policy, root):
    decision = policy.check_command("frobnicate " + "x " * 300 + "rm -rf src", root, ON)
    assert (decision.decision, decision.rule) == ("ask", "runs-command"), decision.as_dict()


@pytest.mark.parametrize("form", RUNS_ITS_ARGUMENTS)
@pytest.mark.parametrize("inner", ["rm -rf src", "mv src elsewhere", "sed -i s/x/y/ app.py"])
def test_a_program_the_sandbox_contains_does_not_carry_a_workspace_change_unasked(policy, root, form, inner):
    decision = policy.check_command(form.format(c=inner), root, ON)
    assert (decision.decision, decision.rule, decision.sandbox) == ("ask", "runs-command", "escapes"), decision.as_dict()
    assert f"may run `{inner}`" in decision.reason, decision.reason


@pytest.mark.parametrize("command", [
    "npx jest", "npx tsc --noEmit", "ruff format --check .", "python -c 'import sys; print(sys.version)'",
    "frobnicate build src/app.py -o out", "./build.sh release", "concurrently 'npm:lint' 'npm:test'",
    "cross-env NODE_ENV=test jest", "npm exec -- eslint .", "mpirun -n 2 ./a.out", "nodemon --exec 'python app.py'",
    "./format.sh " + " ".join(f"src/m{i}.py" for i in range(200)),  # a long file list: no command in it
    # a target, a program name alone, a test filter or message: text, not a command
    "make install", "python3 setup.py install", "npx jest -t 'rm -rf removes files'", "npx mocha --grep 'mv renames'",
    "./gradlew test --tests 'rm deletes'", "python3 -c 'import sys; print(sys.version)'"])
def test_what_such_a_program_runs_alone_stays_allowed(policy, root, command):
    decision = policy.check_command(command, root, ON)
    assert decision.decision == "allow", decision.as_dict()


# --- for real: the forms of the issue, in the sandbox, with approval 'never' ---

REAL = [("script", "script -qc 'rm -rf src notes.txt' /dev/null"),
        ("sqlite3", "sqlite3 x.db '.shell rm -rf src notes.txt'"),
        ("vim", "vim -es -c ':!rm -rf src notes.txt' -c q"),
        ("gdb", "gdb -batch -ex '!rm -rf src notes.txt'"),
        ("chrt", "chrt -o 0 sh -c 'rm -rf src notes.txt'"),
        ("bash", ". /dev/stdin <<< 'rm -rf src notes.txt'"),
        ("npx", "npx -c 'rm -rf src notes.txt'"),
        ("npm", "npm exec --offline -- rm -rf src notes.txt"),
        ("npm", "npm exec --offline -- rm -rf src notes.txt .git"),  # a path the policy denies beside them
        ("npx", "npx -c 'f() { :; }; rm -rf src notes.txt'")]  # a string the parser cannot read


@needs_bwrap
@pytest.mark.parametrize(("program", "command"), REAL)
def test_the_issues_wrapped_deletions_do_not_run_unasked(tmp_path, tools_for, program, command):
    if program != "bash" and shutil.which(program) is None:
        pytest.skip(f"{program} is not installed")
    root = make_repo(tmp_path / "ws", {"src/app.py": "x = 1\n", "README.md": "# x\n"})
    (root / "notes.txt").write_text("untracked work\n")  # what git cannot give back
    runtime, tools = tools_for(root, approval="never")
    result = dict(tools["run_cmd"](command=command, timeout=60))
    assert (root / "src" / "app.py").read_text() == "x = 1\n", result
    assert (root / "notes.txt").read_text() == "untracked work\n"
    assert "rm -rf src notes.txt" in json.dumps(result) or result.get("error"), result


@needs_bwrap
@pytest.mark.parametrize("form", ["alias", "climb"])
def test_a_repository_alias_or_a_climbing_path_does_not_delete_unasked(tmp_path, tools_for, form):
    """`git wipe`, an alias of the repository's own configuration, and rm reached by a relative path
    that climbs out of the workspace: each ran in the sandbox unasked before, and deleted files
    git cannot give back."""
    root = make_repo(tmp_path / "ws", {"src/app.py": "x = 1\n", "README.md": "# x\n"})
    (root / "notes.txt").write_text("untracked work\n")
    with (root / ".git" / "config").open("a") as config:
        config.write("[alias]\n\twipe = !rm -rf src notes.txt\n")
    command = "git wipe" if form == "alias" else "../" * (len(root.parts) + 2) + "usr/bin/rm -rf src notes.txt"
    runtime, tools = tools_for(root, approval="never")
    result = dict(tools["run_cmd"](command=command, timeout=60))
    assert (root / "src" / "app.py").read_text() == "x = 1\n", result
    assert (root / "notes.txt").read_text() == "untracked work\n"
    said = "`git wipe` is no git command" if form == "alias" else "changes files directly"
    assert "was refused" in result["error"] and said in result["error"], result


@pytest.mark.parametrize(("command", "decision"), [
    # script's options may follow its file (getopt permutes them)
    ("script log.txt -c 'rm -rf /'", "deny"), ("script -c 'rm -rf /' -q /dev/null", "deny"),
    # sqlite3 takes a prefix of a dot-command's name, and a dot-command argument's lines are one command
    ("sqlite3 x.db '.sh rm -rf /'", "deny"), ("sqlite3 x.db '.sys rm -rf /'", "deny"),
    ("sqlite3 x.db $'.shell\\nrm -rf /'", "deny"), ("sqlite3 x.db '.o out.txt'", "ask"),
    # sqlite3 splits a dot-command by its own rules: a quoted word with no space reaches the shell bare
    ("sqlite3 x.db \".shell 'ls;rm' -rf /\"", "deny"), ("sqlite3 x.db \".shell 'ls;rm${IFS}-rf${IFS}src'\"", "ask"),
    # sqlite3's own ways to read a file and print it
    ("sqlite3 :memory: '.import .env t' 'select * from t'", "deny"),
    ("sqlite3 :memory: \"select data from fsdir('.env')\"", "ask"), ("sqlite3 x.db '.import /etc/hostname t'", "ask"),
    # source: `--`, and any spelling of the input
    (". -- /dev/stdin <<< 'rm -rf /'", "deny"), (". /dev/./stdin", "ask"), (". /proc/self/fd/0", "ask"),
    (". /dev/fd/3 3< names.txt", "ask"),
    # a sourced file may be a link to the input: a here-string given to it is judged, as for a shell
    (". ./names.txt <<< 'rm -rf /'", "deny"), ("bash run.sh <<< 'rm -rf /'", "deny"),
    # parallel: replacement strings of its own, quoting mode, a value as the program
    ("parallel --er XX 'XX -rf src' ::: rm.x", "ask"), ("parallel --rpl '{x} s/a/b/' '{x}' ::: a", "ask"),
    ("parallel --plus '{..} -rf src' ::: rm.tar.gz", "ask"), ("parallel '{/.} -rf /' ::: a/rm.x", "deny"),
    ("parallel '{} -rf /' ::: rm", "deny"),
    ("parallel -q sh -c 'rm -rf {}' ::: /", "deny"), ("ls | parallel -q sh -c 'ls {}'", "ask"),
    ("parallel -I XX 'rm -rf XX' ::: /", "deny"), ("parallel \"awk '{print}' {}\" ::: f", "ask"),
    # where the command runs: git -C DIR, cmake -E chdir DIR
    ("git -C src bisect run rm -rf ..", "deny"), ("busybox -- rm -rf /", "deny"),
    # a wrapper's option not known here whose value would be taken for the program
    ("strace -P x rm -rf /", "deny"), ("strace -J x rm -rf src", "ask"),
])
def test_the_ways_around_each_reading_are_closed(policy, root, command, decision):
    assert policy.check_command(command, root, ON).decision == decision, policy.check_command(
        command, root, ON).as_dict()


def test_a_program_with_a_shell_escape_is_still_judged_as_itself(tmp_path, root):
    """A wrapper only runs what it is given; sqlite3, vim, gdb, git do things of their own: a policy whose
    default for programs no rule covers is ask still asks about them, whatever they run."""
    base = (Path(__file__).parents[2] / "policy.toml").read_text()
    strict = tmp_path / "strict.toml"
    strict.write_text(base.replace('default = "allow"', 'default = "ask"', 1))
    policy = Policy.load(strict)
    for command in ("sqlite3 x.db '.shell ls'", "vim -es -c '!ls' -c q", "gdb -batch -ex 'shell ls'",
                    "git bisect run ls", "man -P cat ls"):
        assert policy.check_command(command, root, ON).decision == "ask", command
    for command in ("script -qc 'ls' /dev/null", "chrt -f 10 ls", "parallel ::: ls"):
        assert policy.check_command(command, root, ON).decision == "allow", command


@pytest.mark.parametrize("command", ["script -qc 'rm -rf src' /dev/null", "parallel rm -rf ::: src", "nohup rm -rf src",
                                     "sh -c 'rm -rf src'", "bash <<< 'rm -rf src'", "find . -ok rm -rf src ';'",
                                     "sqlite3 x.db '.shell rm -rf src'", "vim -es -c '!rm -rf src' -c q",
                                     "chrt 10 rm -rf src", "git bisect run rm -rf src", "trap 'rm -rf src' EXIT"])
def test_a_change_run_through_another_program_is_for_a_person_not_the_judge(policy, root, command):
    """`rm -rf src` is a change the command declares, which the judge (--approval judge) may approve; run
    through a launcher or a shell escape it is asked of a person (safety/judge.py answers only review)."""
    assert policy.check_command("rm -rf src", root, ON).sandbox == "review"
    decision = policy.check_command(command, root, ON)
    assert (decision.decision, decision.rule, decision.sandbox) == ("ask", "change-files", "escapes")
    assert "runs it, so a person looks at it" in decision.reason


@pytest.mark.parametrize("program", ["/usr//bin/rm", "/bin/../bin/rm", "/usr/bin/./rm", "//usr/bin/rm", "///bin/rm",
                                     "../../usr/bin/rm", "./../../../usr/bin/rm", "src/../../../bin/rm",
                                     "~/../../usr/bin/rm", "../rm"])
def test_a_system_program_spelled_another_way_is_that_program(policy, root, program):
    """Not a script of the workspace (`*/*`, which the sandbox contains): /usr//bin/rm is rm, and so is
    a relative path that climbs out of the workspace to it."""
    decision = policy.check_command(f"{program} -rf src", root, ON)
    assert (decision.decision, decision.rule) == ("ask", "change-files"), decision.as_dict()
    assert policy.check_command(f"{program} -rf /", root, ON).decision == "deny"
    wrapped = policy.check_command("/snap/bin/sqlite3 x.db '.shell rm -rf /'", root, ON)
    assert wrapped.decision == "deny"
