"""What a host says is input, proven over whole runs: hostile names are planted in the replay
recordings (bench/replay.py) wherever a host reports a name, and the same runs are made on a
fleet that reports benign names in the same places.

Planted, per name: a network (in the state read's network list, unused, and in the diagnosis
read, with a running container attached), a sysctl file that overrides a managed key at boot
(in the state read and in the verification's read), and, where the kernel allows the name for
an interface (15 bytes, no space, '/' or ':'), a bridge interface with a route (in the state
read and the diagnosis read). Then `drift.py --fix` (which plans, takes over each file, prunes
each network, and verifies) and `diagnose.py --active` (a probe in each network) run on both
fleets, with every command and file the runs send beyond their recorded reads collected.

What must hold: each command sent to a hostile host splits (shlex) into the words of the benign
host's command, with each benign name replaced by its hostile name, whole, inside one word; and
each host's verdict (drift items, findings) is the benign one. A name that forged a frame would
change the verdict; a name that reached a shell as text would change the words.
"""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from dockwright import factcache
from dockwright.diagnosis import fact

REPO = Path(__file__).resolve().parents[2]
RECORDING = REPO / "bench" / "recording"
pytestmark = pytest.mark.skipif(not (RECORDING / "manager.json").exists(), reason="no recording (make bench-record)")

HOSTILE = [
    "x';touch dw-pwned;'", 'x";touch dw-pwned;"', "$(touch dw-pwned)", "`touch dw-pwned`", "x\ntouch dw-pwned",
    f"x\n{fact.MARK} sysctl\nnet/netfilter/nf_conntrack_count 0", f"x\n{factcache.MARK} 9 0 1", "@@exec_start",
    "a b;c|d&e>f", "-rf --privileged", "x" * 300, "caf\ufffd\u00e9",
    # short enough for an interface too
    "x';id;'", "$(id)", "`id`", "@@dw-diag", "--help", "a|b&c>d",
]


def _iface(name: str) -> bool:
    """Whether the kernel would take name for an interface (dev_valid_name: 15 bytes at most,
    no whitespace, '/' or ':')."""
    return len(name.encode()) <= 15 and not any(c.isspace() or c in "/:" for c in name)


def _file(name: str) -> bool:
    """Whether name can be in a sysctl file's name that the read carries (a name that would
    forge it refuses the host instead: tests/unit/test_host_input.py)."""
    return "\n" not in name and ":" not in name and name.isprintable() and len(name) < 240


INVENTORY = '''
import json, os
from pathlib import Path
_dir = Path(os.environ["DOCKWRIGHT_REPLAY_DIR"])
_first = json.loads((_dir / (os.environ["DOCKWRIGHT_REPLAY_AS"] + "manager.json")).read_text())["data_ip"]
_extra = {"sysctl": {"on_override": "takeover"}, "networks": {"prune": True}}
def _host(name, role, addr):
    return name, {"replay_role": role, "data_ip": addr, "swarm": {"advertise_addr": addr}, **_extra}
swarm_managers = [_host("@dwreplay/sim-m0000", "manager", _first)]
swarm_workers = [_host("@dwreplay/sim-w0001", "worker", "10.200.0.2")]
standalone = [_host("@dwreplay/sim-s0002", "standalone", "10.200.0.3")]
'''


def benign(i: int) -> str:
    """The benign name at HOSTILE's index i: it sorts among the others as the hostile name
    does (runs take files and networks in name order; no name is a prefix of another)."""
    rank = sorted(range(len(HOSTILE)), key=lambda k: HOSTILE[k]).index(i)
    return f"dwbenign{rank:02d}q"


# The keys dockwright manages in the lab's data: each planted file overrides one of them at boot
# (a later file wins a key), so that a takeover must name each file.
KEYS = ("net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog", "net.core.netdev_max_backlog",
        "net.netfilter.nf_conntrack_max", "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
        "net.netfilter.nf_conntrack_tcp_timeout_established", "net.netfilter.nf_conntrack_tcp_timeout_time_wait",
        "net.netfilter.nf_conntrack_udp_timeout", "net.netfilter.nf_conntrack_udp_timeout_stream")


def _files(names: list[str]) -> list[tuple[str, str]]:
    """(file name, the key it sets) for each name that HOSTILE's name at its index allows."""
    chosen = [name for name, hostile in zip(names, HOSTILE) if _file(hostile)]
    return [(f"95-{name}.conf", KEYS[k % len(KEYS)]) for k, name in enumerate(chosen)]


def _ifaces(names: list[str]) -> list[tuple[int, str]]:
    return [(i, name) for i, (name, hostile) in enumerate(zip(names, HOSTILE)) if _iface(hostile)]


