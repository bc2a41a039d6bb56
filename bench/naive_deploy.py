"""Baseline for the benchmark: the same desired state written naively with pyinfra's built-in
operations (server.sysctl per key, files.put, docker.network, ...). Not for production use:
no validation, no boot-order check, no health gate or rollback, no field-by-field networks."""

from io import StringIO

from pyinfra import host
from pyinfra.operations import docker as pdocker
from pyinfra.operations import files, server, systemd

from dockwright import model
from dockwright.host_paths import DAEMON_JSON
from dockwright.facts.kernel import ConntrackState
from dockwright.plans import apparmor, conntrack, docker, seccomp

d = model.desired(host)
resolved = model.resolve(d, host.get_fact(ConntrackState))
buckets = resolved.conntrack_buckets

for key, value in sorted(resolved.sysctls.items()):
    server.sysctl(name=f"sysctl {key}", key=key.lstrip("-"), value=value, persist=True,
                  persist_file=d["sysctl"]["file"])
# The same bytes as dockwright's files, so that each finds the other's work done (make bench
# pairs their no-ops on one lab).
files.put(name="conntrack at boot", src=StringIO(conntrack.LOAD_CONF), dest=conntrack.MODULES_LOAD)
files.put(name="conntrack hash size at boot", src=StringIO(conntrack.probe_conf(buckets)), dest=conntrack.MODPROBE)
server.modprobe(name="conntrack loaded", module="nf_conntrack")

files.directory(name="seccomp dir", path="/etc/docker/seccomp")
files.put(name="seccomp profile", src=StringIO(seccomp.render(d["seccomp"])),
          dest=seccomp.path_for(d["seccomp"]["name"]))
daemon = files.put(name="daemon.json", src=StringIO(docker.render(d)), dest=DAEMON_JSON)
systemd.service(name="restart docker", service="docker", restarted=True, _if=daemon.did_change)

profile = files.put(name="apparmor profile", src=StringIO(apparmor.render(d["apparmor"])),
                    dest=f"/etc/apparmor.d/{d['apparmor']['name']}")
server.shell(name="load apparmor profile", _if=profile.did_change,
             commands=[f"apparmor_parser -r -W /etc/apparmor.d/{d['apparmor']['name']}"])

for net, spec in sorted(d["networks"]["bridges"].items()):
    pdocker.network(name=f"network {net}", network=net, driver="bridge", subnet=spec["subnet"],
                    gateway=spec.get("gateway", ""),
                    opts=[f"com.docker.network.driver.mtu={spec['mtu']}"] if spec.get("mtu") else None)
