"""What a sandboxed command sees of the file system: an allow-list, not a list of secrets to hide.

The sandbox's root is bwrap's own empty tmpfs, read-only once set up. Shown in it, read-only at their
paths: the system's folders (/usr, /etc, the /bin and /lib links or folders: SHOWN_SYSTEM), and the
toolchains a command runs that live elsewhere: the folders of the PATH entries (an install prefix
like /opt/node for /opt/node/bin; in a home, a toolchain manager's whole tree: ~/.pyenv, ~/.nvm, ~/go;
~/.cargo/bin with ~/.rustup; a virtualenv with its base interpreter), the agent's own interpreter,
the toolchain folders the environment names (GOPATH, RUSTUP_HOME, ...): all named by the user. What
the repository names (its `.venv`, a `pyvenv.cfg`'s `home`) brings files, never a folder: the
interpreter at each path its links pass through, and that interpreter's standard library. The caller adds /dev, /proc,
a private /tmp, the workspace read-write, the user's enabled skills and git's settings without
credentials. Everything else (/srv, /opt, /var, /mnt, /media, the homes, the projects beside the
workspace) is not there. A home that lies inside a system folder is covered by an empty tmpfs.
"""

from __future__ import annotations

import os
import pwd
import re
import stat
import sys
from pathlib import Path

from agent_runtime.core import within

# Shown read-only at their paths; a symlinked one (merged /usr: /bin -> usr/bin) as the same symlink. /etc
# whole: the system's settings, readable by every user by design (ld.so.cache, passwd, certificates,
# alternatives); what only root may read there is hidden from a sandboxed root (root_only). /nix: a store
# of world-readable packages. Not /opt (only the toolchains of PATH in it), /var, /srv, /sys, /boot.
SHOWN_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/nix")
# Recreated as the host has them when they are symlinks (/var/run -> /run, the sandbox's empty /run).
LINKS = ("/var/run",)
# PATH folders of the distribution: their symlinks point into /usr and /etc (not followed, see _links_out).
DISTRO_BINS = ("/usr/bin", "/usr/sbin", "/bin", "/sbin")
HOME_ROOTS = ("/home", "/root")
# Where passwd may put an ordinary user's home that must not be covered whole (the system itself).
SYSTEM = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/opt", "/proc", "/run", "/sbin",
          "/sys", "/tmp", "/usr", "/var", "/nix", "/snap")
# A PATH entry under one of these folders of a home brings the whole folder: a toolchain manager keeps
# its versions, shims and settings side by side (pyenv's shims read ~/.pyenv/version).
TOOLCHAIN_DIRS = frozenset({".pyenv", ".nvm", ".rbenv", ".rustup", "go", ".go", ".volta", ".bun", ".deno",
                            ".sdkman", ".asdf", ".nodenv", ".goenv", ".jenv", ".fnm", ".ghcup", ".juliaup", ".pixi",
                            ".elan", ".opam", "miniconda3", "anaconda3", "miniforge3", "mambaforge", ".swiftly"})
# Folders the environment may name that hold a toolchain (a virtualenv, GOPATH's module cache).
TOOLCHAIN_ENV = ("VIRTUAL_ENV", "GOROOT", "GOPATH", "RUSTUP_HOME", "JAVA_HOME")
MAX_LINKS = 500  # symlinks of one bin folder followed to their toolchain (pipx's ~/.local/bin)


def system_args() -> list[str]:
    """bwrap arguments that show the system's folders read-only in the empty root."""
    out: list[str] = []
    for name in SHOWN_SYSTEM + LINKS:
        if os.path.islink(name):
            out += ["--symlink", os.readlink(name), name]
        elif name in SHOWN_SYSTEM and os.path.isdir(name):
            out += ["--ro-bind", name, name]
    return out


def system_shown(path: Path) -> bool:
    """Is `path` (absolute, normalised) inside a system folder the sandbox shows (/bin/x by the link's name)?"""
    top = "/" + path.parts[1] if path.is_absolute() and len(path.parts) > 1 else ""
    return top in SHOWN_SYSTEM and os.path.lexists(top)


def root_only(top: str = "/etc") -> list[Path]:
    """What under /etc not everyone may read (shadow, sudoers, ssh host keys, ssl/private, a service's
    0600 password file): a sandboxed root still passes the owner check, so these are hidden from it."""
    out: list[Path] = []
    stack = [top]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        mode = entry.stat(follow_symlinks=False).st_mode
                    except OSError:
                        continue
                    if not stat.S_ISLNK(mode) and not mode & stat.S_IROTH:
                        out.append(Path(entry.path))
                    elif stat.S_ISDIR(mode):
                        stack.append(entry.path)
        except OSError:
            continue
    return sorted(out)


