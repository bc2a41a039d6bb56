"""The fleet under verification: hosts from any pyinfra inventory, expectations from the same
merged data model the deploy uses, and a testinfra connection per host built from host data."""

import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import testinfra

from dockwright import model, probe

from . import snapshot

REPO = Path(__file__).resolve().parents[2]
CONNECT_TIMEOUT = 60  # seconds for the TCP connection and the server's banner
# A host that stops answering mid-check (a dead kernel behind a live TCP path) ends the check
# within about a minute: OpenSSH's keepalives want a reply, as dockwright.liveness's do.
ALIVE_INTERVAL, ALIVE_COUNT = 15, 4
# What ssh prints when the host, not the command, failed.
SSH_LOST = re.compile(r"^(ssh: connect to host .*|Timeout, server .* not responding\.?|Connection to .* closed by "
                      r"remote host\.?|kex_exchange_identification: .*|Connection timed out during banner "
                      r"exchange|client_loop: send disconnect: .*)$", re.M)


@functools.cache
def _control_dir() -> str:
    """This process's directory of SSH control sockets (short: a socket path has ~100 bytes)."""
    return tempfile.mkdtemp(prefix="dwv-")


def remove_control_dir() -> None:
    if _control_dir.cache_info().currsize:
        shutil.rmtree(_control_dir(), ignore_errors=True)
        _control_dir.cache_clear()


