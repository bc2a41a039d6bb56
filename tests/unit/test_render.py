"""Every template and generated file renders, is stable, and holds what the data asks."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockwright.model import deep_merge
from dockwright.operations import docker, sysctl

from .helpers import group_data
from dockwright.plans import apparmor as apparmor_plans
from dockwright.plans import docker as docker_plans
from dockwright.plans import seccomp as seccomp_plans

ALL = group_data("all")


def test_sysctl_file():
    text = sysctl.render({"net.core.somaxconn": 65535, "-net.ipv4.tcp_rmem": "4096   87380 6291456"})
    assert text.splitlines()[1:] == ["net.core.somaxconn = 65535", "-net.ipv4.tcp_rmem = 4096 87380 6291456"]


def test_apparmor_profile_from_data():
    text = apparmor_plans.render(dict(ALL["apparmor"], network_rules=[{"access": "allow", "family": "inet", "type": "tcp"}]))
    assert f"profile {ALL['apparmor']['name']} flags=" in text
    for kind in ALL["apparmor"]["deny_network"]:
        assert f"  deny network {kind.replace('-', ' ')},\n" in text
    assert "deny network inet raw," in text and "deny network packet," in text
    assert "deny network raw," not in text  # would deny netlink (SOCK_RAW) too
    assert "  network inet tcp,\n" in text
    assert "deny mount," in text and "deny @{PROC}/sysrq-trigger rwklx," in text
    assert text.count("{") == text.count("}")


def test_daemon_apply_script_renders_with_values():
    text = docker.rollout_script('{"icc": false}\n', 99)
    assert "within 99 s" in text and '"icc"' not in text  # the content travels on stdin, not here
    assert "{{.Swarm.LocalNodeState}}" in text  # docker's own templates survive jinja


def test_seccomp_profile_denies_af_packet_only_by_single_condition_rules():
    profile = seccomp_plans.build(ALL["seccomp"])
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO" and profile["defaultErrnoRet"] == 1
    socket_rules = [r for r in profile["syscalls"] if r["names"] == ["socket"]]
    families = {r["args"][0]["value"] for r in socket_rules}
    assert all(len(r["args"]) == 1 and r["args"][0]["op"] == "SCMP_CMP_EQ" for r in socket_rules)
    assert 17 not in families and 16 in families and {1, 2, 10}.issubset(families)
    assert 38 not in families and 40 not in families
    allowed = set(profile["syscalls"][0]["names"])
    # Denied by Docker's built-in profile (or only with extra capabilities): denied here too.
    for name in ("keyctl", "add_key", "request_key", "bpf", "kexec_load", "mount", "unshare",
                 "setns", "ptrace", "reboot", "init_module", "open_by_handle_at", "socket"):
        assert name not in allowed
    # The explicit errno rule differs from the default (runc would drop an identical one).
    clone3 = [r for r in profile["syscalls"] if r["names"] == ["clone3"]]
    assert clone3 and clone3[0]["errnoRet"] != profile["defaultErrnoRet"]


def test_seccomp_data_can_deny_more():
    profile = seccomp_plans.build({"deny_socket_families": [17, 10], "deny_syscalls": ["chroot"]})
    assert "chroot" not in profile["syscalls"][0]["names"]
    assert 10 not in {r["args"][0]["value"] for r in profile["syscalls"] if r["names"] == ["socket"]}


def test_seccomp_check_refuses_same_index_conditions():
    bad = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["socket"], "action": "SCMP_ACT_ALLOW",
           "args": [{"index": 0, "op": "SCMP_CMP_GT", "value": 17},
                    {"index": 0, "op": "SCMP_CMP_LT", "value": 38}]}]}
    with pytest.raises(seccomp_plans.SeccompProfileError, match="ORed by runc"):
        seccomp_plans.check(bad)


def test_seccomp_render_is_json_and_stable():
    a, b = seccomp_plans.render(ALL["seccomp"]), seccomp_plans.render(ALL["seccomp"])
    assert a == b and json.loads(a)["archMap"]


def test_daemon_json_from_shipped_data():
    data = json.loads(docker_plans.render(ALL))
    assert data["log-opts"] == {"max-size": "10m", "max-file": "3"}
    assert all(isinstance(v, str) for v in data["log-opts"].values())
    assert data["default-ulimits"]["nofile"]["Soft"] == 65535


def test_apparmor_network_rules_are_words_of_a_grammar_never_free_lines():
    """A free line could close the profile's block ("}") and open another: the mount, /proc,
    /sys and ptrace rules after it would then belong to that other profile."""
    from dockwright import schema
    for bad in ("network inet tcp, } profile other {",
                {"access": "allow", "family": "inet", "type": "tcp, } profile x {"},
                {"access": "allow\n", "family": "inet"}, {"family": "inet"}, {"access": "deny", "family": "inet tcp"}):
        found = schema.validate("h1", deep_merge(ALL, {"apparmor": {"network_rules": [bad]}}))
        assert [p for p in found if p.key.startswith("apparmor.network_rules[0]")], bad
    ok = deep_merge(ALL, {"apparmor": {"network_rules": [{"access": "deny", "family": "inet6", "type": "udp"}]}})
    assert [p for p in schema.validate("h1", ok) if p.key.startswith("apparmor")] == []  # control
    assert "  deny network inet6 udp,\n" in apparmor_plans.render(ok["apparmor"])


@settings(max_examples=200, deadline=None)
@given(rules=st.lists(st.fixed_dictionaries({"access": st.text(max_size=8) | st.sampled_from(["allow", "deny"]),
                                             "family": st.text(max_size=8) | st.sampled_from(["inet", "unix"]),
                                             "type": st.text(max_size=8) | st.sampled_from(["tcp", "raw"])}),
                      max_size=3))
def test_any_accepted_apparmor_data_renders_one_profile_block(rules):
    """Whatever the data, once validation accepts it, the profile has one block, balanced, and
    every network line is "[deny ]network FAMILY[ TYPE],"; data it refuses never renders."""
    import re
    from dockwright import schema
    state = deep_merge(ALL, {"apparmor": {"network_rules": rules}})
    refused = [p for p in schema.validate("h1", state) if p.key.startswith("apparmor")]
    if refused:
        assert any(r not in ({"access": a, "family": f, "type": t} for a in ("allow", "deny")
                             for f in schema.AA_FAMILIES for t in schema.AA_TYPES) for r in rules)
        return
    text = apparmor_plans.render(state["apparmor"])
    assert len(re.findall(r"^profile ", text, re.M)) == 1 and text.count("{") == text.count("}")
    body = text.split("{", 1)[1]
    assert all(re.fullmatch(r"  (deny )?network( [a-z0-9]+){0,2},", line)
               for line in body.splitlines() if "network" in line and not line.strip().startswith("#"))
