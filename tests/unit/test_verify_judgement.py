"""The verification suite's own readings of a host (not the deploy's): systemd's sysctl.d
listing judged the way systemd-sysctl applies it."""

from dockwright.verify.test_kernel import boot_value, boot_values

LISTING = """# /usr/lib/sysctl.d/50-default.conf
# Comment lines that look like files are not headers: # /etc/nothing
net.core.somaxconn = 4096
net.ipv4.conf.*.rp_filter = 2
-net.ipv4.tcp_rmem = 4096\t131072\t6291456

# /etc/sysctl.d/90-dockwright.conf
net.core.somaxconn = 65535
net/ipv4/tcp_max_syn_backlog = 8192

# /etc/sysctl.d/99-local.conf
; a semicolon comment
net.ipv4.conf.all.rp_filter = 1
"""


def test_last_file_in_systemds_order_wins_and_slashes_are_dots():
    boot = boot_values(LISTING)
    assert boot_value(boot, "net.core.somaxconn") == ("65535", "/etc/sysctl.d/90-dockwright.conf")
    assert boot_value(boot, "net.ipv4.tcp_max_syn_backlog") == ("8192", "/etc/sysctl.d/90-dockwright.conf")
    assert boot_value(boot, "net.ipv4.tcp_rmem") == ("4096 131072 6291456", "/usr/lib/sysctl.d/50-default.conf")


def test_a_glob_counts_only_where_no_file_names_the_key():
    boot = boot_values(LISTING)
    assert boot_value(boot, "net.ipv4.conf.eth0.rp_filter") == ("2", "/usr/lib/sysctl.d/50-default.conf")
    assert boot_value(boot, "net.ipv4.conf.all.rp_filter") == ("1", "/etc/sysctl.d/99-local.conf")
    assert boot_value(boot, "vm.swappiness") == (None, None)


# ---- expectations the suite derives from the data itself (dockwright/verify/expect.py), each shown
# to fail on a host that is not as the data says.
from dockwright.verify import expect  # noqa: E402


def test_conntrack_sizing_follows_the_documented_rule():
    gib = 1 << 30
    assert expect.conntrack_limits({"max": "auto", "buckets": "auto"}, 2, 4 * gib) == (131072, 32768)
    assert expect.conntrack_limits({"max": "auto", "buckets": "auto"}, 16, 64 * gib) == (524288, 131072)
    assert expect.conntrack_limits({"max": "auto", "buckets": "auto"}, 8, 1 * gib) == (209715, 52428)  # RAM cap
    assert expect.conntrack_limits({"max": 1000, "buckets": "auto"}, 8, 64 * gib) == (1000, 1024)
    assert expect.conntrack_limits({"max": 262144, "buckets": 4096}, 1, gib) == (262144, 4096)


def test_sysctls_include_conntrack_keys_only_when_conntrack_is_on():
    desired = {"concerns": {"conntrack": True}, "sysctl": {"settings": {"-net.x": 1}},
               "conntrack": {"max": 5, "timeouts": {"tcp_timeout_established": 60}}}
    assert expect.sysctls(desired, 1, 1 << 30) == {"-net.x": 1, "net.netfilter.nf_conntrack_max": 5,
                                                    "net.netfilter.nf_conntrack_tcp_timeout_established": 60}
    desired["concerns"]["conntrack"] = False
    assert expect.sysctls(desired, 1, 1 << 30) == {"-net.x": 1}


def test_daemon_json_expectation_adds_the_seccomp_default():
    desired = {"concerns": {"seccomp": True}, "seccomp": {"name": "dw", "default": True},
               "docker": {"daemon": {"icc": False}, "passthrough": {"x": 1}}}
    assert expect.daemon_json(desired) == {"icc": False, "x": 1, "seccomp-profile": "/etc/docker/seccomp/dw.json"}
    desired["seccomp"]["default"] = False
    assert "seccomp-profile" not in expect.daemon_json(desired)


