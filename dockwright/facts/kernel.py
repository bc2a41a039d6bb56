"""The kernel's side: conntrack's module state and the host's size, sysctl values live and as
systemd-sysctl would leave them at boot."""

import shlex

from pyinfra.api import FactBase

from .. import host_paths, host_reader, remote
from ..host_paths import MODPROBE, MODULES_LOAD, SYSCTL_CONF
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
            # The online CPUs ("0-3,8-11") counted by the shell; nproc only where /sys has no list.
            "n=0; if read -r o < /sys/devices/system/cpu/online; then IFS=,; for r in $o; do case $r in "
            "*-*) n=$((n + ${r#*-} - ${r%-*} + 1));; *) n=$((n + 1));; esac; done; unset IFS; fi; "
            "[ \"$n\" -gt 0 ] 2>/dev/null || n=$(nproc); echo cores $n; "
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
SYSCTL_DIRS = (host_paths.SYSCTL_D, "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d",
               "/lib/sysctl.d")


# One awk for the whole read (a process per key or per file costs a fork and an exec each, which
# on a small or emulated host is most of the read): first the live value of each of the first nk
# arguments, a key, as "live KEY VALUE" (tabs as spaces, the lines of a multi-line value joined),
# or "missing KEY" when /proc/sys has no readable file for it; then every assignment line of the
# files named after them, as "PATH:LINE" (what `grep -H` prints).
READ_SYSCTLS = (
    "BEGIN { for (i = 1; i <= nk; i++) { k = ARGV[i]; ARGV[i] = \"\"; p = k; gsub(/[.]/, \"/\", p); "
    "p = \"/proc/sys/\" p; r = (getline line < p); if (r < 0) { print \"missing \" k; continue } "
    "v = \"\"; n = 0; while (r > 0) { gsub(/\\t/, \" \", line); v = n++ ? v \" \" line : line; r = (getline line < p) } "
    "close(p); print \"live \" k \" \" v } } "
    "/^[[:space:]]*-?[a-z]/ { print FILENAME \":\" $0 }"
)


class SysctlState(host_reader.PythonPart, FactBase):
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
            # Each file with its kind: a symlink to /dev/null is systemd's mask of that name,
            # another symlink is read through but must never be written through.
            # A name with a newline, a colon or a control character would forge lines of this
            # read: only its directory is printed, and the plan refuses the host. The readable
            # files are kept, in precedence order, for awk to read ("$@").
            f"set --; for d in {dirs}; do for f in \"$d\"/*.conf; do case \"$f\" in *[![:print:]]*|*:*) "
            "printf 'odd %s\\n' \"$d\"; continue;; esac; if [ -L \"$f\" ]; then "
            "t=$(readlink -f \"$f\"); if [ \"$t\" = /dev/null ]; then printf 'mask %s\\n' \"$f\"; "
            "else printf 'link %s %s\\n' \"$f\" \"$t\"; fi; "
            "elif [ -f \"$f\" ]; then printf 'file %s\\n' \"$f\"; fi; "
            "[ -f \"$f\" ] && [ -r \"$f\" ] && set -- \"$@\" \"$f\"; done; done; "
            f"[ -f {SYSCTL_CONF} ] && printf 'file {SYSCTL_CONF}\\n' && set -- \"$@\" {SYSCTL_CONF}; "
            # /dev/null last: with no file left, awk would read its standard input.
            f"awk -v nk={len(keys)} {shlex.quote(READ_SYSCTLS)} {names} \"$@\" /dev/null"
        )

    # In the host-state read, the host's reader reads the same (dockwright.host_reader), in the
    # same order, without awk or readlink; its answer is this command's lines.
    def ops(self, keys):
        return [f"sysctl:{','.join(sorted(keys))};{','.join(SYSCTL_DIRS)};{SYSCTL_CONF}"]


    def process(self, output):
        live, missing, present, lines, links, odd = {}, [], [], [], {}, set()
        for line in output:
            if line.startswith("odd "):
                odd.add(line[4:])
            if odd and not line.startswith(("live ", "missing ")):
                continue  # no file after an odd name is trusted (awk's live values are read apart)
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
        if path == SYSCTL_CONF:
            continue
        name = path.rsplit("/", 1)[1]
        winners.setdefault(name, path)  # paths arrive in directory precedence order
    order = [winners[name] for name in sorted(winners)]
    if SYSCTL_CONF in paths:
        order.append(SYSCTL_CONF)  # Debian reads it last (99-sysctl.conf, sysctl --system)
    return order


def boot_lines(paths: list[str], lines: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The assignment lines of those files, in the order they are applied."""
    rank = {path: i for i, path in enumerate(boot_order(paths))}
    kept = [line for line in lines if line[0] in rank]
    return sorted(kept, key=lambda line: rank[line[0]])  # stable: keeps line order within a file


# Kernel modules encrypted overlays need (VXLAN + IPsec ESP in transport mode).
OVERLAY_MODULES = ("vxlan", "esp4", "xfrm_user", "xfrm_algo")


# Which of the modules named in want are in neither list: a line of modules.builtin or
# modules.dep starts with the module's path (kernel/net/ipv4/esp4.ko, .ko.xz, .ko.zst, ...).
MODULE_LISTS = (
    "BEGIN { n = split(want, w, \" \"); for (i = 1; i <= n; i++) missing[w[i]] = 1 } "
    "{ p = $1; sub(/:$/, \"\", p); sub(/.*\\//, \"\", p); sub(/[.]ko([.].*)?$/, \"\", p); gsub(/-/, \"_\", p); "
    "if (p in missing) delete missing[p] } "
    "END { for (i = 1; i <= n; i++) if (w[i] in missing) print \"missing-module \" w[i] }"
)


class OverlayModules(host_reader.PythonPart, FactBase):
    """
    The kernel modules encrypted overlays need (VXLAN, IPsec ESP) that this kernel has neither
    loaded, built in, nor installed.

    Returns ``[module]``, in OVERLAY_MODULES' order.
    """

    def command(self):
        mods = " ".join(OVERLAY_MODULES)
        return (
            # A module already loaded is seen without starting a process; the others are looked
            # up, all at once, in the kernel's lists of built-in and loadable modules (what
            # `modprobe -n`, a process per module, would look up), or by modprobe where the
            # lists cannot be read.
            f"miss=; for m in {mods}; do [ -d /sys/module/$m ] || miss=\"$miss $m\"; done; "
            "if [ -n \"$miss\" ]; then read -r r < /proc/sys/kernel/osrelease; d=/lib/modules/$r; "
            "if [ -r $d/modules.dep ] && [ -r $d/modules.builtin ]; then "
            f"awk -v want=\"$miss\" {shlex.quote(MODULE_LISTS)} $d/modules.builtin $d/modules.dep; "
            "else for m in $miss; do modprobe -n -q $m 2>/dev/null || echo missing-module $m; done; fi; fi"
        )

    # In the host-state read, the host's reader looks them up (dockwright.host_reader); where it
    # cannot read the lists, this command does, on its own. Its answer is this command's lines.
    def ops(self):
        return ["modules:" + ",".join(OVERLAY_MODULES)]


    def process(self, output):
        return [line.split()[1] for line in output if line.startswith("missing-module ")]

    @staticmethod
    def default():
        return []
