"""The concerns' plans: desired values and facts in; drift items, problems, refusal and
decisions out. Pure functions, so each case is the decision alone, with nothing to fake."""

import ipaddress

import pytest

from dockwright.plans import conntrack, docker, firewall, networks, sha256, swarm, sysctl

from .harness import DEBIAN
from dockwright.plans import apparmor as apparmor_plans
from dockwright.plans import seccomp as seccomp_plans

OWN = "/etc/sysctl.d/90-dockwright.conf"


def sysctl_state(live=None, missing=(), files=(), links=None):
    files = list(files)
    return {"live": live or {}, "missing": list(missing), "files": files,
            "paths": sorted({f for f, _, _ in files}), "links": links or {}}


def test_sysctl_converged_host_has_no_items_and_nothing_to_do():
    state = sysctl_state(live={"net.core.somaxconn": "4096"}, files=[(OWN, "net.core.somaxconn", "4096")])
    p = sysctl.plan({"net.core.somaxconn": 4096}, OWN, "fail", state)
    assert (p.items, p.problems, p.refusal, p.write, p.takeover, p.live) == ([], [], None, False, {}, {})


def test_sysctl_missing_key_is_a_problem_unless_optional_or_loaded_later():
    state = sysctl_state(missing=["net.core.nosuch", "net.netfilter.nf_conntrack_max", "vm.optional"])
    settings = {"net.core.nosuch": 1, "net.netfilter.nf_conntrack_max": 262144, "-vm.optional": 1}
    late = sysctl.plan(settings, OWN, "fail", state, late_ok=True)
    assert late.problems == [("net.core.nosuch", 1, "the kernel has no such key (write -key if it may be missing)")]
    # A late key is written and set: nf_conntrack is loaded by then.
    assert set(late.live) == {"net.netfilter.nf_conntrack_max"}
    strict = sysctl.plan(settings, OWN, "fail", state, late_ok=False)
    assert [k for k, _, _ in strict.problems] == ["net.core.nosuch", "net.netfilter.nf_conntrack_max"]
    assert "net.core.nosuch" in (strict.error() or "")


def test_sysctl_override_at_boot_is_refused_in_fail_mode_and_taken_over_otherwise():
    other = "/etc/sysctl.d/99-zz.conf"
    state = sysctl_state(live={"net.core.somaxconn": "1024"},
                         files=[(OWN, "net.core.somaxconn", "4096"), (other, "net.core.somaxconn", "1024")])
    fail = sysctl.plan({"net.core.somaxconn": 4096}, OWN, "fail", state)
    assert fail.problems == [] and f"{other} sets net.core.somaxconn = 1024 (dockwright: 4096)" in fail.refusal
    assert ("boot: net.core.somaxconn overridden by " + other, "4096", "1024") in fail.items
    take = sysctl.plan({"net.core.somaxconn": 4096}, OWN, "takeover", state)
    assert take.refusal is None and take.takeover == {other: ["net.core.somaxconn"]}
    assert take.live == {"net.core.somaxconn": 4096} and not take.write


def test_sysctl_override_through_a_symlink_is_refused_even_with_takeover():
    other = "/etc/sysctl.d/99-link.conf"
    state = sysctl_state(files=[(OWN, "vm.swappiness", "10"), (other, "vm.swappiness", "60")],
                         links={other: "/opt/vendor/tuning.conf"}, live={"vm.swappiness": "10"})
    p = sysctl.plan({"vm.swappiness": 10}, OWN, "takeover", state)
    assert "does not write through symlinks" in p.refusal and "/opt/vendor/tuning.conf" in p.refusal


def test_sysctl_file_and_live_differences_are_items_with_both_values():
    state = sysctl_state(live={"net.core.somaxconn": "128"}, files=[(OWN, "net.core.somaxconn", "128")])
    p = sysctl.plan({"net.core.somaxconn": 4096, "-net.ipv4.tcp_rmem": "4096  87380 6291456"}, OWN, "fail",
                    dict(state, missing=["net.ipv4.tcp_rmem"]))
    assert p.write and p.live == {"net.core.somaxconn": 4096}  # a missing optional key is not set
    assert p.items == [(f"{OWN}: net.core.somaxconn", "4096", "128"),
                       (f"{OWN}: net.ipv4.tcp_rmem", "4096 87380 6291456", None),
                       ("live: net.core.somaxconn", "4096", "128")]


