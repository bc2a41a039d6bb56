"""Connection tracking: nf_conntrack loaded now and at boot, hash size, table limit, timeouts.

The limit and timeouts are sysctls under net.netfilter; they join the owned sysctl file (see
sysctl.py). They can only apply at boot once the module is loaded, so the module is listed in
modules-load.d: systemd-modules-load runs before systemd-sysctl.
"""


from pyinfra import host
from pyinfra.api import operation

from .. import facts, factcache, files
from ..facts.kernel import HASHSIZE, SysctlState
from ..plans.conntrack import LOAD_CONF, MODPROBE, MODULES_LOAD, plan, probe_conf
from .. import outcomes


@operation()
def module(buckets: int):
    """
    Load nf_conntrack now and at every boot, with ``buckets`` hash buckets live and at boot.

    + buckets: the hash table size (``/sys/module/nf_conntrack/parameters/hashsize``)

    **Example:**

    .. code:: python

        conntrack.module(name="conntrack module", buckets=65536)
    """
    decided = plan(buckets, facts.conntrack().get(host))
    outcomes.record(host, "conntrack", decided)
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