def _network(i: int, name: str, container: str) -> dict:
    return {"Name": name, "Id": f"{0xd0 + i:02x}" * 32, "Created": "2026-12-06T04:53:44Z", "Scope": "local",
            "Driver": "bridge", "EnableIPv6": False, "IPAM": {"Driver": "default", "Options": {},
                                                               "Config": [{"Subnet": f"10.{230 + i}.0.0/24"}]},
            "Internal": False, "Attachable": False, "Ingress": False, "ConfigFrom": {"Network": ""},
            "ConfigOnly": False, "Options": {}, "Labels": {},
            "Containers": {container: {"Name": f"web{i}", "EndpointID": "e" * 64, "MacAddress": "02:42:0a:00:00:02",
                                       "IPv4Address": f"10.{230 + i}.0.2/24", "IPv6Address": ""}}}


def _plant_state_read(lines: list[str], names: list[str]) -> list[str]:
    """The whole read (factcache.HostState): its parts, doctored, framed again."""
    parts = factcache.HostState().process(lines)
    out = []
    for rc, part in parts:
        part = list(part)
        if any(line.startswith("file /etc/sysctl.d/") for line in part):
            # The sysctl read's lines (its own part, or the host reader's op): the files it found
            # before the live values, their lines after them.
            for name, key in _files(names):
                part.insert(next(i for i, x in enumerate(part) if x.startswith(("live ", "missing "))),
                            f"file /etc/sysctl.d/{name}")
                last = max(i for i, x in enumerate(part) if x.startswith(("live ", "missing ", "/etc/sysctl.d/")))
                part.insert(last + 1, f"/etc/sysctl.d/{name}:{key} = 1024")
        for k, line in enumerate(part):
            if line.startswith('[{"Name"'):  # unused networks: a prune removes each
                nets = json.loads(line)
                part[k] = json.dumps(nets + [{**_network(i, n, ""), "Containers": {}} for i, n in enumerate(names)])
        if part and part[0].startswith("Iface\tDestination"):  # /proc/net/route
            part += [f"{n}\t0000{200 + i:02X}0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0"
                     for i, n in _ifaces(names)]
        out.append((rc, part))
    return factcache.HostState.frame(out)


def _plant_diagnosis(lines: list[str], names: list[str]) -> list[str]:
    out, section = [], None
    for line in lines + [None]:
        nxt = line.split()[1] if line and line.startswith(fact.MARK + " ") else None
        if nxt and section == "links":
            out += [f"{90 + i}: {n}: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state DOWN "
                    "mode DEFAULT group default \\    link/ether 02:42:3c:15:c2:17 brd ff:ff:ff:ff:ff:ff"
                    for i, n in _ifaces(names)]
        if nxt and section == "containers":
            out += [f"{fact.MARK} container {0xc0 + i:02x}{'0' * 62} {4200 + i} own /web{i} {_network(i, n, '')['Id']},"
                    for i, n in enumerate(names)]
        if nxt and section == "networks":
            out += [json.dumps(_network(i, n, f"{0xc0 + i:02x}{'0' * 62}"), separators=(",", ":"))
                    for i, n in enumerate(names)]
        if nxt:
            section = nxt
        if line is not None:
            out.append(line)
    return out


def _plant_verification(stdout: str, names: list[str]) -> str:
    """The verification's read: systemd-analyze cat-config's "# PATH" header for each file."""
    head, mark, rest = stdout.partition("@@dw-verify:sysctl.d\n")
    planted = "".join(f"# /etc/sysctl.d/{name}\n{key} = 1024\n\n" for name, key in _files(names))
    return head + mark + rest.replace("\n@@dw-verify:", "\n" + planted + "@@dw-verify:", 1) if mark else stdout


def plant(directory: Path, prefix: str, names: list[str]) -> None:
    (directory / f"{prefix}verify").mkdir()
    for role in ("manager", "worker", "standalone"):
        doc = json.loads((RECORDING / f"verify-{role}.json").read_text())
        for entry in doc["commands"].values():
            entry["stdout"] = _plant_verification(entry.get("stdout") or "", names)
        (directory / f"{prefix}verify" / f"verify-{role}.json").write_text(json.dumps(doc))
    for role in ("manager", "worker", "standalone"):
        doc = json.loads((RECORDING / f"{role}.json").read_text())
        for entry in doc["commands"].values():
            lines = [text for _, text in entry.get("lines", [])]
            if lines and lines[0].startswith(factcache.MARK + " "):
                lines = _plant_state_read(lines, names)
            elif lines and lines[0] == f"{fact.MARK} time":
                lines = _plant_diagnosis(lines, names)
            else:
                continue
            entry["lines"] = [["stdout", text] for text in lines]
        (directory / f"{prefix}{role}.json").write_text(json.dumps(doc))


