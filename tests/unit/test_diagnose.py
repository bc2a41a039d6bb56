"""diagnose: the read's output in, findings out (each check has a case that trips it and the
healthy reading trips none); the table, the metrics, exit codes and the shards' merge."""

import copy
import json

import pytest

from dockwright.commands import diagnose
from dockwright import dockerd, schema
from dockwright.diagnosis import fact, findings, output
from dockwright.model import deep_merge

from .helpers import group_data

ALL = {k: v for k, v in group_data("all").items() if k != "environment_groups"}
T = ALL["diagnose"]  # the thresholds as shipped: never a copy of a value here
MANAGER = deep_merge(ALL, deep_merge(group_data("swarm_managers"), {"swarm": {"advertise_addr": "10.99.0.11"}}))

TCP = ("TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPSynRetrans\n"
       "TcpExt: 0 {lo} {ld} 0\n"
       "Tcp: RtoAlgorithm OutSegs RetransSegs\n"
       "Tcp: 1 {out} {re}\n")


def raw(count=3, limit=262144, buckets=65536, fwd=1, brnf="1", lo=0, ld=0, out=100000, re=10, eth1=1500,
        bridge_mtu="1500", overlay_mtu=None, xfrm="src 10.99.0.11 dst 10.99.0.12", chains=None, docker_up=True,
        containers=(), firewalld="inactive"):
    """A NetworkHealth output as a healthy lab manager gives it, with the named values changed."""
    sysctls = {"net/netfilter/nf_conntrack_count": count, "net/netfilter/nf_conntrack_max": limit,
               "net/netfilter/nf_conntrack_buckets": buckets, "net/ipv4/ip_forward": fwd,
               "net/bridge/bridge-nf-call-iptables": brnf, "net/bridge/bridge-nf-call-ip6tables": brnf,
               "net/core/somaxconn": 65535, "net/ipv4/tcp_max_syn_backlog": 65535}
    chains = chains if chains is not None else ["-N DOCKER", "-N DOCKER-ISOLATION-STAGE-1", "-N DOCKER-USER",
                                                "-A FORWARD -j DOCKER-USER", "-A FORWARD -j DOCKER-ISOLATION-STAGE-1"]
    backend = {"Name": "backend", "Id": "abcdef0123456789", "Driver": "bridge",
               "Options": {fact.MTU_OPT: bridge_mtu}}
    secure = {"Name": "secure-net", "Id": "0123", "Driver": "overlay",
              "Options": {"encrypted": "", **({fact.MTU_OPT: overlay_mtu} if overlay_mtu else {})},
              "Peers": [{"Name": "lab1", "IP": "10.99.0.11"}, {"Name": "lab2", "IP": "10.99.0.12"}]}
    lines = [f"{fact.MARK} time", "1000.0", f"{fact.MARK} boot", "b00t", f"{fact.MARK} sysctl"]
    lines += [f"{k} {v}" for k, v in sysctls.items()]
    lines += [f"{fact.MARK} ctstat", "entries insert_failed drop early_drop", "00000003 00000000 00000000 00000000",
              "00000003 00000000 00000000 00000000"]
    lines += [f"{fact.MARK} tcp", *TCP.format(lo=lo, ld=ld, out=out, re=re).splitlines()]
    lines += [f"{fact.MARK} links", "1: lo: <LOOPBACK,UP> mtu 65536 qdisc noqueue state UNKNOWN",
              "2: eth0: <BROADCAST,UP> mtu 1500 qdisc fq_codel state UP",
              f"3: eth1: <BROADCAST,UP> mtu {eth1} qdisc fq_codel state UP",
              "4: br-abcdef012345: <BROADCAST,UP> mtu 1500 qdisc noqueue state UP",
              "5: veth1a2b@if4: <BROADCAST,UP> mtu 1500 qdisc noqueue state UP"]
    lines += [f"{fact.MARK} route", f"{fact.MARK} addrs", "3: eth1    inet 10.99.0.11/24 brd 10.99.0.255 scope global eth1"]
    lines += [f"{fact.MARK} iptables", *chains, f"{fact.MARK} firewalld", firewalld,
              f"{fact.MARK} xfrm", *([xfrm] if xfrm else [])]
    if not docker_up:
        lines += [f"{fact.MARK} docker", "", f"{dockerd.MARK} 1"]
    else:
        lines += [f"{fact.MARK} docker", "26.1.5", f"{fact.MARK} containers"]
        for c in containers:
            mode = c.get("mode", "own")
            lines += [f"{fact.MARK} container {c['id'].ljust(64, '0')} {c.get('pid', 4242)} {mode} /{c['name']} "
                      + "ports=" + "".join(f"{b}," for b in c.get("ports", ())) + " "
                      + (f"{backend['Id']}," if mode == "own" else ""),
                      *TCP.format(lo=c.get("lo", 0), ld=c.get("lo", 0), out=c.get("out", 10), re=0).splitlines(),
                      f"sysctl net/core/somaxconn {c.get('somaxconn', 65535)}",
                      f"sysctl net/ipv4/tcp_max_syn_backlog {c.get('syn', 65535)}",
                      f"Max open files            {c.get('nofile', 65535)}   65535   files"]
        lines += [f"{fact.MARK} networks", json.dumps(backend), json.dumps(secure)]
    lines += [f"{fact.MARK} end", "1001.5"]
    return lines