def _is_venv(folder: Path) -> bool:
    try:  # a folder this user may not enter (another's 0700 home) raises rather than answers False
        return (folder / "pyvenv.cfg").is_file()
    except OSError:
        return False


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _system(path: Path) -> bool:
    return any(within(path, Path(s)) or within(Path(s), path) for s in SYSTEM) or path == Path("/")


# Never covered, even as the user's own $HOME: private already in the sandbox, or the kernel's.
NOT_COVERED = ("/tmp", "/var/tmp", "/proc", "/sys", "/dev", "/run", "/var/run")


def _own_home_coverable(path: Path) -> bool:
    """The user's own $HOME is covered wherever it is (a service account's /var/lib/jenkins, /opt/app):
    but not one that holds a system folder (`/`, `/usr`) or lies where the sandbox has its own."""
    if path == Path("/") or any(within(Path(s), path) for s in SYSTEM):
        return False
    return not any(within(path, Path(n)) for n in NOT_COVERED)


def covers(home: Path | None = None) -> list[Path]:
    """The homes to cover, outermost only: /home, /root, $HOME, and ordinary users' homes elsewhere."""
    try:
        own = _real(home or Path.home())
    except (OSError, RuntimeError):
        own = None
    found = [Path(p) for p in HOME_ROOTS] + [home or Path.home()]
    try:
        found += [Path(u.pw_dir) for u in pwd.getpwall() if 1000 <= u.pw_uid < 65534 and os.path.isabs(u.pw_dir)]
    except OSError:
        pass
    out: list[Path] = []
    for path in found:
        try:
            path = _real(path)
            if not path.is_dir() or len(path.parts) < 2:
                continue
        except OSError:
            continue
        if path in (Path(p) for p in HOME_ROOTS) or not _system(path) or (path == own and _own_home_coverable(path)):
            out.append(path)
    return sorted({p for p in out if not any(o != p and within(p, o) for o in out)})


def _home_of(path: Path, homes: list[Path]) -> Path | None:
    """The home that holds `path` (/home/u for /home/u/x; $HOME for what is under it), or None."""
    best = None
    for home in homes:
        if within(path, home) and (best is None or len(home.parts) > len(best.parts)):
            best = home
    return best


def _folder(path: Path, homes: list[Path], inside: Path | None = None) -> list[Path]:
    """What to show for a toolchain path the user names that the system folders do not: in a home, the
    toolchain manager's folder, the virtualenv a bin folder belongs to, or the path itself (nothing for a
    home whole); elsewhere, a virtualenv, the install prefix of a bin folder (/opt/node for /opt/node/bin:
    npm lives in its lib; not a prefix that holds the workspace `inside`), or the path itself."""
    home = _home_of(path, homes)
    if home is None:
        if path.name == "bin" and _is_venv(path.parent):
            return [path.parent]
        if path.name not in ("bin", "sbin") or len(path.parent.parts) < 3 or (inside and within(inside, path.parent)):
            return [path]
        return [path.parent]
    if path == home:
        return []
    first = home / path.relative_to(home).parts[0]
    if first.name in TOOLCHAIN_DIRS:
        return [first]
    if path.name == "bin" and _is_venv(path.parent):
        return [path.parent]
    if path.name == "bin" and path.parent.name == ".cargo":  # rustup's proxies need the toolchains, and
        # an offline build its downloaded crates (not ~/.cargo whole: credentials.toml lives there)
        return [path, Path(os.environ.get("RUSTUP_HOME") or home / ".rustup"), path.parent / "registry",
                path.parent / "git"]
    return [path]