def test_conntrack_fresh_host_needs_everything_and_a_converged_one_nothing():
    fresh = {"loaded": False, "hashsize": None, "modules_load": None, "modprobe": None}
    p = conntrack.plan(65536, fresh)
    assert (p.write_load, p.write_options, p.load, p.resize) == (True, True, True, True)
    assert [k for k, _, _ in p.items] == [conntrack.MODULES_LOAD, conntrack.MODPROBE, "module loaded",
                                           "hashsize (live)"]
    done = {"loaded": True, "hashsize": 65536, "modules_load": conntrack.LOAD_CONF,
            "modprobe": conntrack.probe_conf(65536)}
    assert conntrack.plan(65536, done).items == []
    assert conntrack.plan(131072, done).items == [
        (conntrack.MODPROBE, "hashsize=131072", conntrack.probe_conf(65536)), ("hashsize (live)", 131072, 65536)]


def engine(daemon_json=None, **kw):
    return dict({"package": "docker.io", "enabled": True, "active": True, "exec_start": "/usr/sbin/dockerd",
                 "docker_opts": "", "daemon_json": daemon_json, "rollout": {}, "failed": {}, "version": (26, 1, 5),
                 "os": DEBIAN},
                **kw)


def test_daemon_json_differences_are_items_and_secrets_stay_masked():
    want = '{"log-opts": {"splunk-token": "s3cret", "max-size": "10m"}}'
    have = '{"log-opts": {"splunk-token": "old", "max-size": "5m"}}'
    p = docker.daemon_plan(want, engine(have), None)
    assert p.apply and p.refusal is None and p.problems == []
    shown = dict((k, (d, a)) for k, d, a in p.items)
    assert shown["daemon.json: log-opts.max-size"] == ("10m", "5m")
    assert "s3cret" not in repr(p.items) and "old" not in repr(p.items)
    assert docker.daemon_plan(want, engine(want), None).items == []


def test_daemon_json_rolled_back_before_is_refused_unless_retried():
    content = '{"storage-driver": "btrfs"}\n'
    failed = {"sha256": sha256(content), "at": "2026-11-29T10:00:00", "reason": "unhealthy"}
    p = docker.daemon_plan(content, engine("{}\n", failed=failed), None)
    assert not p.apply and "not tried again" in p.refusal
    assert p.items[0][0] == "daemon.json: candidate rolled back before, not retried"
    assert docker.daemon_plan(content, engine("{}\n", failed=failed), None, retry_failed=True).apply


def test_daemon_json_that_dockerd_would_refuse_is_a_problem_never_applied():
    content = '{"hosts": ["unix:///run/docker.sock"], "live-restore": true}'
    p = docker.daemon_plan(content, engine(exec_start="/usr/sbin/dockerd -H fd://"), {"state": "active"})
    assert [k for k, _, _ in p.problems] == ["hosts", "live-restore"] and not p.apply
    assert docker.needs_swarm_state(content) and not docker.needs_swarm_state('{"debug": true}')


def test_an_unwatched_rollout_is_acknowledged_and_reported():
    last = {"seen": "0", "result": "rolled-back", "at": "t"}
    p = docker.daemon_plan("{}\n", engine("{}\n", rollout=last), None)
    assert p.acknowledge == last and not p.apply and p.items == [("daemon.json: unwatched rollout", "seen",
                                                                   "rolled-back")]


def test_engine_plan_installs_enables_and_starts_what_is_missing():
    p = docker.engine_plan(engine(package=None, enabled=False, active=False))
    assert (p.install, p.enable, p.start) == (True, True, True) and len(p.items) == 3
    assert docker.engine_plan(engine()).items == []


def test_apparmor_plan_asks_the_parser_for_a_changed_profile_and_names_the_source():
    state = {"enabled": True, "parser": True, "file_sha256": None, "loaded": None}
    first = apparmor_plans.apparmor_plan("dw", "/etc/apparmor.d/dw", "profile dw {}\n", state)
    assert first.check and first.write and first.load
    bad = apparmor_plans.apparmor_plan("dw", "/etc/apparmor.d/dw", "profile dw {}\n", state,
                                 {"ok": False, "message": "syntax error"}, source={"name": "dw"})
    assert bad.problems == [("apparmor", {"name": "dw"}, "apparmor_parser rejects the rendered profile: syntax error")]
    same = dict(state, file_sha256=sha256("profile dw {}\n"), loaded="complain")
    reload = apparmor_plans.apparmor_plan("dw", "/etc/apparmor.d/dw", "profile dw {}\n", same)
    assert not reload.write and not reload.check and reload.load
    off = apparmor_plans.apparmor_plan("dw", "/etc/apparmor.d/dw", "x", dict(state, enabled=False))
    assert off.problems[0][0] == "concerns.apparmor" and not off.write