def judged(desired=MANAGER, previous=None, **changes):
    reading = fact.NetworkHealth().process(raw(**changes))
    return findings.judge("lab1", reading, desired["diagnose"], desired, previous), reading


def checks(found):
    return sorted((f.scope, f.check, f.severity) for f in found)


def test_the_read_is_one_command_and_its_output_parses():
    reading = fact.NetworkHealth().process(raw())
    assert reading["sysctl"]["net.netfilter.nf_conntrack_max"] == 262144
    assert reading["conntrack_stat"] == {"insert_failed": 0, "drop": 0, "early_drop": 0}
    assert reading["tcp"] == {"ListenOverflows": 0, "ListenDrops": 0, "TCPSynRetrans": 0, "OutSegs": 100000,
                              "RetransSegs": 10}
    assert reading["links"]["veth1a2b"] == 1500 and reading["addrs"] == {"10.99.0.11": "eth1"}
    assert reading["docker"]["networks"]["backend"]["bridge"] == "br-abcdef012345"
    assert reading["end"] - reading["time"] == 1.5
    # One shell command; a frame is only a line that starts with the mark.
    assert fact.NetworkHealth().command().count("\n") == 0


def test_a_healthy_host_has_no_finding():
    found, _ = judged(containers=[{"id": "c1", "name": "web"}])
    assert found == []


@pytest.mark.parametrize("changes,expected", [
    ({"count": 240000}, ("host", "conntrack_used", "critical")),
    ({"count": 200000}, ("host", "conntrack_used", "warning")),
    ({"buckets": 1024}, ("host", "conntrack_hash", "warning")),
    ({"lo": 5, "ld": 5}, ("host", "ListenOverflows", "warning")),
    ({"re": 5000}, ("host", "retransmissions", "warning")),
    ({"fwd": 0}, ("host", "ip_forward", "critical")),
    ({"brnf": "-"}, ("host", "bridge_nf_call_iptables", "warning")),
    ({"chains": ["-N DOCKER", "-N DOCKER-USER"]}, ("host", "docker_chains", "critical")),
    ({"bridge_mtu": "9000"}, ("network backend", "mtu_bridge", "critical")),
    ({"eth1": 1450}, ("network secure-net", "mtu_overlay", "critical")),
    ({"xfrm": None}, ("network secure-net", "esp_sa", "critical")),
    ({"docker_up": False}, ("host", "dockerd", "critical")),
    ({"containers": [{"id": "c1", "name": "web", "somaxconn": 4096}]}, ("container web", "container_sysctl", "warning")),
    ({"containers": [{"id": "c1", "name": "web", "nofile": 1024}]}, ("container web", "container_nofile", "warning")),
    ({"containers": [{"id": "c1", "name": "web", "lo": 3}]}, ("container web", "ListenOverflows", "warning")),
])
def test_each_check_trips_on_its_fault(changes, expected):
    found, _ = judged(**changes)
    assert expected in checks(found), checks(found)
    hit = next(f for f in found if (f.scope, f.check, f.severity) == expected)
    assert hit.fix and hit.value and hit.threshold and hit.host == "lab1"


def test_fixes_name_the_data_key_when_the_data_declares_the_network():
    found, _ = judged(bridge_mtu="9000")
    assert any(f.fix == "networks.bridges.backend.mtu: 1500" for f in found)
    found, _ = judged(containers=[{"id": "c1", "name": "web", "somaxconn": 4096}])
    assert "net.core.somaxconn: 65535" in found[0].fix


def test_host_network_containers_are_not_judged_on_namespace_settings():
    found, _ = judged(containers=[{"id": "c1", "name": "h", "mode": "host", "somaxconn": 4096, "lo": 9}])
    assert found == []


