"""The pyinfra deploy file diagnose.py runs (with --dry): it changes nothing and adds no
operation. Once per run every host's data is validated (preflight.check_data, the ``diagnose``
thresholds included); then each host is read once (``fact.NetworkHealth``), and the reading is
kept for diagnose.py in ``dockwright.outcomes``. A host whose read fails has failed alone, with its reason."""

import time

from pyinfra import host, logger
from pyinfra.api import StringCommand

from dockwright import factcache, model, preflight, run
from dockwright.diagnosis import active
from dockwright.diagnosis.fact import NetworkHealth
from dockwright import outcomes


preflight.check_data()  # once per run (this file runs once per host): the data alone
if model.enabled(model.desired(host), "diagnose"):
    try:
        value = factcache.get(host, NetworkHealth)
        received = time.time()
        if run.of(host).active_probes and (cmd := active.command(value, model.desired(host))):
            # Probe containers, created and removed by this one command (--active is opt-in).
            ok, out = host.run_shell_command(StringCommand(cmd))
            value = {**value, "active": out.stdout_lines if ok else ["@@dw-active - - run=failed"]}
        outcomes.reading(host, value, received)
    except factcache.ReadFailed as e:
        logger.error(f"{host.print_prefix}not diagnosed: {e.why}")
        outcomes.fail(host, f"cannot read {e.fact}: {e.why}")
