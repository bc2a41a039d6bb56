"""A second naive baseline, held out: written once from pyinfra's documented operations and never
tuned against dockwright (make bench reports the no-op against it beside bench/naive_deploy.py).

Where naive_deploy.py sets each sysctl key with server.sysctl, this one is what a user following
pyinfra's docs writes: the package and the service ensured, whole files put, each change applied
by a shell command behind ``_if``, the conntrack module loaded, the networks created with
docker.network. It writes dockwright's bytes (the same renderers), so that on a lab dockwright
has converged it is a no-op too. Not for production use: no validation, no boot-order check, no
health gate or rollback.
"""

from io import StringIO

from pyinfra import host
from pyinfra.operations import apt, docker as pdocker, files, server, systemd

from dockwright import model
from dockwright.host_paths import DAEMON_JSON
from dockwright.facts.kernel import ConntrackState
from dockwright.operations import sysctl as sysctl_ops
from dockwright.plans import apparmor, conntrack, docker, seccomp

d = model.desired(host)
resolved = model.resolve(d, host.get_fact(ConntrackState))

apt.packages(name="engine installed", packages=["docker.io"], present=True)
systemd.service(name="engine running and enabled", service="docker.service", running=True, enabled=True)

kernel = files.put(name="sysctl file", src=StringIO(sysctl_ops.render(resolved.sysctls)), dest=d["sysctl"]["file"])
server.shell(name="sysctl applied", commands=[f"sysctl -p {d['sysctl']['file']}"], _if=kernel.did_change)
files.put(name="conntrack module at boot", src=StringIO(conntrack.LOAD_CONF), dest=conntrack.MODULES_LOAD)
files.put(name="conntrack hash size", src=StringIO(conntrack.probe_conf(resolved.conntrack_buckets)),
          dest=conntrack.MODPROBE)
server.modprobe(name="conntrack module", module="nf_conntrack")

files.put(name="seccomp profile", src=StringIO(seccomp.render(d["seccomp"])), dest=seccomp.path_for(d["seccomp"]["name"]))
engine = files.put(name="daemon.json", src=StringIO(docker.render(d)), dest=DAEMON_JSON)
systemd.service(name="engine restarted", service="docker.service", restarted=True, _if=engine.did_change)

path = f"/etc/apparmor.d/{d['apparmor']['name']}"
profile = files.put(name="apparmor profile", src=StringIO(apparmor.render(d["apparmor"])), dest=path)
server.shell(name="apparmor profile loaded", commands=[f"apparmor_parser -r -W {path}"], _if=profile.did_change)

for net, spec in sorted(d["networks"]["bridges"].items()):
    pdocker.network(name=f"network {net}", network=net, driver="bridge", subnet=spec["subnet"],
                    gateway=spec.get("gateway", ""),
                    opts=[f"com.docker.network.driver.mtu={spec['mtu']}"] if spec.get("mtu") else None)