def test_counters_are_judged_since_the_previous_run_of_the_same_boot():
    _, before = judged(lo=7, ld=7)
    again, _ = judged(previous=before, lo=7, ld=7)
    assert again == []  # no new overflow since the last run
    more, _ = judged(previous=before, lo=9, ld=9)
    assert [f.value for f in more if f.check == "ListenOverflows"] == ["2 since the last run (9 since boot)"]
    rebooted = {**before, "boot_id": "another"}
    after_boot, _ = judged(previous=rebooted, lo=7, ld=7)
    assert any(f.value == "7 since boot" for f in after_boot)


def test_clock_skew_names_the_node_off_the_median():
    found = findings.clock_skew({"a": 0.1, "b": -0.2, "c": 9.0}, T["clock_skew_seconds"])
    assert [(f.host, f.check) for f in found] == [("c", "clock_skew")]
    assert findings.clock_skew({"a": 0.0}, T["clock_skew_seconds"]) == []
    two = findings.clock_skew({"a": 0.0, "b": 10.0}, T["clock_skew_seconds"])
    assert [(f.host, f.value) for f in two] == [("a", "-10.0 s from b"), ("b", "+10.0 s from a")]
    assert findings.clock_skew({"a": 0.0, "b": 0.5}, T["clock_skew_seconds"]) == []


def test_thresholds_are_validated_like_everything_else():
    bad = deep_merge(ALL, {"diagnose": {"retrans_ratio": "2%", "conntrack_used_warning": 0.95, "colour": 1,
                                        "fail_on": "panic"}})
    shown = [str(p) for p in schema.validate("h1", bad)]
    assert any("h1: diagnose.retrans_ratio = '2%'" in p for p in shown), shown
    assert any("diagnose.colour" in p and "unknown key" in p for p in shown)
    assert any("diagnose.fail_on = 'panic'" in p for p in shown)
    assert any("diagnose.conntrack_used_warning = 0.95" in p for p in shown)


def _report(found, hosts=("lab1", "lab2"), **extra):
    from dockwright.coverage import Coverage
    report = {"findings": [f.as_dict() for f in found], "hosts": list(hosts), "unreachable": {}, "failed": {},
              "skipped": {}, "not_checked": {}, "error": None, "fail_on": {h: T["fail_on"] for h in hosts},
              "readings": {}, "finished": 1.0, "started": 0.0, "duration": 1.0}
    report.update(extra)
    report["coverage"] = Coverage(in_scope=report["hosts"], unreachable=report["unreachable"], failed=report["failed"],
                                  skipped=report["skipped"], not_checked=report["not_checked"]).as_dict()
    report["exit_code"] = diagnose.exit_code(report)
    return report


def test_exit_codes_and_the_table_worst_first():
    warn, _ = judged(buckets=1024)
    crit, _ = judged(fwd=0)
    report = _report(warn + crit)
    assert report["exit_code"] == diagnose.EXIT_FOUND
    text = output.table(report)
    assert text.index("CRITICAL") < text.index("WARNING") and "fix: sysctl.settings: net.ipv4.ip_forward: 1" in text
    assert _report([])["exit_code"] == diagnose.EXIT_OK
    assert _report(warn, fail_on={"lab1": "critical"})["exit_code"] == diagnose.EXIT_OK
    down = {"lab2": "cannot connect: refused"}
    assert _report([], unreachable=down)["exit_code"] == diagnose.EXIT_FAILURE
    assert "lab2: unreachable (not diagnosed): cannot connect: refused" in output.table(_report([], unreachable=down))
    # Within --max-unreachable the verdict holds, the host still named.
    assert diagnose.exit_code(_report([], unreachable=down), "1") == diagnose.EXIT_OK
    assert diagnose.exit_code(_report([], unreachable=down), "50%") == diagnose.EXIT_OK
    assert diagnose.exit_code(_report([], unreachable=down), "10%") == diagnose.EXIT_FAILURE
    # Nothing checked is never healthy: no host, or a run that stopped before its verdict.
    assert _report([], hosts=())["exit_code"] == diagnose.EXIT_FAILURE
    assert _report([], not_checked={"lab1": "stopped", "lab2": "stopped"})["exit_code"] == diagnose.EXIT_FAILURE


