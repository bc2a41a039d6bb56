"""What dockwright's scheduled commands (drift.py, diagnose.py) share: exit codes, usage errors,
shards, --limit, the per-inventory lock, atomic report files, the Prometheus label escaping, and
running pyinfra's CLI in this process to read its state.

Standard library only at import time (``drift.py merge`` runs without the venv); pyinfra is
imported where it is used.
"""

import argparse
import contextlib
import fcntl
import functools
import hashlib
import json
import os
import re
import stat
import sys
from pathlib import Path

from .run import DEPLOY

CHECKOUT = Path(__file__).resolve().parents[1]  # a checkout's root (the version's fallback)
EXIT_OK, EXIT_FAILURE, EXIT_FOUND, EXIT_USAGE = 0, 1, 2, 64


class Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error, which reads as "drift found": exit EXIT_USAGE."""

    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


_PROJECT: list[Path] = []


@contextlib.contextmanager
def use_project(path: Path):
    """The directory the runs of a command work in while it lasts (its inventories, group_data/,
    deploy.py, reports/): the current directory for ``dockwright drift``, a checkout's own for
    its drift.py (run from anywhere, by a timer)."""
    _PROJECT.append(Path(path).resolve())
    try:
        yield
    finally:
        _PROJECT.pop()


def project() -> Path:
    return _PROJECT[-1] if _PROJECT else Path.cwd()


def in_project(command):
    """A fleet command's main from command(argv): argv defaults to the process's arguments, and
    the command runs in project_dir (default: the current directory; use_project)."""
    @functools.wraps(command)
    def main(argv=None, project_dir: Path | None = None) -> int:
        with use_project(project_dir or Path.cwd()):
            return command(sys.argv[1:] if argv is None else argv)
    return main


def deploy_file() -> str:
    """The deploy a scheduled run plans and fixes with: the project's deploy.py (what
    ``pyinfra INVENTORY deploy.py`` runs there), else the packaged one."""
    # Relative: pyinfra runs from the project (run_pyinfra), and names the file as given.
    return "deploy.py" if (project() / "deploy.py").exists() else str(Path(__file__).resolve().parent / "deploy_file.py")


def version() -> str:
    """dockwright's version: the installed distribution's, else this checkout's pyproject.toml."""
    from importlib import metadata
    try:
        return metadata.version("dockwright")
    except metadata.PackageNotFoundError:
        m = re.search(r'^version = "([^"]+)"', (CHECKOUT / "pyproject.toml").read_text(), re.M)
        return m.group(1) if m else "unknown"


