"""The one interpreter a host-state read starts: the host's python3, for what the shell cannot
do without a process each: the Engine API on the local socket, a file's sha256 or base64, the
engine's packages in dpkg's status, the kernel modules this kernel lacks, sysctl values live
and in the files systemd-sysctl reads at boot.

A fact that takes part (``PythonPart``) names its ``ops(**kwargs)`` and turns their answers into
the lines its own command would print (``lines``); the rest of what it reads is its shell
``rest(**kwargs)``. In the host-state read (dockwright.factcache) every such fact of a host is
served by one python3 start, then each fact's rest runs in the shell. A host without python3,
or with DOCKER_HOST set (the daemon is not the local socket), runs each fact's ``fallback``
instead, the shell its own command runs for the same answers: the two ways print the same lines.

python3 starts isolated and without site (-I -S), from /: no .pth file is read, and no module is
imported from the working directory (with --sudo, the SSH user's home). Its start is most of its
cost, so the reader imports only C modules built into the interpreter, each when an op needs it:
the socket (_socket), a bound on the whole read (_signal: SIGALRM ends it, exit 142, as timeout
would), json's own scanner (_json, the C half of json.loads, without the re module json's Python
half imports; 3.11's is a shared object beside it), hashing (_sha2, _sha256 before 3.12),
binascii and posix. The daemon's JSON is passed on as the daemon wrote it, parsed only to find
the networks' IDs and where the Swarm section is.
"""

import shlex
from typing import Callable, NamedTuple

from . import remote
from .host_paths import DOCKER_SOCKET

DOWN = "@@dockerd-down"  # an Engine API op's answer when the daemon does not answer
BOUND = 60  # seconds the reader (and a docker CLI call standing in for it) may take