def test_seccomp_plan_compares_the_hash():
    assert seccomp_plans.seccomp_plan("/p.json", "{}", sha256("{}")).items == []
    p = seccomp_plans.seccomp_plan("/p.json", "{}", None)
    assert p.write and p.items == [("/p.json sha256", sha256("{}"), None)]


def net(**kw):
    return dict({"driver": "bridge", "scope": "local", "subnet": "10.5.0.0/16", "mtu": 1500,
                 "containers": [], "endpoints": 0}, **kw)


def test_network_absent_differs_attached_and_allowed():
    spec = {"subnet": "10.5.0.0/16", "mtu": 1450}
    assert networks.network_plan("b", "bridge", spec, None, False).create
    idle = networks.network_plan("b", "bridge", spec, net(), False)
    assert idle.recreate and not idle.attached and idle.items == [("b.mtu", 1450, 1500)]
    busy = networks.network_plan("b", "bridge", spec, net(containers=["api"]), False)
    assert "containers are attached: api" in busy.refusal
    allowed = networks.network_plan("b", "bridge", spec, net(containers=["api"]), True)
    assert allowed.refusal is None and allowed.recreate and allowed.attached == ["api"]
    wrong = networks.network_plan("b", "overlay", {"subnet": "10.5.0.0/16"}, net(), False)
    assert wrong.items == [("b.driver", "overlay", "bridge")]
    assert networks.network_plan("b", "bridge", {"subnet": "10.5.0.0/16"}, net(), False).items == []


def test_prune_keeps_builtin_declared_swarm_and_used_networks():
    nets = {"bridge": net(), "keep": net(), "swarmy": net(scope="swarm"), "used": net(endpoints=1),
            "stale": net(id="ab" * 32)}
    p = networks.prune_plan(["keep"], nets)
    assert p.remove == ["ab" * 32] and p.items == [("stale", "absent", "present")]


def test_route_overlaps_name_key_subnet_and_route():
    declared = [("networks.bridges.b.subnet", ipaddress.ip_network("10.0.0.0/16")),
                ("networks.bridges.c.subnet", ipaddress.ip_network("10.9.0.0/24"))]
    routes = [("10.0.5.0/24", "eth1"), ("10.9.0.0/24", "br-x")]
    assert networks.route_problems(declared, routes) == [
        ("networks.bridges.b.subnet", "10.0.0.0/16", "overlaps the host's route 10.0.5.0/24 on eth1")]


def policy_state(unit=None, enabled=False, **families):
    empty = {"live": None, "file": None, "applied": None}
    return {"ipv4": families.get("ipv4", empty), "ipv6": families.get("ipv6", empty), "unit": unit,
            "enabled": enabled}


def test_firewall_plan_nothing_declared_nothing_installed_is_quiet():
    assert firewall.plan(("/u", "unit"), {"ipv4": ("/r4", "rules")}, False, policy_state()).nothing


def test_firewall_plan_writes_the_unit_and_rules_then_reapplies_a_changed_live_chain():
    fresh = firewall.plan(("/u", "unit"), {"ipv4": ("/r4", "rules\n")}, True, policy_state())
    assert fresh.install_unit and fresh.write == ["ipv4"] and fresh.apply == []
    flushed = policy_state(sha256("unit"), True, ipv4={"file": "rules\n", "applied": "-A x\n-A y\n", "live": "-A y\n"})
    p = firewall.plan(("/u", "unit"), {"ipv4": ("/r4", "rules\n")}, True, flushed)
    assert not p.install_unit and p.write == [] and p.apply == ["ipv4"] and p.refusal is None
    assert p.items == [("DOCKER-USER (ipv4, live)", ["-A x", "-A y"], ["-A y"])]


OWN = "-A DOCKER-USER -j RETURN"


