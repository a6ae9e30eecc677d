"""Code given to an interpreter on the command line (`python -c`, `node -e`, `perl -e`): what it
visibly does, so the sandbox can run what stays inside it.

Code handed to an interpreter is never allowed where commands run without the sandbox. In the
sandbox its effect is contained (no network, nothing writable outside the workspace) except for
what it does to the workspace itself, which the sandbox does not undo: so code that runs other
programs, changes or deletes files, or reaches for code it cannot show (eval, getattr, dunder
attributes, imports by name) still asks. Python is read with its own parser; other languages are
scanned for the words that do those things. Anything that cannot be read counts as doing them.

What Python code reads is judged as `cat` would be (policy/floors.py): every string in it as a
path (a secret is denied, a path outside the workspace asks, also through a symlink that leads
out), and code that finds its paths at run time (the home or current directory, the environment,
a parent directory, text built with chr or decode) or hands a reader a path that is not written
in the code asks. Code that builds a path some other way and gives it to a reader not listed here
is not seen: that is what the sandbox's hiding of secrets outside the workspace is for
(safety/outside.py), as for any script of the workspace.
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
                  "symlink_to", "chdir", "write", "writelines", "dump", "savetxt", "to_csv", "save", "writestr",
                  "extract", "extractall", "make_archive", "unpack_archive", "create_archive", "compile_dir",
                  "compile_file"}
PYTHON_DYNAMIC = {"eval", "exec", "compile", "__import__", "getattr", "setattr", "delattr", "globals", "locals",
                  "vars", "breakpoint", "importlib", "import_module", "__builtins__", "builtins", "__dict__",
                  "__class__", "__subclasses__", "__globals__", "__code__", "__getattribute__", "__loader__",
                  "__spec__", "modules", "runpy", "code", "codeop", "pickle", "marshal", "shelve"}
READ_MODES = re.compile(r"^[rbt]*$")
# Python: what opens a file with a mode (a write mode changes files).
PYTHON_OPENS = {"open", "fdopen", "NamedTemporaryFile", "mkstemp", "TemporaryFile", "mkdtemp", "ZipFile", "PyZipFile",
                "TarFile"}
# Python: names that find a path at run time (home, environment, current, parent or interpreter's
# directory) or build text the policy cannot read as a path: what the code reads is then unknown.
PYTHON_FINDS_PATHS = {"expanduser", "expandvars", "home", "getcwd", "getcwdb", "cwd", "environ", "environb", "getenv",
                      "getenvb", "abspath", "realpath", "resolve", "absolute", "readlink", "parent", "parents",
                      "dirname", "pardir", "sep", "altsep", "chr", "fromhex", "decode", "b64decode", "b32decode",
                      "b16decode", "a85decode", "b85decode", "unhexlify", "unquote", "unquote_plus", "__file__",
                      "__path__", "__cached__", "prefix", "exec_prefix", "base_prefix", "base_exec_prefix",
                      "executable", "getsitepackages", "getusersitepackages", "USER_SITE", "USER_BASE", "get_paths",
                      "get_path", "get_config_var", "getfile", "getsourcefile"}
# Python: calls that read or list a path given as their first argument, which must then be written in the code.
PYTHON_READERS = {"open", "fdopen", "FileIO", "Path", "PurePath", "PosixPath", "read_text", "read_bytes", "read",
                  "listdir", "scandir", "walk", "fwalk", "iterdir", "glob", "iglob", "rglob", "load", "loadtxt",
                  "genfromtxt", "fromfile", "getline", "getlines", "input", "ZipFile", "TarFile", "connect",
                  "read_csv", "read_json", "read_table", "read_excel", "read_parquet", "read_fwf", "imread", "stat",
                  "lstat", "copyfileobj"}
PATH_KEYWORDS = {"file", "path", "filename", "fname", "filepath_or_buffer", "name"}
STANDARD_STREAMS = {"stdin", "stdout", "stderr"}
# Python: what makes a path or an open file from the value it is given (`Path('a') / 'b'`, `open('x')`).
PYTHON_PATH_MAKERS = {"open", "fdopen", "FileIO", "Path", "PurePath", "PosixPath", "ZipFile", "TarFile"}
# Python: methods that read from the path or the file they are called on (`p.read_text()`, `f.read()`).
PYTHON_RECEIVER_READS = {"read_text", "read_bytes", "read", "readline", "readlines", "iterdir", "rglob", "glob",
                         "open", "walk"}
# Other languages: words that run programs, change files or evaluate strings; perl's and ruby's -i
# rewrite their input files in place.
OTHER_WORDS = re.compile(
    r"system|exec|spawn|popen|fork|kill|unlink|rmdir|rm_r|rmtree|remove|rename|truncate|chmod|chown|symlink|"
    r"link|mkdir|write|open|copy|move|child_process|require|import|eval|Function|`|\bqx\b|%x|\bFile\b|\bDir\b|"
    r"\bIO\b|\bfs\b|Deno|Bun|binding|\$\(|socket|\bsh\b|shell|load|do\s*[\"'$]|unlink|utime|glob|<<|"
    # reads, program runs and code reached by name that the words above miss (node, perl, php, ruby)
    r"getBuiltinModule|mainModule|globalThis|process\s*\[|readpipe|syscall|passthru|\bfile\w*|readfile|scandir|"
    r"show_source|highlight_file|\bsend\b|public_send|instance_eval|class_eval|const_get|Kernel|ObjectSpace", re.I)


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
        if isinstance(node, ast.Call) and _names(node.func) & PYTHON_OPENS:
            mode = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"),
                                                                 None)
            if any(k.arg is None for k in node.keywords) or (mode is not None and not (
                    isinstance(mode, ast.Constant) and isinstance(mode.value, str) and READ_MODES.match(mode.value))):
                return "it opens a file for writing"
        elif isinstance(node, (ast.Name, ast.Attribute)) and _names(node) & {"open", "fdopen"} and not _called(tree, node):
            return "it passes open around, which can write files"
        if isinstance(node, ast.Call) and any(k.arg == "inplace" for k in node.keywords):
            return "it rewrites files in place"
    return _python_reads(tree)


def _python_reads(tree: ast.AST) -> str | None:
    """Why what the code reads is only known at run time, or None when every path it reads is written in it."""
    modules = {(a.asname or a.name).split(".")[0] for node in ast.walk(tree) if isinstance(node, (ast.Import,
                                                                                                  ast.ImportFrom))
               for a in node.names}
    written = _written_names(tree)
    for node in ast.walk(tree):
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
        if name in PYTHON_FINDS_PATHS:
            return f"it uses {name}, so what it reads is only known at run time"
        if not isinstance(node, ast.Call):
            continue
        if _names(node.func) & PYTHON_READERS:
            given = node.args[:1] + [k.value for k in node.keywords if k.arg in PATH_KEYWORDS]
            if not all(_written(value, written) for value in given):
                return f"it gives {next(iter(_names(node.func)))} a path only known at run time"
        if isinstance(node.func, ast.Attribute) and node.func.attr in PYTHON_RECEIVER_READS:
            receiver = node.func.value
            if not (isinstance(receiver, ast.Name) and receiver.id in modules) and not _written(receiver, written):
                return f"it calls {node.func.attr} on a path or a file only known at run time"
    return None


def _written(node: ast.AST, names: set[str] | frozenset[str] = frozenset()) -> bool:
    """A value written in the code: a constant, a path or an open file made of constants (`Path('a') /
    'b'`, `open('x')`), or a name only ever bound to one (`with open('x') as f`)."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id in names
    if isinstance(node, ast.Attribute) and node.attr in STANDARD_STREAMS:
        return True  # json.load(sys.stdin): the command's input, judged where it comes from
    if isinstance(node, ast.BinOp):
        return _written(node.left, names) and _written(node.right, names)
    if isinstance(node, ast.Call):
        return bool(_names(node.func) & PYTHON_PATH_MAKERS) and all(_written(a, names) for a in node.args)
    return False