READER = r"""
import _signal, sys
_signal.alarm(%d)
out = sys.stdout.write
def scanner():
    try:
        import _json
        class Ctx:
            strict, object_hook, object_pairs_hook = True, None, None
            parse_float, parse_int, parse_constant, memo = float, int, float, {}
        return _json.make_scanner(Ctx())
    except Exception:
        import json
        return json.JSONDecoder().scan_once
def get(path):
    import _socket
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM); s.settimeout(30); s.connect("%s")
    s.sendall(("GET %%s HTTP/1.0\r\nHost: docker\r\n\r\n" %% path).encode()); data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk: break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n"); code = head.split(None, 2)[1].decode()
    if code == "404" and path.startswith("/networks/"): return None
    if code != "200": raise OSError("the Engine API answered HTTP %%s to GET %%s" %% (code, path))
    return body.decode().strip()
def skip(text, i, chars=" \t\r\n"):
    while text[i] in chars: i += 1
    return i
def member(text, name, scan):
    i = skip(text, skip(text, 0) + 1)
    while text[i] != "}":
        key, i = scan(text, i)
        start = skip(text, skip(text, i) + 1)
        _, i = scan(text, start)
        if key == name: return text[start:i]
        i = skip(text, skip(text, i), " \t\r\n,")
    raise OSError("no %%s in the Engine API's answer" %% name)
def api(what):
    try:
        scan = scanner()
        if what == "networks":
            nets = [get("/networks/" + n["Id"]) for n in scan(get("/networks"), 0)[0]]
            out("[" + ",".join(n for n in nets if n is not None) + "]\n")
        else:
            out(member(get("/info"), "Swarm", scan) + "\n")
    except Exception as e:
        out("%s error %%s: %%s\n" %% (type(e).__name__, str(e).replace("\n", " ")))
def kind(path, bits):
    import posix
    try:
        return posix.stat(path).st_mode & 0o170000 == bits
    except FileNotFoundError:
        return False
def regular(path): return kind(path, 0o100000)
def isdir(path): return kind(path, 0o040000)
def sha256(path):
    if regular(path):
        try:
            from _sha2 import sha256 as h
        except ImportError:
            from _sha256 import sha256 as h
        with open(path, "rb") as f: out(h(f.read()).hexdigest() + "\n")
def base64(path):
    if regular(path):
        import binascii
        with open(path, "rb") as f: out(binascii.b2a_base64(f.read(), newline=False).decode() + "\n")
def dpkg(names):
    import posix
    names = names.split(",")
    if any(n.isdigit() for n in posix.listdir("/var/lib/dpkg/updates")):
        raise OSError("dpkg has updates not yet merged into its status")
    with open("/var/lib/dpkg/status", "rb") as f: status = f.read().decode("utf-8", "replace")
    for para in status.split("\n\n"):
        fields = {}
        for line in para.split("\n"):
            if line[:1] not in (" ", "\t", "") and ":" in line:
                k, _, v = line.partition(":"); fields[k] = v.strip()
        if fields.get("Package") in names:
            out("%%s %%s %%s\n" %% (fields["Package"], fields.get("Version", ""), fields.get("Status", "")))
def modules(names):
    missing = [m for m in names.split(",") if not isdir("/sys/module/" + m)]
    if not missing:
        return
    with open("/proc/sys/kernel/osrelease") as f: lists = "/lib/modules/" + f.read().strip() + "/"
    known = set()
    for name in ("modules.builtin", "modules.dep"):
        with open(lists + name, "rb") as f: text = f.read().decode("utf-8", "replace")
        for line in text.split("\n"):
            p = line.split(None, 1)[0] if line.strip() else ""
            p = p[:-1] if p.endswith(":") else p
            p = p.rsplit("/", 1)[-1]
            i = p.find(".ko")
            while i >= 0 and not (p[i + 3:] == "" or p[i + 3] == "."):
                i = p.find(".ko", i + 1)
            known.add((p[:i] if i >= 0 else p).replace("-", "_"))
    for m in missing:
        if m not in known: out("missing-module %%s\n" %% m)
def resolved(path):
    import posix
    seen = 0
    parts, done = path.split("/")[1:], ""
    while parts:
        part = parts.pop(0)
        if part in ("", "."): continue
        if part == "..":
            done = done.rsplit("/", 1)[0]; continue
        here = done + "/" + part
        try:
            target = posix.readlink(here)
        except OSError:
            done = here; continue
        seen += 1
        if seen > 40: raise OSError("a symlink loop at " + path)
        if target.startswith("/"): done = ""
        parts = target.split("/") + parts
    return done or "/"
def sysctl(arg):
    import posix
    keys, dirs, conf = arg.split(";")
    files = []
    for d in dirs.split(","):
        try:
            names = sorted(n for n in posix.listdir(d) if n.endswith(".conf") and not n.startswith("."))
        except OSError:
            continue
        for n in names:
            f = d + "/" + n
            if ":" in f or any(ord(c) < 32 or ord(c) == 127 for c in f):
                out("odd %%s\n" %% d); continue
            try:
                link = posix.lstat(f).st_mode & 0o170000 == 0o120000
            except OSError:
                continue
            if link:
                t = resolved(f)
                if t == "/dev/null": out("mask %%s\n" %% f)
                else: out("link %%s %%s\n" %% (f, t))
            elif regular(f):
                out("file %%s\n" %% f)
            if regular(f) and posix.access(f, posix.R_OK): files.append(f)
    if regular(conf):
        out("file %%s\n" %% conf); files.append(conf)
    for k in keys.split(","):
        try:
            with open("/proc/sys/" + k.replace(".", "/"), "rb") as f: text = f.read().decode("utf-8", "replace")
        except OSError:
            out("missing %%s\n" %% k); continue
        lines = text.split("\n")
        if lines and lines[-1] == "": lines.pop()
        out("live %%s %%s\n" %% (k, " ".join(x.replace("\t", " ") for x in lines)))
    for f in files:
        with open(f, "rb") as fh: text = fh.read().decode("utf-8", "replace")
        lines = text.split("\n")
        if lines and lines[-1] == "": lines.pop()
        for line in lines:
            rest = line.lstrip(" \t\r\v\f")
            if rest.startswith("-"): rest = rest[1:]
            if rest[:1] in "abcdefghijklmnopqrstuvwxyz" and rest[:1]: out("%%s:%%s\n" %% (f, line))
ops = {"sha256": sha256, "base64": base64, "dpkg": dpkg, "modules": modules, "sysctl": sysctl}
bare = sys.argv[1:2] == ["-"]  # one op read alone: its answer only
for i, op in enumerate(sys.argv[2 if bare else 1:]):
    if not bare: out("@@op %%d\n" %% i)
    name, _, arg = op.partition(":")
    if name in ("networks", "swarm"):
        api(name)
        continue
    try:
        ops[name](arg)
    except Exception as e:
        out("\n@@op-failed %%d %%s\n" %% (i, type(e).__name__))
        if bare: sys.exit(1)
if not bare: out("@@op-end\n")
""".strip() % (BOUND, DOCKER_SOCKET, DOWN)


def python_command(ops: list[str], bare: bool = False) -> str:
    """The reader asked for ops, from /; when it dies (its alarm: 142), DOWN and its exit status.
    Bare: one op, its answer alone (a fact read on its own)."""
    args = " ".join(shlex.quote(op) for op in (["-"] if bare else []) + ops)
    return f"( cd / && exec python3 -I -S -c {shlex.quote(READER)} {args} ) || echo {DOWN} $?"