@dataclass
class Target:
    name: str
    desired: dict
    data: dict
    _conn: object = field(default=None, repr=False)
    _state: dict | None = field(default=None, repr=False)
    _views: dict | None = field(default=None, repr=False)
    _control: dict | None = field(default=None, repr=False)
    _probe: str | Exception | None = field(default=None, repr=False)
    _bridges: dict = field(default_factory=dict, repr=False)
    _server: list[str] | None = field(default=None, repr=False)
    _lost: str | None = field(default=None, repr=False)
    hook: object = field(default=None, repr=False)  # the session's hooks (dockwright.verify.hooks)

    @property
    def host(self):
        """testinfra host over ssh: one multiplexed connection (ControlMaster) per host and
        process, so a check costs a round trip, not an SSH handshake (seconds on a busy host,
        and each handshake is one more chance of a connection timeout)."""
        if self._conn is None:
            spec, options = connection(self.name, self.data)
            self._conn = testinfra.get_host(spec, **options)
        return self._conn

    def run(self, command: str):
        if self._lost:
            import pytest
            pytest.fail(f"{self.name}: unreachable, not checked: {self._lost}", pytrace=False)
        if os.environ.get("DOCKWRIGHT_COUNT_FILE"):  # bench: one line per remote command
            with open(os.environ["DOCKWRIGHT_COUNT_FILE"], "a") as f:
                f.write(self.name + "\n")
        # A plugin may answer for the host (bench's simulated hosts): then no connection at all.
        res = self.hook.pytest_dockwright_verify_run(target=self, command=command) if self.hook else None
        if res is None:
            try:
                res = self.host.run(command)
            except RuntimeError as e:  # testinfra's ssh backend raises on 255 with the result in hand
                res = e.args[0] if e.args and hasattr(e.args[0], "rc") else None
                if res is None:
                    raise
        if self.hook:
            self.hook.pytest_dockwright_verify_ran(target=self, command=command, result=res)
        if res.rc == 255 and SSH_LOST.search((res.stderr or "").replace("\r", "")):
            # ssh itself failed: every later check of this host would wait for its own
            # timeout again, so they fail at once, naming the first failure.
            self._lost = (res.stderr or "").replace("\r", "").strip().splitlines()[-1][:300]
        return res

    @property
    def lost(self) -> str | None:
        """Why this host cannot be reached (ssh itself failed), or None."""
        return self._lost

    def attempt(self, command: str):
        """run(), for a check that uses this host on behalf of another: None when this host
        cannot be reached, never a failure of that other host's check (this host's own checks
        carry the failure, naming it)."""
        if self._lost:
            return None
        res = self.run(command)
        return None if self._lost else res

    def out(self, command: str) -> str:
        res = self.run(command)
        assert res.rc == 0, f"{command!r} exited {res.rc}: {res.stderr.strip()}"
        return res.stdout

    def needs(self, concern: str) -> dict:
        """This host's data for concern; the check is skipped when the data switches it off."""
        if not model.enabled(self.desired, concern):
            import pytest
            pytest.skip(f"{concern} concern off for this host")
        return self.desired[concern]

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
                    res = self.run(probe.import_command(self.state()["probe.images"]))
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

    def views(self) -> dict[str, dict[str, str]]:
        """Two long-running probe containers per host and what each sees, in one command, once:

        - the server, started with the daemon's defaults on the first declared bridge and
          published on the port policy's ports and a control port. The probe `docker exec`ed in
          it (an exec gets the container's seccomp and AppArmor profiles, no_new_privs and
          limits) gives the "default" view, and, as a client under the default profiles, the
          workload's name, a page from it and an ICMP echo;
        - the workload, on the same bridge, given the data's value of each per-namespace key
          (--sysctl) and, when the AppArmor concern is on, our profile with seccomp off (so a
          denial there is AppArmor's doing). The probe exec'd in it gives the "workload" view.

        Container starts are the dearest step of the suite; an exec costs less."""
        if self._views is None:
            pid, bridges = os.getpid(), snapshot.bridges(self.desired)
            server, workload = f"dw-verify-server-{pid}", f"dw-verify-workload-{pid}"
            net = f"--network {shlex.quote(bridges[0])}" if bridges else ""
            ports, control = snapshot.served_ports(self.desired)
            publish = " ".join(f"-p {int(p)}:8080" for p in [*ports, control])
            per_ns = snapshot.per_namespace_tuned(self.desired, self.state())
            tuned = " ".join(f"--sysctl {k}={shlex.quote(v.replace(' ', ','))}" for k, v in sorted(per_ns.items()))
            confine = ""
            if model.enabled(self.desired, "apparmor"):
                confine = f"--security-opt apparmor={shlex.quote(self.desired['apparmor']['name'])} --security-opt seccomp=unconfined"
            default_steps = snapshot.default_container_steps(self.desired)
            if bridges:
                default_steps += snapshot.bridge_steps(workload)
            workload_steps = snapshot.workload_steps(self.desired, per_ns, workload if bridges else None)
            self._server = [server, workload]
            # Both end by themselves after 600 s should this run be killed; stop_server ends them sooner.
            res = self.run(
                f"{self.probe_run(f'-d --rm --name {server} {net} {publish}', 'serve', '8080', '600')} >/dev/null && "
                f"{self.probe_run(f'-d --rm --name {workload} {net} {tuned} {confine}', 'serve', '8080', '600')} >/dev/null && "
                f"echo {snapshot.MARK}default && docker exec {server} /dwprobe {' '.join(map(shlex.quote, default_steps))} && "
                f"echo {snapshot.MARK}workload && docker exec {workload} /dwprobe {' '.join(map(shlex.quote, workload_steps))}")
            assert res.rc == 0, f"the probe's containers exited {res.rc}: {res.stderr.strip()[-500:]}"
            sections = snapshot.parse(res.stdout)
            self._views = {
                "default": {k.replace(workload, "PEER"): v for k, v in snapshot.key_values(sections["default"]).items()},
                "workload": {k.replace(workload, "SELF"): v for k, v in snapshot.key_values(sections["workload"]).items()},
            }
        return self._views

    def default_view(self) -> dict[str, str]:
        """What a container started without security options sees and may do (and, on the first
        bridge, reaches: resolve:PEER, fetch:PEER:8080, ping:PEER)."""
        return self.views()["default"]

    def workload_view(self) -> dict[str, str]:
        """What the workload container (--sysctl, our AppArmor profile) sees and may do."""
        return self.views()["workload"]

    def server(self) -> str:
        """The host's probe server (started with the views)."""
        self.views()
        return self._server[0]

    def stop_server(self) -> None:
        if self._server:
            self.run("docker rm -f " + " ".join(self._server) + " >/dev/null 2>&1")
            self._server = None

    def close(self) -> None:
        """Ends this host's shared SSH connection (it would linger for ControlPersist)."""
        if self._conn is not None and connection(self.name, self.data)[0].startswith("ssh://"):
            config = ["-F", self.data["ssh_config_file"]] if self.data.get("ssh_config_file") else []
            subprocess.run(["ssh", *config, "-o", f"ControlPath={_control_dir()}/%C",
                            *(["-p", str(self.data["ssh_port"])] if self.data.get("ssh_port") else []),
                            "-O", "exit", _destination(self.name, self.data)], capture_output=True, timeout=30)
        self._conn = None

    def control_view(self) -> dict[str, str]:
        """The probe where neither of our profiles is in force: Docker's built-in seccomp profile
        (engines before 25 have no "builtin" keyword: there, none) and AppArmor unconfined. One
        container, once, is the control of the seccomp and AppArmor checks: what they expect
        denied, it opens."""
        if self._control is None:
            aa = " --security-opt apparmor=unconfined" if model.enabled(self.desired, "apparmor") else ""
            steps = ["read:/proc/self/attr/current", *(f"socket:{k}" for k in ("packet", "raw", "raw6"))]
            out = self.run(" || ".join(self.probe_run(f"--rm --security-opt seccomp={p}{aa}", *steps)
                                       for p in ("builtin", "unconfined"))).stdout
            self._control = snapshot.key_values(out)
        return self._control

    def bridge_view(self, bridge: str) -> dict[str, str]:
        """A client's view of a peer on bridge: from the server on the first bridge; on any other,
        from a peer and a client of their own, in one command."""
        if bridge == snapshot.bridges(self.desired)[0]:
            return self.default_view()
        if bridge not in self._bridges:
            peer, net = f"dw-verify-peer-{os.getpid()}", f"--network {shlex.quote(bridge)}"
            res = self.run(
                f"{self.probe_run(f'-d --rm --name {peer} {net}', 'serve', '8080', '300')} >/dev/null && "
                f"{self.probe_run(f'--rm {net}', *snapshot.bridge_steps(peer))}; "
                f"rc=$?; docker rm -f {peer} >/dev/null 2>&1; exit $rc")
            assert res.rc == 0, f"peer and client on {bridge} exited {res.rc}: {res.stderr.strip()[-300:]}"
            self._bridges[bridge] = {k.replace(peer, "PEER"): v for k, v in snapshot.key_values(res.stdout).items()}
        return self._bridges[bridge]

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


