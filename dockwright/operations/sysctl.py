"""Kernel parameters: one owned sysctl.d file, applied live in one command, read in one fact.

The boot-effective value of a key is what systemd-sysctl leaves after reading every sysctl.d
file in order, so a key can be right now and wrong after a reboot; both are checked.
"""

import shlex

from pyinfra import host
from pyinfra.api import operation

from .. import facts, files, refusal, templating
from ..host_paths import SYSCTL_D
from ..plans.sysctl import normalize, plan


def render(settings: dict) -> str:
    """The owned sysctl.d file; "-key" keeps systemd-sysctl quiet when the key is missing."""
    ordered = [(k, normalize(settings[k])) for k in sorted(settings, key=lambda k: k.lstrip("-"))]
    return templating.render("sysctl/dockwright.conf.j2", settings=ordered)


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
        target = f"{SYSCTL_D}/" + path.rsplit("/", 1)[1]
        backup = ""
    dst, tmp = shlex.quote(target), shlex.quote(target + ".dockwright-tmp")
    return (f"{backup}sed -E {shlex.quote(sed)} {src} > {tmp} && chmod 0644 {tmp} && "
            f"mv -T {tmp} {dst}")


@operation()
def managed(settings: dict, path: str, on_override: str = "fail", late_ok: bool = True):
    """
    Own one sysctl.d file holding ``settings``, apply them live, and make sure no file read
    later at boot overrides them.

    + settings: ``{key: value}``; a key written ``-key`` may be missing from the kernel
    + path: the file dockwright owns, e.g. ``/etc/sysctl.d/90-dockwright.conf``
    + on_override: ``fail`` (stop with the file and key named) or ``takeover`` (comment the key
      out of the other file, keeping a ``.dockwright-bak`` copy)
    + late_ok: net.netfilter keys the kernel lacks now are expected (nf_conntrack is loaded
      earlier in the same deploy), as preflight judged them

    **Example:**

    .. code:: python

        sysctl.managed(
            name="Kernel tuning",
            settings={"net.core.somaxconn": 65535, "-net.ipv4.tcp_tw_reuse": 1},
            path="/etc/sysctl.d/90-dockwright.conf",
        )
    """
    state = facts.sysctls(settings).get(host)
    decided = plan(settings, path, on_override, state, late_ok)  # before the first command: a dry run stops there
    if not (yield from refusal.decided(host, "sysctl", decided)):
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
