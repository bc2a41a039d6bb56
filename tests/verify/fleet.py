"""The fleet under verification: hosts from any pyinfra inventory, expectations from the same
merged data model the deploy uses, and a testinfra connection per host built from host data."""

import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import testinfra

from . import probe, snapshot

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Target:
    name: str
    desired: dict
    data: dict
    _conn: object = field(default=None, repr=False)
    _state: dict | None = field(default=None, repr=False)
    _default_view: dict | None = field(default=None, repr=False)
    _probe: str | Exception | None = field(default=None, repr=False)
    _workload: dict = field(default_factory=dict, repr=False)
    _server: str | None = field(default=None, repr=False)

    @property
    def host(self):
        """testinfra host over ssh, one multiplexed connection (ControlMaster) per host."""
        if self._conn is None:
            d = self.data
            spec = f"ssh://{d.get('ssh_user', 'root')}@{d.get('ssh_hostname', self.name)}"
            if d.get("ssh_port"):
                spec += f":{d['ssh_port']}"
            extra = ["-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]
            if str(d.get("ssh_strict_host_key_checking", "yes")).lower() == "no":
                extra += ["-o", "StrictHostKeyChecking=no"]
            if d.get("ssh_known_hosts_file"):
                extra += ["-o", f"UserKnownHostsFile={d['ssh_known_hosts_file']}"]
            # Same privilege as the deploy: `_sudo` in host data (pyinfra's own key).
            self._conn = testinfra.get_host(spec, ssh_identity_file=d.get("ssh_key"),
                                            ssh_extra_args=" ".join(extra), controlpersist=120,
                                            sudo=bool(d.get("_sudo")), sudo_user=d.get("_sudo_user"))
        return self._conn

    def run(self, command: str):
        if os.environ.get("DOCKWRIGHT_COUNT_FILE"):  # bench: one line per remote command
            with open(os.environ["DOCKWRIGHT_COUNT_FILE"], "a") as f:
                f.write(self.name + "\n")
        return self.host.run(command)

    def out(self, command: str) -> str:
        res = self.run(command)
        assert res.rc == 0, f"{command!r} exited {res.rc}: {res.stderr.strip()}"
        return res.stdout

    def state(self) -> dict[str, str]:
        """Every file and state check's reads, in one command, once per host and run."""
        if self._state is None:
            self._state = snapshot.parse(self.out(snapshot.state_command(self.desired)))
        return self._state

    def probe_image(self) -> str:
        """The probe image on this host: imported (one command) when the state read shows it
        missing. When it cannot be had, every behavioural check fails with the reason (once tried)."""
        if self._probe is None:
            try:
                ref, present = probe.present(self.state()["probe.images"])
                if not present:
                    res = self.run(probe.ensure_command(self.state()["probe.images"].split()[0]))
                    if res.rc != 0:
                        raise RuntimeError(f"importing {ref} exited {res.rc}: {res.stderr.strip()[-500:]}")
                self._probe = ref
            except RuntimeError as e:
                self._probe = e
        if isinstance(self._probe, Exception):
            import pytest
            pytest.fail(f"{self.name}: behavioural checks cannot run, no probe image: {self._probe} "
                        "(set verify.behaviour to false to opt this host out)", pytrace=False)
        return self._probe

    def default_view(self) -> dict[str, str]:
        """What a container started without security options sees and may do: the probe run by
        `docker exec` in the host's server (a process there gets the container's seccomp and
        AppArmor profiles, no_new_privs and limits, as the container's own process does), once.
        An exec costs less than a container start, the dearest step of the suite."""
        if self._default_view is None:
            steps = snapshot.default_container_steps(self.desired)
            out = self.out(f"docker exec {self.server()} /dwprobe " + " ".join(shlex.quote(s) for s in steps))
            self._default_view = snapshot.key_values(out)
        return self._default_view

    def server(self) -> str:
        """The host's probe server, started once with no security options: on the first declared
        bridge (where workloads find it by name) and published on the port policy's ports and a
        control port. Its name."""
        if self._server is None:
            name, bridges = f"dw-verify-server-{os.getpid()}", snapshot.bridges(self.desired)
            ports, control = snapshot.served_ports(self.desired)
            args = " ".join([f"-d --rm --name {name}", *(f"--network {shlex.quote(b)}" for b in bridges[:1]),
                             *(f"-p {int(p)}:8080" for p in [*ports, control])])
            # It ends by itself after 600 s should this run be killed; stop_server ends it sooner.
            self.out(f"docker rm -f {name} >/dev/null 2>&1; {self.probe_run(args, 'serve', '8080', '600')} >/dev/null")
            self._server = name
        return self._server

    def stop_server(self) -> None:
        if self._server:
            self.run(f"docker rm -f {self._server} >/dev/null 2>&1")
            self._server = None

    def workload_view(self, bridge: str | None) -> dict[str, str]:
        """A workload container given the data's value of each per-namespace key (--sysctl) and,
        on a bridge, the view of a peer serving there (the host's server on the first bridge, a
        peer of its own on any other): once per bridge."""
        if bridge not in self._workload:
            per_ns = snapshot.per_namespace_tuned(self.desired, self.state())
            args = " ".join(f"--sysctl {k}={shlex.quote(v.replace(' ', ','))}" for k, v in sorted(per_ns.items()))
            if bridge is None:
                got = self.container(args, snapshot.workload_steps(None, per_ns))[1]
            elif bridge == snapshot.bridges(self.desired)[0]:
                peer = self.server()
                got = self.container(f"--network {shlex.quote(bridge)} {args}", snapshot.workload_steps(peer, per_ns))[1]
            else:
                peer, net = f"dw-verify-peer-{os.getpid()}", f"--network {shlex.quote(bridge)}"
                res = self.run(
                    f"docker rm -f {peer} >/dev/null 2>&1; "
                    f"{self.probe_run(f'-d --rm --name {peer} {net}', 'serve', '8080', '300')} >/dev/null && "
                    f"{self.probe_run(f'--rm {net} {args}', *snapshot.workload_steps(peer, per_ns))}; "
                    f"rc=$?; docker rm -f {peer} >/dev/null 2>&1; exit $rc")
                assert res.rc == 0, f"workload on {bridge} exited {res.rc}: {res.stderr.strip()[-300:]}"
                got = snapshot.key_values(res.stdout)
            self._workload[bridge] = {k.replace(peer, "PEER") if bridge else k: v for k, v in got.items()}
        return self._workload[bridge]

    def require_behaviour(self) -> None:
        """Behavioural checks run unless the data opts this host out (then they show as skipped)."""
        if not self.desired["verify"].get("behaviour", True):
            import pytest
            pytest.skip("behavioural check: this host opts out (verify.behaviour is false)")

    def probe_run(self, args: str, *words: str) -> str:
        """The command that runs the probe with words in a container started with args."""
        self.require_behaviour()
        return (f"docker run --pull never {args} {shlex.quote(self.probe_image())} "
                + " ".join(shlex.quote(w) for w in words))

    def container(self, args: str, steps: list[str], check: bool = True) -> tuple[int, dict[str, str]]:
        """Runs the probe's steps in a throwaway container: (rc, {step: result})."""
        res = self.run(self.probe_run(f"--rm {args}", *steps))
        if check:
            assert res.rc == 0, f"probe {steps} exited {res.rc}: {res.stderr.strip()}"
        return res.rc, snapshot.key_values(res.stdout)


# A deploy hands its fleet over in this environment variable (JSON {host: {"desired", "data"}}):
# not a file, since the merged data may hold secrets.
FLEET_ENV = "DOCKWRIGHT_VERIFY_FLEET"


def from_json(text: str, only: list[str] | None = None) -> dict[str, Target]:
    hosts = json.loads(text)
    return {name: Target(name, h["desired"], h["data"]) for name, h in sorted(hosts.items())
            if not only or name in only}


def load(inventory_path: str, only: list[str] | None = None) -> dict[str, Target]:
    res = subprocess.run([sys.executable, "-m", "operations.fleet", inventory_path, str(REPO)],
                         cwd=REPO, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"cannot load inventory {inventory_path}: {res.stderr.strip()[-2000:]}")
    hosts = json.loads(res.stdout)
    return {name: Target(name, h["desired"], h["data"]) for name, h in sorted(hosts.items())
            if not only or name in only}
