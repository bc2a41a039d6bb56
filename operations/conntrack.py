"""Connection tracking: nf_conntrack loaded now and at boot, hash size, table limit, timeouts.

The limit and timeouts are sysctls under net.netfilter; they join the owned sysctl file (see
sysctl.py). They can only apply at boot once the module is loaded, so the module is listed in
modules-load.d: systemd-modules-load runs before systemd-sysctl.
"""


from pyinfra import host
from pyinfra.api import FactBase, operation

from dockwright import factcache, files
from operations.sysctl import SysctlState
from dockwright.plans.conntrack import LOAD_CONF, MODPROBE, MODULES_LOAD, plan, probe_conf
from dockwright.plumbing import report

HASHSIZE = "/sys/module/nf_conntrack/parameters/hashsize"


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
    decided = plan(buckets, factcache.get(host, ConntrackState))
    report.record(host, "conntrack", decided)
    if decided.write_load:
        files.show_diff(host, MODULES_LOAD, LOAD_CONF)
        yield files.write(MODULES_LOAD, LOAD_CONF)
    if decided.write_options:
        files.show_diff(host, MODPROBE, probe_conf(buckets))
        yield files.write(MODPROBE, probe_conf(buckets))
    if decided.load:
        yield "modprobe nf_conntrack"
    if decided.resize:
        yield f"echo {buckets} > {HASHSIZE}"
    if decided.load:  # the sysctl operation then reads the module's keys, present now
        yield factcache.forget_after(SysctlState)