def test_a_docker_user_rule_dockwright_did_not_write_is_refused_or_kept_aside_never_silently_removed():
    """Foreign: a live rule neither dockerd's own RETURN nor in dockwright's last readback or rules
    file; before the first apply (a host set up by hand) and after it (added by someone later)."""
    by_hand = {"live": f"-N DOCKER-USER\n-A DOCKER-USER -s 192.0.2.7/32 -j DROP\n{OWN}\n", "file": None,
               "applied": None}
    later = {"live": f"-N DOCKER-USER\n-A ours\n-A DOCKER-USER -j ufw-user-forward\n{OWN}\n",
             "file": "*filter\n-A ours\nCOMMIT\n", "applied": "-N DOCKER-USER\n-A ours\n"}
    for state, rule in ((by_hand, "-A DOCKER-USER -s 192.0.2.7/32 -j DROP"),
                        (later, "-A DOCKER-USER -j ufw-user-forward")):
        refused = firewall.plan(("/u", "unit"), {"ipv4": ("/r4", "rules\n")}, True, policy_state(ipv4=state))
        assert repr(rule) in refused.refusal and "networks.on_foreign_rules" in refused.refusal
        taken = firewall.plan(("/u", "unit"), {"ipv4": ("/r4", "rules\n")}, True, policy_state(ipv4=state),
                              on_foreign="takeover")
        assert taken.refusal is None and taken.takeover == ["ipv4"]
        assert ("DOCKER-USER (ipv4): rules not dockwright's", None, [rule]) in taken.items
    # Controls: dockerd's own rule, dockwright's own rules, and no policy on a host without one.
    assert firewall.foreign_rules({"live": f"-N DOCKER-USER\n{OWN}\n", "file": None, "applied": None}) == []
    assert firewall.foreign_rules({"live": "-N DOCKER-USER\n-A ours\n", "file": None,
                                   "applied": "-N DOCKER-USER\n-A ours\n"}) == []
    assert firewall.plan(("/u", "unit"), {"ipv4": ("/r4", "r")}, False, policy_state(ipv4=by_hand)).nothing


def swarm_state(state="inactive", manager=False, cluster=None, managers=()):
    return {"state": state, "manager": manager, "cluster_id": cluster, "remote_managers": list(managers),
            "node_addr": None}


def test_swarm_init_join_and_standalone():
    assert swarm.init_plan(swarm_state()).act
    assert not swarm.init_plan(swarm_state("active", True, "c1")).items
    assert "leave the other swarm" in swarm.init_plan(swarm_state("pending")).refusal
    leader = swarm_state("active", True, "c1")
    assert swarm.join_plan("worker", swarm_state(), leader, "10.0.0.1").act
    assert not swarm.join_plan("worker", swarm_state("active", False, "c1"), leader, "10.0.0.1").items
    other = swarm.join_plan("worker", swarm_state("active", False, "c2", ["10.9.9.9:2377"]), leader, "10.0.0.1")
    assert "member of another swarm" in other.refusal and not other.act
    role = swarm.join_plan("manager", swarm_state("active", False, "c1"), leader, "10.0.0.1")
    assert "data says manager" in role.refusal
    assert swarm.standalone_plan(swarm_state()).refusal is None
    assert "docker swarm leave" in swarm.standalone_plan(swarm_state("active")).refusal


def test_swarm_host_problems_name_missing_modules_and_unsafe_engines():
    found = swarm.host_problems("worker", ["esp4"], (23, 0, 2))
    assert [why.split(" (")[0] for _, _, why in found] == ["kernel module esp4", "engine 23.0.2 can send "
                                                            "encrypted-overlay traffic in cleartext"]
    assert swarm.host_problems("worker", [], (26, 1, 5)) == []