# Whether the reader can serve this host: python3 is there and the daemon is the local socket.
USABLE = 'if [ -z "${DOCKER_HOST:-}" ] && command -v python3 >/dev/null 2>&1; then'


def group_command(members: list[tuple]) -> str:
    """One command for several (fact, arguments): the reader once, or where it cannot serve,
    each fact's shell for what the reader would answer (``fallback``); then each fact's rest."""
    ops = [op for fact, kwargs in members for op in fact.ops(**kwargs)]
    fallbacks = " ".join(f"echo '@@whole {i}'; ( {fact.fallback(**kwargs)} );" for i, (fact, kwargs) in enumerate(members))
    # Each rest in a subshell of its own (its variables and IFS stay its own); none where it is empty.
    rests = " ".join(f"echo '@@rest {i}';" + (f" ( {rest} );" if (rest := fact.rest(**kwargs)) else "")
                     for i, (fact, kwargs) in enumerate(members))
    return f"{USABLE} {python_command(ops)}; else {fallbacks} fi; {rests}"


def split_group(output: list[str], members: list[tuple]) -> list[list[str] | None]:
    """Each member's lines from a group_command's output, in members' order; None for a member
    that must be read again on its own (an op of its failed, or the read ended before it)."""
    answers: dict[int, list[str]] = {}
    failed: set[int] = set()
    rests: dict[int, list[str]] = {}
    wholes: dict[int, list[str]] = {}
    current: list[str] = []
    died, ended, in_reader = None, False, True
    for line in output:
        word, _, rest = line.partition(" ")
        if in_reader and word == "@@op" and rest.isdigit():
            current = answers.setdefault(int(rest), [])
        elif in_reader and word == "@@op-failed" and rest.split(" ")[0].isdigit():
            failed.add(int(rest.split(" ")[0]))
            current = []
        elif in_reader and word == "@@op-end":
            ended, current = True, []
        elif in_reader and word == DOWN and rest.split(" ")[0].isdigit():
            died, current = line, []  # the reader itself died (its alarm, a crash)
        elif word == "@@rest" and rest.isdigit():
            in_reader, current = False, rests.setdefault(int(rest), [])
        elif word == "@@whole" and rest.isdigit():
            in_reader, current = False, wholes.setdefault(int(rest), [])
        else:
            current.append(line)
    if not ended and answers:
        failed.add(max(answers))  # the op the reader was in when it ended: its answer may be cut
    found: list[list[str] | None] = []
    first = 0
    for i, (fact, kwargs) in enumerate(members):
        n = len(fact.ops(**kwargs))
        if i in wholes:
            found.append(wholes[i] + rests.get(i, []))
        else:
            mine = [None if j in failed else answers.get(j) for j in range(first, first + n)]
            if died is not None:
                mine = [[died] if a is None else a for a in mine]
            head = fact.lines(mine, **kwargs)
            found.append(None if head is None else head + rests.get(i, []))
        first += n
    return found


def answered(answers: list[list[str] | None]) -> bool:
    """Whether every op of a file or package read answered (an empty answer is "no such file")."""
    return all(a is not None and not (a and a[0].startswith(DOWN)) for a in answers)


class GroupRead(NamedTuple):
    """How several facts share one part of the host-state read (dockwright.factcache): the
    command for them all, and the split of its output into each one's."""
    command: Callable[[list[tuple]], str]
    split: Callable[[list[str], list[tuple]], list[list[str] | None]]


READ = GroupRead(group_command, split_group)


class PythonPart:
    """What a fact that has the reader answer part of its read adds to pyinfra's FactBase."""

    shared = READ  # its part of the host-state read (dockwright.factcache)

    def ops(self, **kwargs) -> list[str]:
        """The reader's ops this fact needs ("sha256:PATH", "base64:PATH", "dpkg:A,B", "modules:A,B",
        "sysctl:KEYS;DIRS;FILE", "networks", "swarm")."""
        raise NotImplementedError

    def fallback(self, **kwargs) -> str:
        """The shell for what its ops ask, where the reader cannot serve: its own command, for a
        fact with no rest (a fact with one: its command is its fallback, then its rest)."""
        return remote.fact_command(self, kwargs)

    def rest(self, **kwargs) -> str:
        """The shell for the rest of the read (may be empty)."""
        return ""

    def lines(self, answers: list[list[str] | None], **kwargs) -> list[str] | None:
        """The lines its own command would print, from each op's answer, before the rest's
        lines. An answer is None when the reader never gave it or its op failed, [DOWN line]
        when the reader died; a file read then answers None: the fact is read again on its own
        (``answered``), and an Engine API read is down. By default, one op whose answer is
        already those lines."""
        return answers[0] if answered(answers) else None