def _runs(tmp_path: Path, prefix: str) -> dict:
    env = dict(os.environ, DOCKWRIGHT_REPLAY_DIR=str(tmp_path), DOCKWRIGHT_REPLAY_AS=prefix,
               DOCKWRIGHT_REPLAY_LATENCY_MS="0", DOCKWRIGHT_REPLAY_SINK=str(tmp_path / f"{prefix}sent"),
               DOCKWRIGHT_VERIFY_REPLAY=str(tmp_path / f"{prefix}verify"))
    env.pop("DOCKWRIGHT_REPLAY_TRACE", None)
    reports = {}
    for tool, args in (("drift", ["--fix"]), ("diagnose", ["--active"])):
        out = tmp_path / f"{prefix}{tool}.json"
        res = subprocess.run([sys.executable, f"{tool}.py", str(tmp_path / "inventory.py"), *args, "--json", str(out),
                              "--lock", str(tmp_path / f"{prefix}{tool}.lock")], cwd=REPO, env=env,
                             capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
        assert out.exists(), res.stdout[-3000:] + res.stderr[-3000:]
        reports[tool] = (res.returncode, json.loads(out.read_text()))
    sent: dict[str, list[str]] = {}
    for line in (tmp_path / f"{prefix}sent").read_text().splitlines():
        host, _, text = line.partition("\t")
        sent.setdefault(host, []).append(eval(text))  # noqa: S307 (the repr this module's replay wrote)
    return {"reports": reports, "sent": sent}


def _verdict(report: dict) -> dict:
    """What a report says of each host: drift's items (and the fix's outcome), diagnose's
    findings; the coverage."""
    return {"drift": report.get("drift"), "fix": report.get("fix"), "coverage": report["coverage"],
            "findings": sorted((f["host"], f["scope"], f["check"], f["severity"]) for f in report.get("findings", []))}


@pytest.fixture(scope="module")
def fleets(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    (tmp / "inventory.py").write_text(INVENTORY)
    plant(tmp, "hostile-", HOSTILE)
    plant(tmp, "benign-", [benign(i) for i in range(len(HOSTILE))])
    return _runs(tmp, "benign-"), _runs(tmp, "hostile-")


def words(command: str) -> list:
    """command's shell words, with the script of each `sh -c SCRIPT` split in turn (pyinfra
    wraps every command so, and some commands run a script of their own)."""
    out = shlex.split(command)
    for i, word in enumerate(out):
        if word == "-c" and i and out[i - 1].rsplit("/", 1)[-1] in ("sh", "bash") and i + 1 < len(out):
            out[i + 1] = words(out[i + 1])
    return out


def _hostile_words(tree):
    return [_hostile_words(w) if isinstance(w, list) else _as_hostile(w) for w in tree]


def _as_hostile(word: str) -> str:
    for i, name in enumerate(HOSTILE):
        word = word.replace(benign(i), name)
    return word


def _hostile_tree(value):
    """value (a report's part) with each benign name replaced by its hostile name."""
    if isinstance(value, str):
        return _as_hostile(value)
    if isinstance(value, (list, tuple)):
        return [_hostile_tree(v) for v in value]
    if isinstance(value, dict):
        return {_as_hostile(k): _hostile_tree(v) for k, v in value.items()}
    return value


def _planted_ids() -> set[str]:
    return {_network(i, n, "")["Id"] for i, n in enumerate(HOSTILE)}


def test_hostile_names_change_no_word_of_any_command_and_no_verdict(fleets):
    """One test (the fleets' runs are made once per unit part that holds a test using them)."""
    b, h = fleets
    assert set(b["sent"]) == set(h["sent"]) == {"sim-m0000", "sim-w0001", "sim-s0002"}
    for host, commands in b["sent"].items():
        assert len(commands) == len(h["sent"][host]), host
        for cb, ch in zip(commands, h["sent"][host]):
            if cb.startswith("@@put "):  # a file's content: the same, with the names in it
                assert ch == _as_hostile(cb)
                continue
            assert words(ch) == _hostile_words(words(cb)), (host, cb[:300])
    # The runs did reach what was planted, on every host: each network removed and probed, by its
    # ID; a file taken over for each key dockwright manages.
    for host, commands in h["sent"].items():
        removed = {c.split("docker network rm ", 1)[1].strip("'") for c in commands if "docker network rm " in c}
        assert removed == _planted_ids(), host
        active = next(c for c in commands if "dockwright.diagnose=active" in c)
        assert all(f"--network {i}" in active for i in _planted_ids()), host
        assert sum("dockwright-bak" in c for c in commands) == len(KEYS), host

    # No frame forged: drift's items, the fix's outcome, the findings and the coverage of each
    # host are the benign fleet's, with the names as the hosts gave them.
    for tool in ("drift", "diagnose"):
        (rc_b, rep_b), (rc_h, rep_h) = b["reports"][tool], h["reports"][tool]
        assert rc_b == rc_h, tool
        assert _hostile_tree(_verdict(rep_b)) == _verdict(rep_h), tool
    drift = h["reports"]["drift"][1]["drift"]["sim-s0002"]
    assert any(HOSTILE[0] in str(item) for item in drift)  # a hostile name, kept as data


def test_the_comparison_catches_a_name_pasted_as_text():
    """The negative control: a name pasted into a command unquoted gives other words."""
    i = HOSTILE.index("a b;c|d&e>f")
    reference = f"sh -c 'docker network rm {benign(i)}'"
    assert words(f"sh -c 'docker network rm {HOSTILE[i]}'") != _hostile_words(words(reference))
    assert words(f"sh -c {shlex.quote('docker network rm ' + shlex.quote(HOSTILE[i]))}") == _hostile_words(words(reference))
