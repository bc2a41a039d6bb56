"""Kernel parameters: one owned sysctl.d file, applied live in one command, read in one fact.

The boot-effective value of a key is what systemd-sysctl leaves after reading every sysctl.d
file in order, so a key can be right now and wrong after a reboot; both are checked.
"""

import shlex

from pyinfra import host
from pyinfra.api import FactBase, operation

from dockwright import factcache, files, refusal, templating
from dockwright.plans.sysctl import fact_keys, normalize, plan
from dockwright.plumbing import report

# systemd-sysctl's search path, highest precedence first: a file name found in an earlier
# directory masks the same name in a later one.
SYSCTL_DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d",
               "/lib/sysctl.d")

def render(settings: dict) -> str:
    """The owned sysctl.d file; "-key" keeps systemd-sysctl quiet when the key is missing."""
    ordered = [(k, normalize(settings[k])) for k in sorted(settings, key=lambda k: k.lstrip("-"))]
    return templating.render("sysctl/dockwright.conf.j2", settings=ordered)


class SysctlState(FactBase):
    """
    Live values of the given keys, plus every sysctl.d line that sets one of them.

    Returns ``{"live": {key: value}, "missing": [key], "paths": [path], "files": [(path, key,
    value)], "links": {path: target}}`` where paths and files are in the order systemd-sysctl
    applies them at boot; a masked name (a symlink to /dev/null) hides the files of that name
    in later directories and sets nothing.
    """

    def command(self, keys):
        names = " ".join(shlex.quote(k) for k in sorted(keys))
        dirs = " ".join(SYSCTL_DIRS)
        return (
            f"for k in {names}; do p=/proc/sys/$(echo \"$k\" | tr . /); "
            "if [ -r \"$p\" ]; then printf 'live %s %s\\n' \"$k\" \"$(tr '\\t' ' ' < \"$p\")\"; "
            "else printf 'missing %s\\n' \"$k\"; fi; done; "
            # Each file with its kind: a symlink to /dev/null is systemd's mask of that name,
            # another symlink is read through but must never be written through.
            f"for d in {dirs}; do for f in \"$d\"/*.conf; do if [ -L \"$f\" ]; then "
            "t=$(readlink -f \"$f\"); if [ \"$t\" = /dev/null ]; then printf 'mask %s\\n' \"$f\"; "
            "else printf 'link %s %s\\n' \"$f\" \"$t\"; fi; "
            "elif [ -f \"$f\" ]; then printf 'file %s\\n' \"$f\"; fi; done; done; "
            "[ -f /etc/sysctl.conf ] && printf 'file /etc/sysctl.conf\\n'; "
            # One grep prints every assignment line with its file name.
            f"grep -sH -E '^[[:space:]]*-?[a-z]' {' '.join(d + '/*.conf' for d in SYSCTL_DIRS)} "
            "/etc/sysctl.conf 2>/dev/null; true"
        )

    def process(self, output):
        live, missing, present, lines, links = {}, [], [], [], {}
        for line in output:
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
                "files": boot_lines(present, lines), "links": links}


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


def takeover_command(path: str, keys: list[str], own_file: str) -> str:
    """Comment our keys out of another file. Files outside /etc are masked by a same-named
    copy in /etc/sysctl.d (systemd's own override mechanism), so packages keep theirs.

    The edit goes to a temporary file renamed over the target, so a symlink is replaced, never
    written through (the caller refuses symlinks before this). A file edited in place is first
    copied to a backup with a timestamp: a second takeover never overwrites the first backup.
    """
    pattern = "|".join(k.replace(".", "[./]") for k in keys)
    sed = f"s%^([[:space:]]*-?({pattern})[[:space:]]*=)%# disabled by dockwright for {own_file}: \\1%"
    src = shlex.quote(path)
    if path.startswith("/etc/"):
        target = path
        backup = (f"cp -p {src} {shlex.quote(path + '.dockwright-bak.')}$(date +%Y%m%dT%H%M%S.%N) && "
                  f"[ ! -L {src} ] && ")
    else:
        target = "/etc/sysctl.d/" + path.rsplit("/", 1)[1]
        backup = ""
    dst, tmp = shlex.quote(target), shlex.quote(target + ".dockwright-tmp")
    return (f"{backup}sed -E {shlex.quote(sed)} {src} > {tmp} && chmod 0644 {tmp} && "
            f"mv -T {tmp} {dst}")


@operation()
def managed(settings: dict, path: str, on_override: str = "fail"):
    """
    Own one sysctl.d file holding ``settings``, apply them live, and make sure no file read
    later at boot overrides them.

    + settings: ``{key: value}``; a key written ``-key`` may be missing from the kernel
    + path: the file dockwright owns, e.g. ``/etc/sysctl.d/90-dockwright.conf``
    + on_override: ``fail`` (stop with the file and key named) or ``takeover`` (comment the key
      out of the other file, keeping a ``.dockwright-bak`` copy)

    **Example:**

    .. code:: python

        sysctl.managed(
            name="Kernel tuning",
            settings={"net.core.somaxconn": 65535, "-net.ipv4.tcp_tw_reuse": 1},
            path="/etc/sysctl.d/90-dockwright.conf",
        )
    """
    state = factcache.get(host, SysctlState, keys=fact_keys(settings))
    decided = plan(settings, path, on_override, state)  # before the first command: a dry run stops there
    report.record(host, "sysctl", decided)
    if decided.error():
        yield from refusal.refuse(host, decided.error())
        return
    if decided.write:
        content = render(settings)
        files.show_diff(host, path, content)
        yield files.write(path, content)
    for other, keys in sorted(decided.takeover.items()):  # files read after ours at boot
        yield takeover_command(other, keys, path)
    if decided.live:  # every live value in one command
        yield "sysctl -q -w " + " ".join(
            shlex.quote(f"{k.lstrip('-')}={normalize(v)}") for k, v in sorted(decided.live.items()))
