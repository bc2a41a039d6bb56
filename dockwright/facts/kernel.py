"""The kernel's side: conntrack's module state and the host's size, sysctl values live and as
systemd-sysctl would leave them at boot."""

import shlex

from pyinfra.api import FactBase

from .. import remote
from ..plans.conntrack import MODPROBE, MODULES_LOAD
from ..plans.sysctl import normalize


HASHSIZE = "/sys/module/nf_conntrack/parameters/hashsize"


class ConntrackState(FactBase):
    """
    Host size and conntrack's module state in one command.

    Returns ``{"cores", "mem_bytes", "loaded", "hashsize", "modules_load", "modprobe"}``.
    """

    def command(self):
        return (
            # KiB as the kernel gives them; files by the shell's own read (a process each would
            # cost more than the reading).
            "echo cores $(nproc); "
            "while read -r k v _; do [ \"$k\" = MemTotal: ] && echo mem_kib $v && break; done < /proc/meminfo; "
            "[ -d /sys/module/nf_conntrack ] && echo loaded; "
            f"{remote.show_file(HASHSIZE, 'hashsize ')}; "
            f"{remote.show_file(MODULES_LOAD, 'modules-load ')}; "
            f"{remote.show_file(MODPROBE, 'modprobe ')}; true"
        )

    def process(self, output):
        state = {"cores": 1, "mem_bytes": 0, "loaded": False, "hashsize": None,
                 "modules_load": None, "modprobe": None}
        for line in output:
            word, _, rest = line.partition(" ")
            if word == "cores":
                state["cores"] = int(rest)
            elif word == "mem_kib":
                state["mem_bytes"] = int(rest) * 1024
            elif word == "loaded":
                state["loaded"] = True
            elif word == "hashsize":
                state["hashsize"] = int(rest)
            elif word == "modules-load":
                state["modules_load"] = (state["modules_load"] or "") + rest + "\n"
            elif word == "modprobe":
                state["modprobe"] = (state["modprobe"] or "") + rest + "\n"
        return state


# systemd-sysctl's search path, highest precedence first: a file name found in an earlier
# directory masks the same name in a later one.
SYSCTL_DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d",
               "/lib/sysctl.d")


# The live value of each key named in ARGV, as "live KEY VALUE" (tabs as spaces, the lines of a
# multi-line value joined), or "missing KEY" when /proc/sys has no readable file for it.
LIVE_VALUES = (
    "BEGIN { for (i = 1; i < ARGC; i++) { k = ARGV[i]; p = k; gsub(/[.]/, \"/\", p); p = \"/proc/sys/\" p; "
    "r = (getline line < p); if (r < 0) { print \"missing \" k; continue } "
    "v = \"\"; n = 0; while (r > 0) { gsub(/\\t/, \" \", line); v = n++ ? v \" \" line : line; r = (getline line < p) } "
    "close(p); print \"live \" k \" \" v } }"
)


class SysctlState(FactBase):
    """
    Live values of the given keys, plus every sysctl.d line that sets one of them.

    Returns ``{"live": {key: value}, "missing": [key], "paths": [path], "files": [(path, key,
    value)], "links": {path: target}, "odd": [directory]}`` where paths and files are in the order systemd-sysctl
    applies them at boot; a masked name (a symlink to /dev/null) hides the files of that name
    in later directories and sets nothing. ``odd`` names the directories holding a file whose
    name this read cannot carry safely (a newline, a colon, a control character).
    """

    def command(self, keys):
        names = " ".join(shlex.quote(k) for k in sorted(keys))
        dirs = " ".join(SYSCTL_DIRS)
        return (
            # One awk for every key: a process per key costs a fork and an exec each, which on a
            # small or emulated host is most of the read.
            f"awk {shlex.quote(LIVE_VALUES)} {names}; "
            # Each file with its kind: a symlink to /dev/null is systemd's mask of that name,
            # another symlink is read through but must never be written through.
            # A name with a newline, a colon or a control character would forge lines of this
            # read: only its directory is printed, and the plan refuses the host.
            f"for d in {dirs}; do for f in \"$d\"/*.conf; do case \"$f\" in *[![:print:]]*|*:*) "
            "printf 'odd %s\\n' \"$d\"; continue;; esac; if [ -L \"$f\" ]; then "
            "t=$(readlink -f \"$f\"); if [ \"$t\" = /dev/null ]; then printf 'mask %s\\n' \"$f\"; "
            "else printf 'link %s %s\\n' \"$f\" \"$t\"; fi; "
            "elif [ -f \"$f\" ]; then printf 'file %s\\n' \"$f\"; fi; done; done; "
            "[ -f /etc/sysctl.conf ] && printf 'file /etc/sysctl.conf\\n'; "
            # One grep prints every assignment line with its file name.
            f"grep -sH -E '^[[:space:]]*-?[a-z]' {' '.join(d + '/*.conf' for d in SYSCTL_DIRS)} "
            "/etc/sysctl.conf 2>/dev/null; true"
        )

    def process(self, output):
        live, missing, present, lines, links, odd = {}, [], [], [], {}, set()
        for line in output:
            if line.startswith("odd "):
                odd.add(line[4:])
            if odd:  # nothing after an odd name can be trusted
                continue
            if line.startswith("live "):
                _, key, *value = line.split(" ")
                live[key] = normalize(" ".join(value))
            elif line.startswith("missing "):
                missing.append(line.split(" ", 1)[1])
            elif line.startswith(("file ", "mask ")):
                present.append(line[5:])
            elif line.startswith("link "):
                path, _, target = line[5:].partition(" ")
                present.append(path)
                links[path] = target
            elif ":" in line and "=" in line:
                path, _, assignment = line.partition(":")
                key, _, value = assignment.partition("=")
                lines.append((path, key.strip().lstrip("-").replace("/", "."), normalize(value)))
        return {"live": live, "missing": missing, "paths": boot_order(present),
                "files": boot_lines(present, lines), "links": links, "odd": sorted(odd & set(SYSCTL_DIRS))}


def boot_order(paths: list[str]) -> list[str]:
    """The files systemd-sysctl reads, in the order it applies them."""
    winners: dict[str, str] = {}
    for path in paths:
        if path == "/etc/sysctl.conf":
            continue
        name = path.rsplit("/", 1)[1]
        winners.setdefault(name, path)  # paths arrive in directory precedence order
    order = [winners[name] for name in sorted(winners)]
    if "/etc/sysctl.conf" in paths:
        order.append("/etc/sysctl.conf")  # Debian reads it last (99-sysctl.conf, sysctl --system)
    return order


def boot_lines(paths: list[str], lines: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The assignment lines of those files, in the order they are applied."""
    rank = {path: i for i, path in enumerate(boot_order(paths))}
    kept = [line for line in lines if line[0] in rank]
    return sorted(kept, key=lambda line: rank[line[0]])  # stable: keeps line order within a file
