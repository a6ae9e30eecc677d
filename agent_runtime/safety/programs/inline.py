"""Code given to an interpreter on the command line (`python -c`, `node -e`, `perl -e`): what it
visibly does, so the sandbox can run what stays inside it (issue 23).

Code handed to an interpreter is never allowed where commands run without the sandbox. In the
sandbox its effect is contained (no network, nothing writable outside the workspace) except for
what it does to the workspace itself, which the sandbox does not undo: so code that runs other
programs, changes or deletes files, or reaches for code it cannot show (eval, getattr, dunder
attributes, imports by name) still asks. Python is read with its own parser; other languages are
scanned for the words that do those things. Anything that cannot be read counts as doing them.
"""

from __future__ import annotations

import ast
import re

from agent_runtime.safety.programs.base import has_flag
from agent_runtime.safety.programs.interpreters import INTERPRETERS
from agent_runtime.safety.shellwords import Word

# Python: names and attributes that run programs, change files, or reach code by name.
PYTHON_RUNS = {"system", "popen", "popen2", "popen3", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv",
               "spawnve", "spawnvp", "spawnvpe", "posix_spawn", "posix_spawnp", "execl", "execle", "execlp",
               "execlpe", "execv", "execve", "execvp", "execvpe", "fork", "forkpty", "kill", "killpg", "Popen",
               "run", "call", "check_call", "check_output", "getoutput", "getstatusoutput", "startfile",
               "subprocess", "pty", "ctypes", "cffi", "multiprocessing", "asyncio", "create_subprocess_exec",
               "create_subprocess_shell"}
PYTHON_CHANGES = {"remove", "unlink", "rmdir", "removedirs", "rmtree", "rename", "renames", "replace", "truncate",
                  "ftruncate", "chmod", "lchmod", "fchmod", "chown", "lchown", "fchown", "link", "symlink", "mkdir",
                  "makedirs", "mkfifo", "mknod", "write_text", "write_bytes", "touch", "copy", "copy2", "copyfile",
                  "copytree", "copymode", "copystat", "move", "utime", "setxattr", "removexattr", "hardlink_to",
                  "symlink_to", "chdir", "write", "writelines", "dump", "savetxt", "to_csv", "save"}
PYTHON_DYNAMIC = {"eval", "exec", "compile", "__import__", "getattr", "setattr", "delattr", "globals", "locals",
                  "vars", "breakpoint", "importlib", "import_module", "__builtins__", "builtins", "__dict__",
                  "__class__", "__subclasses__", "__globals__", "__code__", "__getattribute__", "__loader__",
                  "__spec__", "modules", "runpy", "code", "codeop", "pickle", "marshal", "shelve"}
READ_MODES = re.compile(r"^[rbt]*$")
# Other languages: words that run programs, change files or evaluate strings; perl's and ruby's -i
# rewrite their input files in place.
OTHER_WORDS = re.compile(
    r"system|exec|spawn|popen|fork|kill|unlink|rmdir|rm_r|rmtree|remove|rename|truncate|chmod|chown|symlink|"
    r"link|mkdir|write|open|copy|move|child_process|require|import|eval|Function|`|\bqx\b|%x|\bFile\b|\bDir\b|"
    r"\bIO\b|\bfs\b|Deno|Bun|binding|\$\(|socket|\bsh\b|shell|load|do\s*[\"'$]|unlink|utime|glob|<<", re.I)


def inline_code(program: str, args: list[Word]) -> Word | None:
    """The program text given on the command line (`-c CODE`, `-cCODE`, `--eval=CODE`, `deno eval CODE`)."""
    flags = INTERPRETERS.get(program, ())
    for i, word in enumerate(args):
        text = word.text
        following = args[i + 1] if i + 1 < len(args) else Word("")
        if not word.static:
            return None
        for flag in flags:
            if text == flag:
                return following
            if flag.startswith("--") and text.startswith(flag + "="):
                return Word(text[len(flag) + 1:])
            if len(flag) == 2 and flag[0] == "-" and has_flag(text, flag):
                rest = text[text.index(flag[1], 1) + 1:]  # `-c` ends a cluster: what follows is the code
                return Word(rest) if rest else following
    return None


def what_code_does(program: str, args: list[Word]) -> str | None:
    """Why the inline code of this call is not something the sandbox contains, or None when it only
    computes and prints."""
    code = inline_code(program, args)
    if code is None or not code.static:
        return "its code is only known at run time"
    if program.startswith(("python", "pypy")):
        return _python(code.text)
    for word in args:  # perl -i, ruby -i, perl -pi.bak: files rewritten in place
        if word.static and re.match(r"^-[a-zA-Z]*i", word.text) and not word.text.startswith("--"):
            return "it rewrites files in place (-i)"
    found = OTHER_WORDS.search(code.text)
    return f"it uses {found.group(0)!r}, which can run programs, change files or run code it builds" if found else None


def _python(source: str) -> str | None:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return "it cannot be read as Python"
    for node in ast.walk(tree):
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) and node.module
                                                        else [])
            for module in modules:
                head = module.split(".")[0]
                if head in PYTHON_RUNS | PYTHON_DYNAMIC:
                    return f"it imports {module}, which can run programs or code it builds"
            for alias in node.names:
                if alias.name in PYTHON_RUNS | PYTHON_CHANGES | PYTHON_DYNAMIC:
                    return f"it imports {alias.name}, which can run programs or change files"
        if name is None:
            continue
        if name in PYTHON_RUNS:
            return f"it uses {name}, which runs programs"
        if name in PYTHON_CHANGES:
            return f"it uses {name}, which changes files"
        if name in PYTHON_DYNAMIC:
            return f"it uses {name}, which reaches code it builds or names"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _names(node.func) & {"open", "fdopen", "NamedTemporaryFile", "mkstemp",
                                                                "TemporaryFile", "mkdtemp"}:
            mode = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"),
                                                                 None)
            if any(k.arg is None for k in node.keywords) or (mode is not None and not (
                    isinstance(mode, ast.Constant) and isinstance(mode.value, str) and READ_MODES.match(mode.value))):
                return "it opens a file for writing"
        elif isinstance(node, (ast.Name, ast.Attribute)) and _names(node) & {"open", "fdopen"} and not _called(tree, node):
            return "it passes open around, which can write files"
    return None


def _names(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attribute):
        return {node.attr}
    return set()


def _called(tree: ast.AST, target: ast.AST) -> bool:
    return any(isinstance(node, ast.Call) and node.func is target for node in ast.walk(tree))
