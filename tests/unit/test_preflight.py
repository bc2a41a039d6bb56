"""Preflight's host-side checks are the plans' problems, named by data key, with the value: one
loop over the concerns (dockwright.concerns), each judging its own part of the host."""

from dockwright import concerns
from dockwright.model import deep_merge

from .harness import DEBIAN, FakeHost
from .helpers import group_data

ALL = group_data("all")
WORKER = deep_merge(ALL, {"swarm": {"role": "worker", "advertise_addr": "10.99.0.12"}})


def facts(**changes):
    base = {
        "ConntrackState": {"cores": 2, "mem_bytes": 4 << 30, "loaded": True, "hashsize": 65536,
                           "modules_load": None, "modprobe": None},
        "SysctlState": {"live": {}, "missing": [], "files": [], "paths": [], "links": {}},
        "AppArmorState": {"enabled": True, "parser": True, "file_sha256": None, "loaded": None},
        "ProfileCheck": {"ok": True, "message": ""},
        "HostRoutes": [("10.99.0.0/24", "eth1")],
        "SwarmState": {"state": "inactive", "manager": False, "cluster_id": None, "remote_managers": [],
                       "node_addr": None},
        "OverlayModules": [],
        "DockerEngine": {"package": "docker.io", "version": (26, 1, 5), "enabled": True, "active": True,
                         "exec_start": "/usr/sbin/dockerd -H fd://", "docker_opts": "", "daemon_json": None,
                         "rollout": {}, "failed": {}, "os": DEBIAN},
        "DaemonConfigCheck": {"ok": True, "message": ""},
        "PortPolicy": {"ipv4": {"live": None, "file": None, "applied": None},
                       "ipv6": {"live": None, "file": None, "applied": None}, "unit": None, "enabled": False},
    }
    for name, change in changes.items():
        base[name] = dict(base[name], **change) if isinstance(base.get(name), dict) else change
    return base


def plan_problems(fake, desired):
    return concerns.problems(fake, concerns.View(fake, desired))


def test_a_sound_host_has_no_problem_and_is_asked_each_concern_once():
    fake = FakeHost(facts())
    assert plan_problems(fake, WORKER) == []
    asked = [name for name, _ in fake.asked]
    assert sorted(asked) == sorted(set(asked))  # one read per fact (and arguments)


def test_every_host_side_problem_is_named_by_data_key_and_value():
    fake = FakeHost(facts(
        SysctlState={"missing": ["net.core.somaxconn", "net.netfilter.nf_conntrack_max"]},
        ProfileCheck={"ok": False, "message": "syntax error"},
        HostRoutes=[("10.5.3.0/24", "eth2")],
        OverlayModules=["esp4"],
        DockerEngine={"version": (23, 0, 2), "exec_start": "/usr/sbin/dockerd --log-level=warn"},
        DaemonConfigCheck={"ok": False, "message": "unknown key"},
    ))
    found = plan_problems(fake, WORKER)
    assert [(key, value) for key, value, _ in found] == [
        ("sysctl.settings.net.core.somaxconn", 65535),  # conntrack's key comes with the module
        ("docker.daemon.log-level", "info"),
        ("docker.daemon", "(rendered daemon.json)"),
        ("apparmor", {"name": ALL["apparmor"]["name"], "network_rules": []}),
        ("networks.bridges.backend.subnet", "10.5.0.0/16"),
        ("swarm.role", "worker"), ("swarm.role", "worker"),
    ]  # in the deploy's order
    whys = " | ".join(why for _, _, why in found)
    for part in ("no such key", "rejects the rendered profile: syntax error", "route 10.5.3.0/24 on eth2",
                 "kernel module esp4", "CVE-2023-28841", "already passes --log-level=warn",
                 "dockerd --validate: unknown key"):
        assert part in whys


def test_a_port_policy_on_a_host_without_a_docker_user_chain_stops_the_run_before_any_change():
    """One rule (plans/firewall.backend_problem), from daemon.json or the unit's own flags."""
    policy = deep_merge(WORKER, {"networks": {"port_policy": [{"port": 8080, "allow_from": ["10.0.0.0/8"]}]}})
    assert [k for k, _, _ in plan_problems(FakeHost(facts()), policy)] == []  # control
    nft_data = deep_merge(policy, {"docker": {"daemon": {"firewall-backend": "nftables"}}})
    off_data = deep_merge(policy, {"docker": {"daemon": {"iptables": False}}})
    nft_unit = FakeHost(facts(DockerEngine={"exec_start": "/usr/sbin/dockerd -H fd:// --firewall-backend=nftables"}))
    for fake, desired, why in ((FakeHost(facts()), nft_data, "nftables firewall backend"),
                               (FakeHost(facts()), off_data, "iptables off"),
                               (nft_unit, policy, "nftables firewall backend")):
        found = [(k, v, w) for k, v, w in plan_problems(fake, desired) if k == "networks.port_policy"]
        assert found == [("networks.port_policy", "1 rule(s)", found[0][2])] and why in found[0][2]


def test_a_concern_switched_off_is_neither_read_nor_judged():
    # (the networks concern reads the engine too: its port policy depends on dockerd's flags)
    off = deep_merge(WORKER, {"concerns": {"apparmor": False, "docker": False, "swarm": False, "networks": False}})
    fake = FakeHost(facts(AppArmorState={"enabled": False}, DockerEngine={"exec_start": "dockerd --log-level=x"}))
    assert plan_problems(fake, off) == []
    assert {name for name, _ in fake.asked}.isdisjoint({"AppArmorState", "DockerEngine", "SwarmState"})


def test_every_refusal_of_a_host_set_up_by_hand_is_named_at_once():
    """A sysctl file that overrides a managed key and a DOCKER-USER rule dockwright did not write:
    both refusals, not the first alone, so one read shows everything to settle."""
    other = "/etc/sysctl.d/99-local.conf"
    policy = deep_merge(WORKER, {"networks": {"port_policy": [{"port": 8080, "allow_from": ["10.0.0.0/8"]}]}})
    rule = "-A DOCKER-USER -s 192.0.2.7/32 -j DROP"
    empty = {"live": None, "file": None, "applied": None}
    by_hand = facts(
        SysctlState={"files": [(other, "net.core.somaxconn", "4096")], "paths": [other]},
        DockerNetworks={}, NetworkJournals={},
        PortPolicy={"ipv4": dict(empty, live=f"-N DOCKER-USER\n{rule}\n"), "ipv6": empty, "unit": None,
                    "enabled": False})
    fake = FakeHost(by_hand)
    found = concerns.refusals(fake, concerns.View(fake, policy))
    assert [key for key, _ in found] == ["sysctl", "firewall"]
    assert f"{other} sets net.core.somaxconn = 4096" in found[0][1].refusal and repr(rule) in found[1][1].refusal
    settled = deep_merge(policy, {"sysctl": {"on_override": "takeover"}, "networks": {"on_foreign_rules": "takeover"}})
    fake = FakeHost(by_hand)
    assert concerns.refusals(fake, concerns.View(fake, settled)) == []