def _destination(name: str, data: dict) -> str:
    """[user@]host as pyinfra reaches it: without ssh_user, ssh's own config or the local user
    decides (pyinfra does the same), never root by default."""
    user = data.get("ssh_user")
    return f"{user}@{data.get('ssh_hostname') or name}" if user else str(data.get("ssh_hostname") or name)


def connection(name: str, data: dict) -> tuple[str, dict]:
    """testinfra's host spec and options for a host, from the host data pyinfra connects with:
    user, port, key, ssh_config file, host-key policy (no, accept-new, yes), known_hosts, sudo;
    @local and @docker/NAME hosts get testinfra's local and docker backends."""
    sudo = {"sudo": bool(data.get("_sudo")), "sudo_user": data.get("_sudo_user")}
    if name == "@local":
        return "local://", sudo
    if name.startswith("@docker/"):
        return f"docker://{name.split('/', 1)[1]}", sudo
    spec = f"ssh://{_destination(name, data)}" + (f":{data['ssh_port']}" if data.get("ssh_port") else "")
    # Bounded generously: a loaded host can take well over ssh's usual 10 s to answer.
    extra = ["-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", f"ConnectTimeout={CONNECT_TIMEOUT}",
             "-o", "ControlMaster=auto", "-o", f"ControlPath={_control_dir()}/%C",
             "-o", "ControlPersist=120", "-o", f"ServerAliveInterval={ALIVE_INTERVAL}",
             "-o", f"ServerAliveCountMax={ALIVE_COUNT}"]
    policy = str(data.get("ssh_strict_host_key_checking") or "").lower()
    if policy in ("no", "off", "accept-new", "yes"):
        extra += ["-o", f"StrictHostKeyChecking={'no' if policy == 'off' else policy}"]
    if data.get("ssh_known_hosts_file"):
        extra += ["-o", f"UserKnownHostsFile={data['ssh_known_hosts_file']}"]
    # testinfra runs ssh through a shell and pastes these as they are: each one quoted.
    options = {"ssh_identity_file": data.get("ssh_key"), "ssh_extra_args": " ".join(map(shlex.quote, extra)), **sudo}
    if data.get("ssh_config_file"):
        options["ssh_config"] = data["ssh_config_file"]
    return spec, options


def from_file(path: str, only: list[str] | None = None) -> dict[str, Target]:
    """The fleet a deploy hands over in a private file (never in the environment: it grows
    with the fleet, and Linux refuses a variable over 128 KiB)."""
    with open(path) as f:
        hosts = json.load(f)
    return {name: Target(name, h["desired"], h["data"]) for name, h in sorted(hosts.items())
            if not only or name in only}


def load(inventory_path: str, only: list[str] | None = None) -> dict[str, Target]:
    # Loaded where the suite runs (the project: its inventories and group_data/).
    res = subprocess.run([sys.executable, "-m", "dockwright.fleet_data", inventory_path, os.getcwd()],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"cannot load inventory {inventory_path}: {res.stderr.strip()[-2000:]}")
    hosts = json.loads(res.stdout)
    return {name: Target(name, h["desired"], h["data"]) for name, h in sorted(hosts.items())
            if not only or name in only}