def _key_value(text: str) -> str:
    """--data's value as pyinfra takes it: KEY=VALUE (a usage error, exit 64, otherwise)."""
    import argparse
    if "=" not in text or not text.partition("=")[0].strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (as pyinfra's --data takes it)")
    return text


def op_name(op: dict) -> str:
    """An operation's own name in pyinfra's JSON, which shows those of a packaged deploy as
    "DEPLOY | NAME" (dockwright | sysctl: owned file, ...)."""
    return (op.get("name") or "").removeprefix(f"{DEPLOY} | ")


def limit_args(limit: str | None) -> list[str]:
    return [arg for name in (limit.split(",") if limit else []) for arg in ("--limit", name)]


def shard_of(name: str, count: int) -> int:
    """The shard (1..count) a host belongs to: from a hash of its name alone, so a host always
    lands in the same shard whatever else the inventory holds."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:12], 16) % count + 1


def parse_shard(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    i, n = int(index), int(count)
    if not 1 <= i <= n:
        raise argparse.ArgumentTypeError(f"--shard {text}: expected I/N with 1 <= I <= N")
    return i, n


def limit_matches(inventory, pattern: str) -> list[str]:
    """The hosts one --limit pattern selects, as pyinfra reads it: a group name, else a glob
    over host names (a plain name is a glob matching itself)."""
    from fnmatch import fnmatch

    from pyinfra.api.exceptions import NoGroupError
    try:
        return sorted(h.name for h in inventory.get_group(pattern))
    except NoGroupError:
        if not any(c in pattern for c in "*?[") and pattern in getattr(inventory, "hosts", {}):
            return [pattern]
        return sorted(h.name for h in inventory if fnmatch(h.name, pattern))


def shard_scope(inventory: str, index: int, count: int, limit: str | None = None) -> tuple[list[str], int]:
    """(the inventory's hosts in shard index of count, within --limit read as pyinfra reads it;
    how many hosts the whole scope has)."""
    from dockwright import pyinfra_internals

    inv = pyinfra_internals.make_inventory(inventory, cwd=str(project()))
    hosts = {h.name for h in inv}
    if limit:
        hosts &= {name for pattern in limit.split(",") for name in limit_matches(inv, pattern)}
    return sorted(name for name in hosts if shard_of(name, count) == index), len(hosts)


def shard_hosts(inventory: str, index: int, count: int, limit: str | None = None) -> list[str]:
    """The inventory's hosts in shard index of count, within --limit (shard_scope)."""
    return shard_scope(inventory, index, count, limit)[0]


def shard_problems(reports: list[dict]) -> list[str]:
    """Why these reports are not the shards 1..N of one run, each exactly once."""
    shards = [tuple(r.get("shard") or ()) for r in reports]
    if not reports or any(len(s) != 2 for s in shards):
        return ["a report that is not a shard's (no [I, N]): run each with --shard I/N"] if reports else ["no reports"]
    counts = {n for _, n in shards}
    if len(counts) > 1:
        return [f"shards of different splits: N = {', '.join(map(str, sorted(counts)))}"]
    n = counts.pop()
    seen = [i for i, _ in shards]
    problems = [f"shard {i}/{n} missing" for i in range(1, n + 1) if i not in seen]
    problems += [f"shard {i}/{n} given {seen.count(i)} times" for i in sorted(set(seen)) if seen.count(i) > 1]
    return problems


def label(value: str) -> str:
    """A label value as the Prometheus text format writes it (backslash, quote, newline escaped)."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def write_atomic(path: Path, text: str, mode: int = 0o600) -> None:
    """path's new content, whole or not at all; created with mode (reports 0600: they name
    hosts and values; the metrics textfile 0644, which node_exporter's user must read)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)  # whatever the umask
    tmp.replace(path)  # node_exporter's textfile collector must never read a half file


def lock_dir() -> Path:
    """A directory for the locks that only this user can write: /run/lock/dockwright for root,
    $XDG_RUNTIME_DIR/dockwright, else the systemd unit's RuntimeDirectory or StateDirectory,
    else a directory under the user's home ($XDG_STATE_HOME or ~/.local/state). Never a shared
    directory such as /tmp: another local user could create the name first and stop every
    scheduled run (cron and CI have no XDG_RUNTIME_DIR). It is created 0700 and refused unless
    it is ours and nobody else's."""
    uid = os.getuid()
    if uid == 0 and os.path.isdir("/run/lock"):
        d = Path("/run/lock/dockwright")
    elif os.environ.get("XDG_RUNTIME_DIR"):
        d = Path(os.environ["XDG_RUNTIME_DIR"]) / "dockwright"
    elif os.environ.get("RUNTIME_DIRECTORY") or os.environ.get("STATE_DIRECTORY"):
        base = (os.environ.get("RUNTIME_DIRECTORY") or os.environ["STATE_DIRECTORY"]).split(":")[0]
        d = Path(base) / "locks"
    else:
        state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
        d = state / "dockwright" / "locks"
        d.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.mkdir(d, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(d)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & 0o077:
        raise PermissionError(f"{d} is not a directory of this user's alone (owner {st.st_uid}, "
                              f"mode {oct(st.st_mode & 0o777)})")
    return d


def lock_path(inventory: str, shard: tuple[int, int] | None, kind: str = "") -> Path:
    """One lock per inventory (by its absolute path), shard and kind of run: shards of one
    inventory may run side by side, the same shard twice may not, other inventories never wait,
    and a diagnosis (kind "diagnose") never waits for a drift run."""
    key = hashlib.sha256(str(Path(inventory).resolve()).encode()).hexdigest()[:12]
    name = f"{Path(inventory).stem}-{key}" + (f"-shard-{shard[0]}-of-{shard[1]}" if shard else "")
    return lock_dir() / (f"{name}.{kind}.lock" if kind else f"{name}.lock")


@contextlib.contextmanager
def held_lock(path: str, who: str):
    """The lock at path, held for the block; None (and why, on stderr) when it cannot be taken:
    another run holds it, or it is a link, a directory or another user's file."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as e:
        print(f"{who}: cannot open the lock {path}: {e}; not starting", file=sys.stderr)
        yield None
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        print(f"{who}: another run holds {path}; not starting", file=sys.stderr)
        yield None
        return
    try:
        yield path
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def run_pyinfra(args: list[str], compact: str | None = None, **switches):
    """pyinfra's CLI with args, in this process, from the project, as a scheduled run (with
    ``switches`` of the caller's own set on its Run): (its State or None, the error it raised
    or None). Its output is not read (never parse its log): the caller reads the state."""
    from dockwright import pyinfra_internals

    os.chdir(project())
    if str(project()) not in sys.path:
        sys.path.insert(0, str(project()))
    state, raised = pyinfra_internals.run_cli(args, {"scheduled": True, **switches}, compact=compact)
    # invalid data, a failed fact...: pyinfra's own error, as it says it
    return state, (pyinfra_internals.error_text(raised) if raised is not None else None)


def hosts_outcome(state, reasons: dict[str, str] | None = None) -> tuple[list, dict, dict, dict]:
    """From pyinfra's state: (the hosts of this run; {host it could not connect to, or that went
    silent past the liveness bound: why}; {host that failed alone: why}; {host left out on
    purpose (maintenance): why})."""
    from dockwright import run

    this = run.of_state(state)
    in_run = sorted(h.name for h in state.inventory if state.is_host_in_limit(h))
    activated = {h.name for h in state.activated_hosts}
    skipped = {h: why for h, why in sorted(this.skipped.items()) if h in in_run}
    unreachable = {h: this.unreachable.get(h) or this.declared.get(h) or "did not connect"
                   for h in in_run if h not in skipped and (h not in activated or h in this.declared)}
    reasons = reasons or {}
    failed = {h.name: reasons.get(h.name, "failed while planning (pyinfra's output says why)")
              for h in sorted(state.failed_hosts, key=lambda h: h.name)
              if h.name not in unreachable and h.name not in skipped}
    return in_run, unreachable, failed, skipped


def fleet_parser(doc: str, pass_on: str) -> "Parser":
    """The arguments drift.py and diagnose.py share: the inventory, which hosts, where the
    reports go, the lock, and what is passed on to pyinfra (pass_on says for what)."""
    parser = Parser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"dockwright {version()}")
    parser.add_argument("inventory")
    parser.add_argument("--limit", help="only these hosts (host names, groups or globs, as pyinfra --limit)")
    parser.add_argument("--shard", type=parse_shard, help="I/N: only the hosts of shard I of N (stable by host name)")
    parser.add_argument("--json", help="write the report as JSON here")
    parser.add_argument("--metrics", help="write a Prometheus textfile here")
    parser.add_argument("--html", help="write the run's page here (python -m dockwright.page: one self-contained file)")
    parser.add_argument("--lock", help="lock file (default: one per inventory and shard, see lock_path)")
    parser.add_argument("--data", action="append", default=[], metavar="KEY=VALUE", type=_key_value,
                        help=f"passed on to pyinfra (override host data), {pass_on}")
    parser.add_argument("--sudo", action="store_true", help="passed on to pyinfra")
    parser.add_argument("--parallel", type=int, help="passed on to pyinfra")
    parser.add_argument("--progress", choices=("hosts", "compact"), default="hosts",
                        help="hosts: pyinfra's lines for each host (default); compact: one line every 20 s "
                             "(hosts connected, unreachable, failed), for large fleets")
    from .coverage import parse_budget
    parser.add_argument("--max-unreachable", type=parse_budget, metavar="N|P%",
                        help="unreachable hosts the verdict may leave out and still hold (default 0); they are "
                             "still listed, in the report and the metrics")
    return parser


def pyinfra_flags(args) -> list[str]:
    """The pyinfra flags a fleet command passes on (--data, --sudo, --parallel)."""
    flags = [arg for kv in args.data for arg in ("--data", kv)]
    flags += ["--sudo"] if args.sudo else []
    flags += ["--parallel", str(args.parallel)] if args.parallel else []
    return flags


def run_locked(args, who: str, run, kind: str = "") -> int:
    """run(args) under the inventory's (and shard's) lock, with the caller's paths made
    absolute first (pyinfra runs in the checkout); EXIT_FAILURE when the lock is not ours."""
    for name in ("json", "metrics", "html", "lock", "previous"):
        if getattr(args, name, None):
            setattr(args, name, os.path.abspath(getattr(args, name)))
    if os.path.exists(args.inventory):
        args.inventory = os.path.abspath(args.inventory)
    # Shards of one inventory may run side by side; the same shard twice may not.
    try:
        args.lock = args.lock or str(lock_path(args.inventory, args.shard, kind))
    except OSError as e:  # the lock directory is not this user's alone
        print(f"{who}: cannot open the lock directory: {e}; not starting", file=sys.stderr)
        return EXIT_FAILURE
    with held_lock(args.lock, who) as held:
        return run(args) if held else EXIT_FAILURE


def read_reports(paths: list[str], who: str) -> list[dict] | None:
    """The shards' JSON reports, or None (and why, on stderr) when one cannot be read: a shard
    that wrote nothing, or half a file, makes the fleet's result a failure."""
    reports, unreadable = [], []
    for f in paths:
        try:
            reports.append(json.loads(Path(f).read_text()))
        except (OSError, ValueError) as e:
            unreadable.append(f"{f}: {e}")
    if unreadable:
        print(f"{who}: unreadable shard report(s): " + "; ".join(unreadable), file=sys.stderr)
        return None
    return reports