def _samples(text: str) -> dict:
    from prometheus_client.parser import text_string_to_metric_families
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_follow_prometheus_conventions_and_keep_clean_hosts():
    from prometheus_client import generate_latest
    found, reading = judged(containers=[{"id": "c1", "name": 'we"b', "lo": 3}])
    report = _report(found, readings={"lab1": diagnose.plain(reading), "lab2": diagnose.plain(reading)},
                     finished=1796530000.123)
    text = generate_latest(output.metrics_registry(report, 1796530000.123)).decode()
    got = _samples(text)
    # A name Docker would not give a container is not taken from the read: the ID stands in.
    assert got[("dockwright_diagnose_listen_overflows_total", (("container", "c10000000000"), ("host", "lab1")))] == 3
    assert "# TYPE dockwright_diagnose_conntrack_drops_total counter" in text
    assert abs(got[("dockwright_diagnose_conntrack_usage_ratio", (("host", "lab1"),))] - 3 / 262144) < 1e-12
    assert got[("dockwright_diagnose_exit_code", ())] == 2
    # Timestamps keep every digit (":g" once wrote 1.79653e+09, 76 minutes off).
    assert got[("dockwright_diagnose_last_run_timestamp_seconds", ())] == 1796530000.123
    # Every check of a clean fleet is there with 0; each diagnosed host has its severities, no placeholder.
    from dockwright.diagnosis.findings import CHECKS
    assert {dict(k[1])["check"] for k in got if k[0] == "dockwright_diagnose_fleet_findings"} == set(CHECKS)
    assert got[("dockwright_diagnose_findings", (("host", "lab2"), ("severity", "critical")))] == 0
    assert 'check=""' not in text
    assert ("dockwright_diagnose_duration_seconds", ()) in got and \
        ("dockwright_diagnose_last_success_timestamp_seconds", ()) in got


def test_merge_needs_every_shard_once_and_judges_clock_skew_across_them():
    a = _report([], hosts=("m1",), shard=[1, 2], offsets={"m1": 0.0}, swarm_nodes=["m1"],
                clock_skew_seconds=T["clock_skew_seconds"], inventory="i")
    b = _report([], hosts=("m2", "m3"), shard=[2, 2], offsets={"m2": 0.1, "m3": 30.0}, swarm_nodes=["m2", "m3"],
                clock_skew_seconds=T["clock_skew_seconds"], inventory="i")
    fleet = diagnose.merge([a, b])
    assert [(f["host"], f["check"]) for f in fleet["findings"]] == [("m3", "clock_skew")]
    assert fleet["exit_code"] == diagnose.EXIT_FOUND
    assert diagnose.merge([a])["exit_code"] == diagnose.EXIT_FAILURE
    assert diagnose.merge([a, copy.deepcopy(a), b])["exit_code"] == diagnose.EXIT_FAILURE


def test_active_checks_cover_each_user_bridge_and_each_container_namespace_on_it():
    from dockwright.diagnosis import active
    reading = fact.NetworkHealth().process(raw(containers=[{"id": "c1", "name": "web"},
                                                           {"id": "c2", "name": "h", "mode": "host"}]))
    reading["arch"] = "x86_64"
    assert active.user_bridges(reading) == {"backend": ["web"]}
    cmd = active.command(reading, MANAGER)
    assert f"--network container:{'c1'.ljust(64, '0')} " in cmd and f"container:{'c2'.ljust(64, '0')}" not in cmd
    assert "--network abcdef0123456789 " in cmd and "backend" not in cmd and "web" not in cmd  # IDs only
    assert f"--label {active.LABEL}" in cmd and "docker rm -f dw-diag-active-0" in cmd
    assert '"fetch:10.99.0.11:$port:' in cmd  # the published port, on the host's data address
    assert active.command(fact.NetworkHealth().process(raw(docker_up=False)), MANAGER) is None


def test_active_results_become_findings_only_when_a_step_fails():
    from dockwright.diagnosis import active
    reading = fact.NetworkHealth().process(raw(containers=[{"id": "c1", "name": "api"}, {"id": "c2", "name": "web"}]))
    out = [f"{active.MARK} 0 - resolve:dw-diag-active-0=10.5.0.3",
           f"{active.MARK} 0 - fetch:dw-diag-active-0:8080:10=hello",
           f"{active.MARK} 0 - fetch:10.99.0.11:32768:10=timeout",
           f"{active.MARK} 0 1 resolve:dw-diag-active-0=unresolved",
           f"{active.MARK} 0 0 resolve:dw-diag-active-0=10.5.0.3",
           f"{active.MARK} 7 0 resolve:dw-diag-active-0=unresolved",  # no such index: ignored
           f"{active.MARK} backend web resolve:dw-diag-active-0=unresolved"]  # names are never read back
    found = active.judge("lab1", active.results(out, reading))
    assert sorted((f.scope, f.check) for f in found) == [("container web", "dns"), ("network backend", "published_port")]
    assert active.judge("lab1", active.results(out[:2] + out[4:], reading)) == []