def _written_names(tree: ast.AST) -> set[str]:
    """The names every binding of which is a written value (`f = open('x')`, `with open('x') as f`); a
    name also bound by a loop, an unpacking or anything else is not one."""
    bound: dict[str, bool] = {}
    for node in ast.walk(tree):
        pairs: list[tuple[ast.AST, ast.AST | None]] = []
        if isinstance(node, ast.Assign):
            pairs = [(target, node.value) for target in node.targets]
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            pairs = [(node.optional_vars, node.context_expr)]
        for target, value in pairs:
            if isinstance(target, ast.Name):
                bound[target.id] = bound.get(target.id, True) and _written(value, set())
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id not in bound:
            bound[node.id] = False  # for x in ..., a, b = ..., x := ..., x += ...
        elif isinstance(node, ast.arg):
            bound[node.arg] = False
    for node in ast.walk(tree):  # a name assigned once and also by a loop: both bindings counted
        if isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension, ast.NamedExpr, ast.AugAssign)):
            for target in ast.walk(node.target):
                if isinstance(target, ast.Name):
                    bound[target.id] = False
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if not isinstance(target, ast.Name):
                    for inner in ast.walk(target):
                        if isinstance(inner, ast.Name):
                            bound[inner.id] = False
    return {name for name, ok in bound.items() if ok}


def python_strings(source: str) -> list[str]:
    """The strings written in Python code (each judged as a path it may read); none if it cannot be read."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def _names(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attribute):
        return {node.attr}
    return set()


def _called(tree: ast.AST, target: ast.AST) -> bool:
    return any(isinstance(node, ast.Call) and node.func is target for node in ast.walk(tree))