INSPECT = {"Name": "backend", "Driver": "bridge", "EnableIPv6": False, "Internal": False, "Attachable": False,
           "IPAM": {"Config": [{"Subnet": "fd00::/64"}, {"Subnet": "10.5.0.0/16", "Gateway": "10.5.0.1"}]},
           "Options": {"com.docker.network.driver.mtu": "1500"}, "Labels": {"team": "a"}}


def test_network_fields_are_read_from_docker_inspect():
    spec = {"subnet": "10.5.0.0/16", "gateway": "10.5.0.1", "mtu": 1500, "labels": {"team": "a"}, "icc": True}
    assert expect.network_mismatches("backend", spec, INSPECT) == []
    assert expect.network_mismatches("backend", {**spec, "mtu": 1450, "encrypted": True}, INSPECT) == [
        "backend.encrypted: want True, has False", "backend.mtu: want 1450, has 1500"]
    assert expect.network_mismatches("backend", spec, None) == ["backend: missing"]


def test_seccomp_profile_judged_against_the_data():
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
        {"names": ["bpf"], "action": "SCMP_ACT_ERRNO"}]}
    conf = {"deny_socket_families": [17], "deny_syscalls": ["bpf"]}
    assert expect.seccomp_mismatches(conf, profile) == []
    assert expect.seccomp_mismatches({"deny_socket_families": [2], "deny_syscalls": ["write"]}, profile) == [
        "socket family 2 is allowed", "syscall write is allowed"]
    unconditional = {**profile, "syscalls": profile["syscalls"] + [{"names": ["socket"], "action": "SCMP_ACT_ALLOW"}]}
    assert expect.seccomp_mismatches(conf, unconditional) == ["socket family 17 is allowed"]
    assert expect.seccomp_mismatches(conf, {**profile, "defaultAction": "SCMP_ACT_ALLOW"}) == [
        "defaultAction 'SCMP_ACT_ALLOW' (want deny)"]


def test_the_port_policy_is_tried_from_a_bounded_set_of_peers_covering_every_outcome():
    """At 500 hosts every peer trying every host would be 250,000 connections: each host is
    tried from its next peers by name, plus one peer for each expected outcome not yet seen."""
    from types import SimpleNamespace
    from dockwright.verify.test_networks import PEERS_PER_HOST, policy_peers
    hosts = [SimpleNamespace(name=f"h{i:03d}", data={"data_ip": f"10.0.{i // 200}.{i % 200 + 1}"}) for i in range(500)]
    rules = [{"port": 8080, "allow_from": ["10.0.2.0/24"]}]  # only h400.. are admitted
    me = hosts[10]
    chosen = policy_peers(me, [h for h in hosts if h is not me], rules)
    assert [h.name for h in chosen[:PEERS_PER_HOST]] == ["h011", "h012", "h013"]
    assert len(chosen) == PEERS_PER_HOST + 1 and chosen[-1].name == "h400"  # the admitted outcome too
    small = policy_peers(hosts[0], hosts[1:3], rules)
    assert [h.name for h in small] == ["h001", "h002"]  # a small run: every peer, as before
    last = policy_peers(hosts[499], hosts[:499], [])
    assert [h.name for h in last] == ["h000", "h001", "h002"]  # the ring wraps