UFW_ON = ["-N DOCKER", "-N DOCKER-ISOLATION-STAGE-1", "-N DOCKER-USER", "-N ufw-before-input",
          "-A FORWARD -j DOCKER-USER", "-A FORWARD -j DOCKER-ISOLATION-STAGE-1",
          "-A ufw-before-input -i lo -j ACCEPT"]
UFW_OFF = [c for c in UFW_ON if not c.startswith("-A ufw-")]  # ufw disable empties its chains
WEB = {"id": "c1", "name": "web", "ports": ["8080/tcp@0.0.0.0@8088", "8080/tcp@::@8088"]}


def test_a_published_port_that_ufw_cannot_see_is_named_with_its_container_and_fix():
    found, reading = judged(chains=UFW_ON, containers=[WEB])
    assert reading["host_firewalls"] == ["ufw"]
    assert reading["docker"]["containers"][0]["published"] == [{"port": 8088, "proto": "tcp", "host_ip": "0.0.0.0"}]
    (hit,) = [f for f in found if f.check == "host_firewall_bypass"]  # one per port, not per address family
    assert hit.scope == "container web" and "0.0.0.0:8088/tcp" in hit.value and "ufw" in hit.value
    assert '"port": 8088, "proto": "tcp"' in hit.fix and "networks.port_policy" in hit.fix


@pytest.mark.parametrize("rule", [
    # dockwright's own port policy (allow_from: the RETURNs, then the DROP; deny_from)
    "-A DOCKER-USER -p tcp -m conntrack --ctstate DNAT --ctdir ORIGINAL --ctorigdstport 8088 -j DROP",
    "-A DOCKER-USER -s 10.0.0.0/8 -p tcp -m conntrack --ctstate DNAT --ctdir ORIGINAL --ctorigdstport 8000:9000 -j DROP",
    # a rule of the user's own: a port list, or an interface's blanket drop
    "-A DOCKER-USER -p tcp -m multiport --dports 22,8088 -j REJECT --reject-with icmp-port-unreachable",
    "-A DOCKER-USER -i eth0 -j DROP",
])
def test_a_port_the_docker_user_chain_filters_is_not_a_bypass(rule):
    found, _ = judged(chains=[*UFW_ON, rule], containers=[WEB])
    assert "host_firewall_bypass" not in [f.check for f in found]


@pytest.mark.parametrize("changes", [
    {"chains": [*UFW_ON, "-A DOCKER-USER -p udp -m conntrack --ctorigdstport 8088 -j DROP"]},  # another protocol
    {"chains": [*UFW_ON, "-A DOCKER-USER -s 10.0.0.1/32 -j DROP"]},  # one source, every port: not a policy
    {"chains": [*UFW_ON, "-A DOCKER-USER -p tcp -m conntrack --ctorigdstport 8088 -j RETURN"]},  # admits only
    {"chains": None, "firewalld": "active"},  # firewalld instead of ufw
])
def test_what_does_not_filter_the_port_still_reads_as_a_bypass(changes):
    found, _ = judged(containers=[WEB], **changes)
    assert [f.check for f in found] == ["host_firewall_bypass"]


@pytest.mark.parametrize("changes", [
    {"chains": None},  # no host firewall: nothing to bypass (the control)
    {"chains": UFW_OFF},  # ufw installed, disabled
    {"chains": UFW_ON, "containers": [{**WEB, "ports": ["8080/tcp@127.0.0.1@8088"]}]},  # loopback only
    {"chains": [c for c in UFW_ON if "DOCKER" not in c], "firewalld": "active"},  # dockerd with iptables off
])
def test_no_bypass_without_a_host_firewall_a_public_port_or_docker_nat(changes):
    found, _ = judged(**{"containers": [WEB], **changes})
    assert "host_firewall_bypass" not in [f.check for f in found]


def test_a_binding_that_is_not_dockers_shape_is_not_read():
    assert fact.published("8080/tcp@0.0.0.0@8088,x;id@1@2,8080/tcp@::@8088,53/udp@@53,") == [
        {"port": 53, "proto": "udp", "host_ip": ""}, {"port": 8088, "proto": "tcp", "host_ip": "0.0.0.0"}]