def test_the_port_policy_covers_every_family_dockerd_filters_as_it_runs():
    """Which families get rules comes from the engine as it runs: the unit's flags over
    daemon.json (passthrough included) over the engine's defaults (Engine 27+: ip6tables on)."""
    from dockwright.plans.firewall import backend_problem, engine_firewall, families
    unit = "/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock"
    assert families(engine_firewall({}, unit, (26, 1, 5))) == ["ipv4"]
    assert families(engine_firewall({}, unit, (27, 0, 1))) == ["ipv4", "ipv6"]  # the new default
    assert families(engine_firewall({"ip6tables": False}, unit, (27, 0, 1))) == ["ipv4"]
    assert families(engine_firewall({"ip6tables": True}, unit, (26, 1, 5))) == ["ipv4", "ipv6"]  # passthrough
    assert families(engine_firewall({}, unit + " --ip6tables", (26, 1, 5))) == ["ipv4", "ipv6"]  # a flag
    assert families(engine_firewall({"ip6tables": True}, unit + " --ip6tables=false", (27, 0, 1))) == ["ipv4"]
    assert families(engine_firewall({"iptables": False}, unit, (26, 1, 5))) == []
    nft = engine_firewall({}, unit + " --firewall-backend=nftables", (29, 0, 0))
    assert "nftables" in backend_problem(nft, declared=True) and backend_problem(nft, declared=False) is None
    assert "nftables" in backend_problem(engine_firewall({"firewall-backend": "nftables"}, unit, (29, 0, 0)), True)
    assert backend_problem(engine_firewall({}, unit, (29, 0, 0)), True) is None  # control
    # Every form dockerd's flag parser accepts: "--flag value", repeated (the last wins), in DOCKER_OPTS.
    for flags in (" --firewall-backend nftables", " --firewall-backend=iptables --firewall-backend nftables",
                  " $DOCKER_OPTS --firewall-backend nftables"):
        assert "nftables" in backend_problem(engine_firewall({}, unit + flags, (29, 0, 0)), True), flags
    assert backend_problem(engine_firewall({}, unit + " --firewall-backend nftables --firewall-backend=iptables",
                                           (29, 0, 0)), True) is None
    # A boolean flag takes no separate value: "--ip6tables" then a word is still on.
    assert families(engine_firewall({}, unit + " --ip6tables --debug", (26, 1, 5))) == ["ipv4", "ipv6"]


def test_an_apparmor_name_another_profile_holds_is_a_problem_never_overwritten():
    from dockwright import schema
    from dockwright.model import deep_merge
    from dockwright.plans.apparmor import apparmor_plan
    state = {"enabled": True, "parser": True, "file_sha256": None, "loaded": None, "foreign": "directory"}
    p = apparmor_plan("tunables", "/etc/apparmor.d/tunables", "profile x {}\n", state)
    assert not p.write and not p.load and p.problems[0][:2] == ("apparmor.name", "tunables")
    mine = dict(state, foreign=None)
    assert apparmor_plan("dw", "/etc/apparmor.d/dw", "x", mine).write  # control: ours, or absent
    # No file of that name, but a profile of that name loaded (Ubuntu's usr.bin.man defines
    # man_filter): never replaced.
    held = dict(mine, loaded="enforce")
    p = apparmor_plan("man_filter", "/etc/apparmor.d/man_filter", "profile man_filter {}\n", held)
    assert not p.write and not p.load and p.problems[0][:2] == ("apparmor.name", "man_filter")
    assert "loaded in the kernel" in p.problems[0][2]
    ours = dict(held, file_sha256="0" * 64)  # control: our file is there, the loaded one is ours
    assert apparmor_plan("dw", "/etc/apparmor.d/dw", "x", ours).write
    from .helpers import group_data
    for name in ("tunables", "docker-default", "usr.sbin.cupsd", "abstractions"):
        found = schema.validate("h1", deep_merge(group_data("all"), {"apparmor": {"name": name}}))
        assert [p for p in found if p.key == "apparmor.name"], name


@pytest.mark.parametrize("os_release,refused", [
    ({"ID": "debian", "VERSION_ID": "13"}, None),
    ({"ID": "ubuntu", "VERSION_ID": "24.04", "ID_LIKE": "debian"}, None),
    ({"ID": "linuxmint", "VERSION_ID": "22", "ID_LIKE": "ubuntu debian"}, None),
    ({"ID": "rocky", "VERSION_ID": "9.4", "ID_LIKE": "rhel centos fedora"}, "rocky 9.4"),
    ({}, "unknown (no /etc/os-release)"),
])
def test_a_host_that_is_not_debian_like_is_refused_by_name_before_any_change(os_release, refused):
    p = docker.engine_plan(engine(os=os_release, package=None, active=False))
    if refused is None:
        assert p.problems == [] and p.install and p.start
    else:
        assert [(k, v) for k, v, _ in p.problems] == [("platform", refused)]
        assert not (p.install or p.enable or p.start) and "apt/dpkg" in p.problems[0][2]