def test_the_suite_connects_as_pyinfra_does():
    """User, port, key, ssh_config file, host-key policy, known_hosts and sudo from the host data;
    no user means ssh's own (config or local user), never root; @local and @docker hosts get
    testinfra's own backends."""
    from dockwright.verify.fleet import connection
    spec, opts = connection("web1", {"ssh_hostname": "10.0.0.5", "ssh_port": 2222, "ssh_user": "ops",
                                     "ssh_key": "/k", "ssh_config_file": "/cfg", "ssh_strict_host_key_checking": "accept-new",
                                     "ssh_known_hosts_file": "/kh", "_sudo": True})
    assert spec == "ssh://ops@10.0.0.5:2222" and opts["ssh_identity_file"] == "/k" and opts["ssh_config"] == "/cfg"
    assert "StrictHostKeyChecking=accept-new" in opts["ssh_extra_args"] and "UserKnownHostsFile=/kh" in opts["ssh_extra_args"]
    assert opts["sudo"] is True
    alias, opts = connection("web-alias", {"ssh_config_file": "/cfg"})
    assert alias == "ssh://web-alias" and "StrictHostKeyChecking" not in opts["ssh_extra_args"]  # ssh_config decides
    assert connection("@local", {})[0] == "local://"
    assert connection("@docker/ubuntu:24.04", {"_sudo": False})[0] == "docker://ubuntu:24.04"


class _Peer:
    """A peer for the cross-host checks: answers the reach check, or is lost (ssh failed)."""

    def __init__(self, name, addr, reached=None, lost=None):
        self.name, self.data, self.desired = name, {"data_ip": addr}, {"networks": {}, "concerns": {}}
        self._reached, self.lost = reached, lost

    def attempt(self, command):
        from types import SimpleNamespace
        if self.lost:
            return None
        return SimpleNamespace(rc=0, stdout="\n".join(f"open {p}" for p in self._reached), stderr="")


class _Target(_Peer):
    def __init__(self):
        super().__init__("lab1", "10.99.0.11")
        self.desired = {"concerns": {"networks": True},
                        "networks": {"port_policy": [{"port": 2375, "proto": "tcp", "deny_from": ["0.0.0.0/0"]}]}}

    def require_behaviour(self):
        pass

    def server(self):
        pass


def test_a_dead_peer_never_fails_a_healthy_hosts_port_policy_check(capsys):
    """lab3 is unreachable: lab1's check is judged by lab2 alone and passes, naming lab3; with
    every peer down it is skipped, naming them. lab3's own checks carry its failure."""
    import pytest

    from dockwright.verify.test_networks import test_port_policy_admits_exactly_whom_the_data_says as check
    dead = _Peer("lab3", "10.99.0.13", lost="ssh: connect to host 127.0.0.1 port 2203: Connection timed out")
    check(_Target(), [_Peer("lab2", "10.99.0.12", reached=[18080]), dead])
    assert "without unreachable peer(s): lab3 (ssh: connect" in capsys.readouterr().out
    with pytest.raises(pytest.skip.Exception, match="every peer that would try this host is unreachable: lab3"):
        check(_Target(), [dead])
    # The control: a live peer that reaches the denied port fails the check, naming it.
    with pytest.raises(AssertionError, match="port 2375: lab2"):
        check(_Target(), [_Peer("lab2", "10.99.0.12", reached=[18080, 2375]), dead])


def test_a_host_lost_over_real_ssh_fails_its_later_checks_at_once():
    """testinfra's ssh backend raises RuntimeError(result) on exit 255, and ssh ends its lines
    with CRLF there: both once hid a dead host, so each of its checks waited out its own
    connect timeout (a minute each) during a fix's verification."""
    import pytest
    from testinfra.backend.base import CommandResult

    from dockwright.verify.fleet import Target

    calls = []

    class DeadHost:
        def run(self, command):
            calls.append(command)
            from types import SimpleNamespace
            backend = SimpleNamespace(decode=lambda b: b.decode(), encoding="utf-8")
            raise RuntimeError(CommandResult(backend, 255, b"true", b"",
                                             b"Connection timed out during banner exchange\r\n"))
    t = Target("lab3", {}, {})
    t._conn = DeadHost()
    assert t.run("true").rc == 255 and t.lost == "Connection timed out during banner exchange"
    with pytest.raises(pytest.fail.Exception, match="lab3: unreachable, not checked"):
        t.run("true")
    assert len(calls) == 1  # the second check never waited on ssh
    assert t.attempt("true") is None
