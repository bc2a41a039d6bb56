"""The conntrack plan: the table's sizing from the host, the module's files, its live state."""

from dataclasses import dataclass

from ..host_paths import MODPROBE, MODULES_LOAD
from . import Plan

LOAD_CONF = "# Managed by dockwright: conntrack limits in sysctl.d need the module first.\nnf_conntrack\n"

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


def probe_conf(buckets: int) -> str:
    return f"# Managed by dockwright.\noptions nf_conntrack hashsize={buckets}\n"


@dataclass
class ConntrackPlan(Plan):
    write_load: bool = False  # modules-load.d: the module at boot
    write_options: bool = False  # modprobe.d: the hash size at boot
    load: bool = False  # modprobe now
    resize: bool = False  # the live hash size


def plan(buckets: int, state: dict) -> ConntrackPlan:
    """``buckets`` hash buckets now and at boot, against the ConntrackState fact."""
    p = ConntrackPlan()
    p.write_load = state["modules_load"] != LOAD_CONF
    if p.write_load:
        p.differs(MODULES_LOAD, "nf_conntrack", state["modules_load"])
    p.write_options = state["modprobe"] != probe_conf(buckets)
    if p.write_options:
        p.differs(MODPROBE, f"hashsize={buckets}", state["modprobe"])
    p.load = not state["loaded"]
    if p.load:
        p.differs("module loaded", True, False)
    p.resize = state["hashsize"] != buckets
    if p.resize:
        p.differs("hashsize (live)", buckets, state["hashsize"])
    return p