def _venv_base(venv: Path) -> list[Path]:
    try:
        for line in (venv / "pyvenv.cfg").read_text(errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and os.path.isabs(value.strip()):
                return [Path(value.strip())]
    except OSError:
        pass
    return []


def hidden(path: Path, homes: list[Path]) -> bool:
    """Not shown by the system folders: elsewhere, or in a home (covered where it lies inside one)."""
    return not system_shown(path) or _home_of(path, homes) is not None


def toolchains(env: dict[str, str], homes: list[Path], extra: list[Path] = (),
               workspace: Path | None = None) -> list[tuple[Path, Path]]:
    """(source, destination) of each toolchain folder or file the system folders do not show, to bind
    read-only: the real one at the path a command names it by (a symlinked ~/.nix-profile/bin too).
    What the user names (PATH, the toolchain variables, the agent's own interpreter) brings folders
    (`_folder`). What the repository names brings files and a standard library only
    (`workspace_python`): `extra` (the workspace's own virtualenvs, whose interpreter may live in ~),
    and whatever the user names that lies in `workspace` (a virtualenv of the repository's that the
    user activated). Never `/`, a top-level folder (/srv, /tmp) whole, nor a folder that holds the
    workspace (its neighbours)."""
    inside = Path(os.path.realpath(workspace)) if workspace is not None else None
    wanted = [Path(p) for p in env.get("PATH", "").split(os.pathsep) if os.path.isabs(p)]
    wanted += [Path(sys.prefix), Path(sys.base_prefix), _real(Path(sys.executable)).parent]
    wanted += [Path(env[name]) for name in TOOLCHAIN_ENV if os.path.isabs(env.get(name, ""))]
    cargo = env.get("CARGO_HOME")
    if cargo and os.path.isabs(cargo):
        wanted.append(Path(cargo) / "bin")  # not CARGO_HOME whole: credentials.toml lives there
    named = [Path(p) for p in extra]
    out: dict[Path, Path] = {}
    seen: set[Path] = set()
    while wanted:
        path = Path(os.path.normpath(wanted.pop(0)))
        if inside is not None and (within(path, inside) or within(_real(path), inside)):
            named.append(path)  # the repository's: never a folder
            continue
        if path in seen:
            continue
        seen.add(path)
        for candidate in dict.fromkeys((path, _real(path))):
            venv = candidate if _is_venv(candidate) else candidate.parent if candidate.name == "bin" else None
            if venv is not None and _is_venv(venv):
                wanted += _venv_base(venv)  # its interpreter may live in ~ (pyenv)
            if not hidden(candidate, homes):
                if str(candidate) not in DISTRO_BINS:  # /usr/local/bin/node -> /opt/node/bin/node
                    wanted += _links_out(candidate, homes)
                continue
            for folder in _folder(candidate, homes, inside):
                try:
                    if not folder.exists() or len(folder.parts) < 3 or (inside is not None and (
                            within(inside, folder) or within(folder, inside))):  # the workspace is bound anyway
                        continue
                except OSError:
                    continue
                if folder not in out:
                    out[folder] = _real(folder)
                    wanted += _links_out(folder, homes)
    kept = [(src, dst) for dst, src in out.items() if not any(o != dst and within(dst, o) for o in out)]
    kept += workspace_python(named, homes, [dst for _, dst in kept], inside)
    return sorted(kept, key=lambda pair: len(pair[1].parts))


# What a repository may name brings only these: an interpreter's files and its standard library.
PYTHON_NAME = re.compile(r"python(?:3(?:\.\d+)?)?")
STDLIB_NAME = re.compile(r"python3\.\d+")
LIBPYTHON_NAME = re.compile(r"libpython3(?:\.\d+)?\.so(?:\.[\d.]+)?")
MAX_HOPS = 40  # symlinks followed from an interpreter's name to its file
MAX_NAMED = 16  # virtualenvs and base folders followed from what a repository names


def _hops(path: Path) -> list[Path]:
    """Where a command meets `path` on its way to the file: the path, each symlink it passes through,
    the file; each with its folder resolved (a `.venv -> /srv/app` link reaches /srv/app/bin/python)."""
    out: list[Path] = []
    here = Path(os.path.realpath(path.parent)) / path.name
    for _ in range(MAX_HOPS):
        out.append(here)
        try:
            if not here.is_symlink():
                break
            target = Path(os.readlink(here))
        except OSError:
            break
        target = target if target.is_absolute() else here.parent / target
        here = Path(os.path.realpath(target.parent)) / target.name
    return out


def workspace_python(named: list[Path], homes: list[Path], shown: list[Path],
                     inside: Path | None) -> list[tuple[Path, Path]]:
    """(file or folder, where it is bound) for a Python that the repository names (`named`: its `.venv/bin`,
    a PATH entry or VIRTUAL_ENV in the workspace, a `pyvenv.cfg`'s `home`): each interpreter file of that
    bin folder (`python`, `python3`, `python3.X`) at every path its symlinks pass through, and the
    interpreter's own `lib/python3.X` (its installed packages emptied: library_covers) and `libpython3`
    beside it, never a virtualenv's lib nor any other folder; only files in ELF format. Nothing for
    what the sandbox shows anyway (the system folders, `shown`, the workspace)."""
    out: dict[Path, Path] = {}

    def bind(source: Path, dest: Path) -> None:
        there = not hidden(dest, homes) or any(within(dest, s) for s in shown)
        if not there and not (inside is not None and within(dest, inside)) and dest not in out:
            out[dest] = source

    queue, seen = list(named), set()
    while queue and len(seen) < MAX_NAMED:
        named_as = queue.pop(0)
        folder = _real(named_as)
        if folder in seen:
            continue
        seen.add(folder)
        for candidate in dict.fromkeys((Path(os.path.realpath(named_as.parent)) / named_as.name, folder)):
            venv = candidate if _is_venv(candidate) else candidate.parent if candidate.name == "bin" else None
            if venv is not None and _is_venv(venv):
                queue += _venv_base(venv)  # .venv/bin a link elsewhere: .venv/pyvenv.cfg still names the base
        bin_dir = folder / "bin" if _is_venv(folder) else folder
        try:
            names = sorted(name for name in os.listdir(bin_dir) if PYTHON_NAME.fullmatch(name))
        except OSError:
            continue
        for name in names:
            hops = _hops(bin_dir / name)
            real = hops[-1]
            if not _elf(real, program=True):  # `.venv/bin/python3 -> /srv/app/.env` shows nothing
                continue
            for hop in hops:
                bind(real, hop)
            prefix = real.parent.parent
            if real.parent.name != "bin" or len(prefix.parts) < 2 or not PYTHON_NAME.fullmatch(real.name):
                continue
            if _is_venv(prefix):  # a virtualenv's copied interpreter: its base holds the library
                queue += _venv_base(prefix)
                continue
            for lib in (prefix / "lib", prefix / "lib64"):
                try:
                    entries = sorted(os.listdir(lib))
                except OSError:
                    continue
                for entry in entries:
                    path = lib / entry
                    if STDLIB_NAME.fullmatch(entry) and path.is_dir():
                        bind(_real(path), path)
                    elif LIBPYTHON_NAME.fullmatch(entry):
                        hops = _hops(path)
                        if _elf(hops[-1], program=False):
                            for hop in hops:
                                bind(hops[-1], hop)
    return [(source, dest) for dest, source in out.items()]


def _elf(path: Path, program: bool) -> bool:
    """A regular file in ELF format (executable by someone, for a `program`): an interpreter or its
    library, not a file of settings a link named `python3` points at."""
    try:
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode) or (program and not info.st_mode & 0o111):
            return False
        with open(path, "rb") as handle:
            return handle.read(4) == b"\x7fELF"
    except OSError:
        return False


