"""Connection tracking: nf_conntrack loaded now and at boot, hash size, table limit, timeouts.

The limit and timeouts are sysctls under net.netfilter; they join the owned sysctl file (see
sysctl.py). They can only apply at boot once the module is loaded, so the module is listed in
modules-load.d: systemd-modules-load runs before systemd-sysctl.
"""


from pyinfra import host
from pyinfra.api import FactBase, operation

from dockwright import factcache, files
from dockwright.plumbing import report

MODULES_LOAD = "/etc/modules-load.d/dockwright-conntrack.conf"
MODPROBE = "/etc/modprobe.d/dockwright-conntrack.conf"
HASHSIZE = "/sys/module/nf_conntrack/parameters/hashsize"

PER_CORE = 32768  # kube-proxy's --conntrack-max-per-core default
MINIMUM = 131072  # kube-proxy's --conntrack-min default
ENTRY_BYTES = 320  # approximate kernel memory per tracked connection
RAM_SHARE = 16  # never size the table above 1/16 of RAM
BUCKET_RATIO = 4  # entries per hash bucket (kube-proxy: buckets = max / 4)


def sizing(conf: dict, cores: int, mem_bytes: int) -> tuple[int, int]:
    """(nf_conntrack_max, hash buckets) from data; "auto" derives them from the host."""
    limit = conf.get("max", "auto")
    if limit == "auto":
        limit = min(max(PER_CORE * cores, MINIMUM), mem_bytes // RAM_SHARE // ENTRY_BYTES)
    buckets = conf.get("buckets", "auto")
    if buckets == "auto":
        buckets = max(limit // BUCKET_RATIO, 1024)
    return limit, buckets


def sysctl_settings(conf: dict, limit: int) -> dict:
    """The net.netfilter keys conntrack adds to the owned sysctl file."""
    out = {"net.netfilter.nf_conntrack_max": limit}
    for name, seconds in conf.get("timeouts", {}).items():
        out[f"net.netfilter.nf_conntrack_{name}"] = seconds
    return out


class ConntrackState(FactBase):
    """
    Host size and conntrack's module state in one command.

    Returns ``{"cores", "mem_bytes", "loaded", "hashsize", "modules_load", "modprobe"}``.
    """

    def command(self):
        return (
            # KiB as the kernel gives them: awk would print a product above 2^31 as 2.4e+10.
            "echo cores $(nproc); awk '/^MemTotal:/ {print \"mem_kib\", $2}' /proc/meminfo; "
            "[ -d /sys/module/nf_conntrack ] && echo loaded; "
            f"[ -r {HASHSIZE} ] && echo hashsize $(cat {HASHSIZE}); "
            f"[ -f {MODULES_LOAD} ] && sed 's/^/modules-load /' {MODULES_LOAD}; "
            f"[ -f {MODPROBE} ] && sed 's/^/modprobe /' {MODPROBE}; true"
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


@operation()
def module(buckets: int):
    """
    Load nf_conntrack now and at every boot, with ``buckets`` hash buckets live and at boot.

    + buckets: the hash table size (``/sys/module/nf_conntrack/parameters/hashsize``)

    **Example:**

    .. code:: python

        conntrack.module(name="conntrack module", buckets=65536)
    """
    state = factcache.get(host, ConntrackState)
    load_conf = "# Managed by dockwright: conntrack limits in sysctl.d need the module first.\nnf_conntrack\n"
    probe_conf = f"# Managed by dockwright.\noptions nf_conntrack hashsize={buckets}\n"
    steps = []
    if state["modules_load"] != load_conf:
        report.drift(host, "conntrack", MODULES_LOAD, "nf_conntrack", state["modules_load"])
        files.show_diff(host, MODULES_LOAD, load_conf)
        steps.append(files.write(MODULES_LOAD, load_conf))
    if state["modprobe"] != probe_conf:
        report.drift(host, "conntrack", MODPROBE, f"hashsize={buckets}", state["modprobe"])
        files.show_diff(host, MODPROBE, probe_conf)
        steps.append(files.write(MODPROBE, probe_conf))
    if not state["loaded"]:
        report.drift(host, "conntrack", "module loaded", True, False)
        steps.append("modprobe nf_conntrack")
    if state["hashsize"] != buckets:
        report.drift(host, "conntrack", "hashsize (live)", buckets, state["hashsize"])
        steps.append(f"echo {buckets} > {HASHSIZE}")
    yield from steps  # decided (and drift recorded) before the first command