# Installed packages live beside the standard library: what a deployed application keeps there.
PACKAGES = ("site-packages", "dist-packages")


def library_covers(shown: list[tuple[Path, Path]]) -> list[str]:
    """bwrap arguments that empty the installed packages of a standard library bound by itself
    (`lib/python3.X`: only workspace_python binds one so; the user's toolchains come whole)."""
    out: list[str] = []
    for source, dest in shown:
        if STDLIB_NAME.fullmatch(dest.name) and dest.parent.name in ("lib", "lib64"):
            for name in PACKAGES:
                if (source / name).is_dir() and not (source / name).is_symlink():
                    out += ["--tmpfs", str(dest / name), "--remount-ro", str(dest / name)]
    return out


def _links_out(folder: Path, homes: list[Path]) -> list[Path]:
    """The folders of what a bin folder's symlinks point at that the sandbox does not show otherwise
    (pipx links ~/.local/bin/x to its virtualenv under ~/.local/share; /usr/local/bin/node -> /opt/...)."""
    if folder.name not in ("bin", "sbin"):
        return []
    out: list[Path] = []
    try:
        with os.scandir(folder) as entries:
            for n, entry in enumerate(entries):
                if n >= MAX_LINKS:
                    break
                if entry.is_symlink():
                    target = _real(Path(entry.path))
                    if hidden(target, homes) and target.parent not in out:
                        out.append(target.parent)
    except OSError:
        pass
    return out


def shown_under(path: Path, covered: list[Path], shown: list[Path]) -> bool:
    """Is `path` there in the sandbox: inside a folder bound in (`shown`: the toolchains, the workspace,
    ...), or inside a system folder but not in a home covered there."""
    if any(within(path, s) for s in shown):
        return True
    return system_shown(path) and not any(within(path, c) for c in covered)


def covered_homes(homes: list[Path]) -> list[Path]:
    """The homes a system folder would show (a $HOME under /usr/local): covered by an empty tmpfs. The
    others are simply not there."""
    return [home for home in homes if system_shown(home)]


def cover_args(covered: list[Path], size: int) -> list[str]:
    """Empty tmpfs over each home: writable until `seal_args` (the binds back need mount points)."""
    return [a for c in covered for a in ("--size", str(size), "--tmpfs", str(c))]


CACHE_BYTES = 512 << 20


def seal_args(covered: list[Path], home: Path, shown: list[Path]) -> list[str]:
    """The user's $HOME there, empty, with a private, writable ~/.cache (go's build cache and pip's live
    there, and go test fails without one), unless a folder shown holds it (the workspace); then every
    cover and the root read-only (not the mounts in them: non-recursive)."""
    out: list[str] = []
    if home != Path("/") and not shown_under(home, covered, shown):
        out += ["--dir", str(home), "--size", str(CACHE_BYTES), "--tmpfs", str(home / ".cache")]
    return out + [a for c in (*covered, Path("/")) for a in ("--remount-ro", str(c))]
