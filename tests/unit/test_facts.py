"""Facts: the command each sends (one per concern) and how raw output becomes data."""

import json
import shutil
import subprocess

from dockwright.plans import conntrack as conntrack_plan, docker as docker_plan, sysctl as sysctl_plan
from dockwright import factcache

from .harness import FakeHost
from .helpers import executables
from dockwright.facts import engine as fengine
from dockwright.facts import kernel as fkernel
from dockwright.facts import networks as fnetworks
from dockwright.facts import profiles as fprofiles
from dockwright.plans import docker as docker_plans


def test_sysctl_fact_reads_all_keys_in_one_command():
    cmd = fkernel.SysctlState().command(keys=("net.core.somaxconn", "net.core.netdev_max_backlog"))
    assert cmd.count("awk ") == 1 and "net.core.somaxconn" in cmd and "netdev_max_backlog" in cmd
    assert "for k in" not in cmd  # no process per key


def test_sysctl_fact_live_values_are_the_kernels_own():
    """The command run here, in this machine's shell and awk, against its own /proc/sys: each
    value as the kernel file holds it (tabs as spaces), an absent or unreadable key missing."""
    import subprocess
    from pathlib import Path
    keys = ("net.core.somaxconn", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_rmem", "net.nope.absent")
    out = subprocess.run(["sh", "-c", fkernel.SysctlState().command(keys=keys)], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    state = fkernel.SysctlState().process(out)
    for key in keys[:3]:
        raw = Path("/proc/sys/" + key.replace(".", "/")).read_text().strip()
        assert state["live"][key] == fkernel.normalize(raw.replace("\t", " ")), key
    assert state["missing"] == ["net.nope.absent"]


def test_sysctl_fact_boot_order_follows_systemd():
    out = [
        "live net.core.somaxconn 4096",
        "live net.ipv4.tcp_rmem 4096 131072  6291456",
        "missing net.core.nosuch",
        "file /etc/sysctl.d/90-dockwright.conf",
        "file /etc/sysctl.d/99-zz-override.conf",
        "file /run/sysctl.d/95-run.conf",
        "file /usr/lib/sysctl.d/50-default.conf",
        "file /usr/lib/sysctl.d/99-zz-override.conf",  # masked by /etc's file of the same name
        "file /lib/sysctl.d/50-default.conf",  # same file through the /lib symlink
        "file /etc/sysctl.conf",
        "/etc/sysctl.d/90-dockwright.conf:net.core.somaxconn = 65535",
        "/etc/sysctl.d/99-zz-override.conf:net.core.somaxconn=1024",
        "/usr/lib/sysctl.d/99-zz-override.conf:net.core.somaxconn = 1",
        "/run/sysctl.d/95-run.conf:-net/core/somaxconn = 2048",
        "/usr/lib/sysctl.d/50-default.conf:net.core.somaxconn = 3",
        "/lib/sysctl.d/50-default.conf:net.core.somaxconn = 3",
        "/etc/sysctl.conf:kernel.panic = 10",
    ]
    state = fkernel.SysctlState().process(out)
    assert state["live"] == {"net.core.somaxconn": "4096", "net.ipv4.tcp_rmem": "4096 131072 6291456"}
    assert state["missing"] == ["net.core.nosuch"]
    assert state["paths"] == ["/usr/lib/sysctl.d/50-default.conf", "/etc/sysctl.d/90-dockwright.conf",
                              "/run/sysctl.d/95-run.conf", "/etc/sysctl.d/99-zz-override.conf",
                              "/etc/sysctl.conf"]
    eff = sysctl_plan.boot_effective(state, ["net.core.somaxconn", "kernel.panic"])
    assert eff == {"net.core.somaxconn": ("1024", "/etc/sysctl.d/99-zz-override.conf"),
                   "kernel.panic": ("10", "/etc/sysctl.conf")}
    assert sysctl_plan.overrides(state, {"net.core.somaxconn": 65535}, "/etc/sysctl.d/90-dockwright.conf") == [
        ("net.core.somaxconn", "/etc/sysctl.d/99-zz-override.conf", "1024", "65535")]


def test_conntrack_fact_and_sizing():
    state = fkernel.ConntrackState().process([
        "cores 2", "mem_kib 24683992", "loaded", "hashsize 65536",
        "modules-load nf_conntrack", "modprobe options nf_conntrack hashsize=65536"])
    assert state["cores"] == 2 and state["loaded"] and state["hashsize"] == 65536
    assert state["mem_bytes"] == 24683992 * 1024  # exact: the kernel's KiB, not awk's 2.52765e+10
    assert state["modules_load"] == "nf_conntrack\n"
    assert conntrack_plan.sizing({"max": 262144, "buckets": "auto"}, 2, 1 << 30) == (262144, 65536)
    assert conntrack_plan.sizing({"max": 262144, "buckets": 16384}, 2, 1 << 30) == (262144, 16384)
    # auto: kube-proxy's floor on a small host, per-core on a big one, RAM cap on a tiny one
    assert conntrack_plan.sizing({"max": "auto", "buckets": "auto"}, 2, 64 << 30) == (131072, 32768)
    assert conntrack_plan.sizing({"max": "auto", "buckets": "auto"}, 16, 64 << 30) == (524288, 131072)
    assert conntrack_plan.sizing({"max": "auto", "buckets": "auto"}, 2, 256 << 20) == (52428, 13107)


def test_conntrack_sysctls():
    assert conntrack_plan.sysctl_settings({"timeouts": {"udp_timeout": 30}}, 1000) == {
        "net.netfilter.nf_conntrack_max": 1000, "net.netfilter.nf_conntrack_udp_timeout": 30}


def test_docker_engine_fact():
    daemon = '{\n  "icc": false\n}\n'
    import base64
    # As dpkg-query and `systemctl show` print them (systemd orders the properties itself).
    out = ["@@package", "docker-ce  deinstall ok config-files", "docker.io 26.1.5+dfsg1-9 install ok installed",
           "@@version", "@@unit",
           "ExecStart={ path=/usr/sbin/dockerd ; argv[]=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock "
           "$DOCKER_OPTS ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }",
           "ActiveState=active", "UnitFileState=enabled",
           "@@docker_opts", '"--dns 8.8.8.8"', "@@swarm", "inactive",
           "@@daemon_json", base64.b64encode(daemon.encode()).decode(),
           "@@os", "ID=ubuntu", 'VERSION_ID="24.04"', "ID_LIKE=debian"]
    state = fengine.DockerEngine().process(out)
    assert state["version"] == (26, 1, 5) and state["enabled"] and state["active"]
    assert state["package"] == "docker.io"  # the one installed, not the one removed
    stopped = fengine.DockerEngine().process(["@@unit", "UnitFileState=disabled", "ActiveState=inactive", "ExecStart="])
    assert not stopped["enabled"] and not stopped["active"] and stopped["exec_start"] == ""
    assert state["os"] == {"ID": "ubuntu", "VERSION_ID": "24.04", "ID_LIKE": "debian"}
    assert state["daemon_json"] == daemon and "swarm" not in state  # docker info: SwarmState only
    flags = docker_plan.unit_flags(state["exec_start"], state["docker_opts"])
    assert flags == {"hosts": "-H", "containerd": "--containerd=/run/containerd/containerd.sock",
                     "dns": "--dns"}


def test_docker_engine_takes_the_command_line_systemd_resolved():
    """A drop-in that resets ExecStart= and sets its own: systemd shows only the effective line,
    which is the one whose flags count (nftables there is refused like in the unit itself)."""
    shown = ("{ path=/usr/bin/dockerd ; argv[]=/usr/bin/dockerd --firewall-backend nftables -H fd:// ; "
             "ignore_errors=no ; start_time=[Sun 2026-12-06 04:53:19 UTC] ; stop_time=[n/a] ; pid=812 ; "
             "code=(null) ; status=0/0 }")
    state = fengine.DockerEngine().process(["@@package", "docker-ce 5:28.5.1-1 install ok installed", "@@unit",
                                            "ActiveState=active", "ExecStart=" + shown])
    assert state["exec_start"] == "/usr/bin/dockerd --firewall-backend nftables -H fd://"
    assert docker_plan.unit_flags(state["exec_start"], "")["firewall-backend"] == "--firewall-backend"
    assert "systemctl show -p UnitFileState -p ActiveState -p ExecStart docker.service" in fengine.DockerEngine().command()
    assert fengine.DockerEngine().process(["@@package", "@@unit"])["exec_start"] == ""


def test_docker_engine_version_comes_from_the_package_when_there_is_one():
    for line, version in (("docker.io 20.10.24+dfsg1-1+deb12u1", (20, 10, 24)),
                          ("docker-ce 5:27.3.1-1~debian.12~bookworm", (27, 3, 1))):
        state = fengine.DockerEngine().process(["@@package", line + " install ok installed", "@@version", "@@daemon_json"])
        assert (state["package"], state["version"]) == (line.split()[0], version)
    # No package: the daemon binary says (the command runs `dockerd --version` only then).
    state = fengine.DockerEngine().process(["@@package", "docker.io 26.1.5 deinstall ok config-files", "@@version",
                                            "Docker version 24.0.7, build afdd53b"])
    assert (state["package"], state["version"]) == (None, (24, 0, 7))



def _engine_read(tmp_path, dpkg_lines: list[str]) -> list[str]:
    """The engine read's package and version parts run by sh, with dpkg-query and dockerd
    stand-ins on PATH (dockerd records that it was started), and dpkg's file lists of the
    packages that are unpacked (not those that left only their configuration files)."""
    bin_ = executables(tmp_path / "bin", {
        "dpkg-query": "#!/bin/sh\nprintf '%s\\n' " + " ".join(f"'{x}'" for x in dpkg_lines) + "\n",
        "dockerd": f"#!/bin/sh\ntouch {tmp_path}/dockerd-ran; echo 'Docker version 24.0.7, build x'\n"})
    info = tmp_path / "info"
    shutil.rmtree(info, ignore_errors=True)
    info.mkdir()
    for line in dpkg_lines:
        if not line.endswith(" config-files"):
            (info / f"{line.split()[0]}.list").write_text("/.\n")
    part = fengine.DockerEngine().command().split("echo @@unit;", 1)[0].replace("/var/lib/dpkg/info/", f"{info}/")
    out = subprocess.run(["sh", "-c", part], capture_output=True, text=True, env={"PATH": f"{bin_}:/usr/bin:/bin"})
    return out.stdout.splitlines()


def test_docker_engine_starts_dockerd_for_its_version_only_without_an_installed_engine_package(tmp_path):
    """An installed or held engine package gives the version; dockerd (slow) runs only when
    neither engine package is installed, even when containerd.io is."""
    for lines, runs in ((["docker.io 20.10.24 install ok installed"], False),
                        (["containerd.io 1.7.1 install ok installed", "docker-ce 5:28.5.1-1 hold ok installed"], False),
                        (["containerd.io 1.7.1 install ok installed", "docker.io 26.1 deinstall ok config-files"], True)):
        (tmp_path / "dockerd-ran").unlink(missing_ok=True)
        out = _engine_read(tmp_path, lines)
        assert (tmp_path / "dockerd-ran").exists() == runs, lines
        state = fengine.DockerEngine().process(out)
        assert state["version"] == ((24, 0, 7) if runs else fengine.parse_version(lines[-1].split()[1]))


def test_docker_engine_reads_holds_versions_and_its_apt_files():
    state = fengine.DockerEngine().process([
        "@@package", "containerd.io 1.7.1-1 hold ok installed", "docker-ce 5:28.5.1-1~debian.12~bookworm hold ok installed",
        "docker-ce-cli 5:28.5.1-1~debian.12~bookworm install ok installed", "docker.io 20.10 deinstall ok config-files",
        "@@apt_key", "present", "|-----BEGIN PGP PUBLIC KEY BLOCK-----", "|", "|x",
        # A line of the file that looks like a marker stays inside it.
        "@@apt_source", "present", "|@@os", "|Types: deb",
        "@@apt_pin", "@@os", "ID=debian", "VERSION_CODENAME=bookworm"])
    assert state["package"] == "docker-ce" and state["package_version"] == "5:28.5.1-1~debian.12~bookworm"
    assert state["held"] == ["containerd.io", "docker-ce"]
    assert set(state["packages"]) == {"containerd.io", "docker-ce", "docker-ce-cli"}
    assert state["apt"] == {"apt_key": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nx\n",
                            "apt_source": "@@os\nTypes: deb\n", "apt_pin": None}
    assert state["os"] == {"ID": "debian", "VERSION_CODENAME": "bookworm"}


def test_docker_engine_reads_apt_files_whole_with_the_shells_own_read(tmp_path):
    f = tmp_path / "src"
    f.write_text("Types: deb\n\n@@package\nlast line without newline")
    part = fengine.DockerEngine().command().split("echo @@apt_source;", 1)[1].split("echo @@apt_pin;", 1)[0]
    out = subprocess.run(["sh", "-c", "echo @@apt_source; " + part.replace(fengine.APT_SOURCE, str(f))],
                         capture_output=True, text=True).stdout.splitlines()
    assert fengine.DockerEngine().process(out)["apt"]["apt_source"] == "Types: deb\n\n@@package\nlast line without newline\n"
    f.unlink()
    out = subprocess.run(["sh", "-c", "echo @@apt_source; " + part.replace(fengine.APT_SOURCE, str(f))],
                         capture_output=True, text=True).stdout.splitlines()
    assert fengine.DockerEngine().process(out)["apt"]["apt_source"] is None


def test_docker_engine_reads_its_files_with_the_shells_own_read(tmp_path):
    """DOCKER_OPTS and os-release, read without sed or grep: the lines the process takes."""
    (tmp_path / "docker").write_text('# DOCKER_OPTS="--old"\n  DOCKER_OPTS="--dns 8.8.8.8"\nOTHER=1')
    (tmp_path / "os").write_text('PRETTY_NAME="Debian"\nID=debian\nVERSION_ID="12"\nID_LIKE_X=1\nVERSION_CODENAME=x')
    command = fengine.DockerEngine().command().replace("/etc/default/docker", str(tmp_path / "docker")) \
        .replace("/etc/os-release", str(tmp_path / "os"))
    command = command.split("echo @@docker_opts;", 1)[1].replace("echo @@rollout;", "exit 0; ")
    out = subprocess.run(["sh", "-c", "echo @@docker_opts;" + command], capture_output=True, text=True).stdout
    assert out.splitlines() == ["@@docker_opts", '"--dns 8.8.8.8"']
    os_part = fengine.DockerEngine().command().split("echo @@os;", 1)[1].replace("/etc/os-release", str(tmp_path / "os"))
    out = subprocess.run(["sh", "-c", "echo @@os;" + os_part], capture_output=True, text=True).stdout
    assert fengine.DockerEngine().process(out.splitlines())["os"] == {"ID": "debian", "VERSION_ID": "12",
                                                                      "VERSION_CODENAME": "x"}


def test_docker_engine_fact_without_daemon_json():
    state = fengine.DockerEngine().process(["@@package", "@@daemon_json"])
    assert state["daemon_json"] is None and state["package"] is None


def test_daemon_render_is_stable_and_adds_seccomp_default():
    state = {"concerns": {"seccomp": True}, "seccomp": {"name": "dw", "default": True},
             "docker": {"daemon": {"log-level": "info", "icc": False}, "passthrough": {"x-y": 1}}}
    text = docker_plans.render(state)
    assert text == docker_plans.render(state) and text.endswith("}\n")
    data = json.loads(text)
    assert data == {"icc": False, "log-level": "info", "seccomp-profile": "/etc/docker/seccomp/dw.json",
                    "x-y": 1}
    assert list(data) == sorted(data)


def test_apparmor_fact():
    state = fprofiles.AppArmorState().process(["enabled Y", "parser", "sha256 " + "ab" * 32 + "  -",
                                              "loaded dockwright-default (enforce)"])
    assert state == {"enabled": True, "parser": True, "file_sha256": "ab" * 32, "loaded": "enforce", "foreign": None}
    # A hash that failed midway (its line cut short) is no hash: the file is written again.
    assert fprofiles.AppArmorState().process(["enabled Y", "sha256 "])["file_sha256"] is None
    held = fprofiles.AppArmorState().process(["enabled Y", "parser", "foreign directory"])
    assert held["foreign"] == "directory"


def test_sha256_line_prints_the_hash_in_one_process_and_nothing_without_a_file(tmp_path):
    import hashlib

    from dockwright import remote

    from .test_hoststate import run_locally
    f = tmp_path / "unit file"
    f.write_bytes(b"[Unit]\nDescription=x\n\x00no final newline")
    rc, lines = run_locally(f"echo start; {remote.sha256_line(str(f), 'sha256 ')}; echo end")
    assert rc == 0 and lines[0] == "start" and lines[2] == "end"
    assert remote.hash_of(lines[1][len("sha256 "):]) == hashlib.sha256(f.read_bytes()).hexdigest()
    rc, lines = run_locally(f"echo start; {remote.sha256_line(str(tmp_path / 'none'))}; echo end")
    assert lines == ["start", "end"]
    fact = fprofiles.Sha256File()
    assert fact.process(run_locally(fact.command(str(f)))[1]) == hashlib.sha256(f.read_bytes()).hexdigest()


def test_host_routes_fact_skips_default_and_docker_bridges():
    # /proc/net/route as a VM's kernel lists it (addresses in hex, little-endian).
    routes = fnetworks.HostRoutes().process([
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
        "eth0\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\t0\t0\t0",
        "eth0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
        "eth1\t0000630A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
        "docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0",
        "br-3f2a1b0c9d8e\t0000050A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0",
        "tun0\t0107A8C0\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0",
        "eth0\tgarbage\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
    ])
    assert routes == [("10.0.2.0/24", "eth0"), ("10.99.0.0/24", "eth1"), ("192.168.7.1/32", "tun0")]


def test_host_routes_fact_reads_the_kernel_table_and_fails_without_it():
    from .test_hoststate import run_locally
    rc, lines = run_locally(fnetworks.HostRoutes.command)
    assert rc == 0 and lines[0].startswith("Iface")
    # Against `ip` where this machine has it: the same routes.
    import shutil
    import subprocess
    if shutil.which("ip"):
        shown = subprocess.run(["ip", "-4", "-o", "route", "show", "table", "main"], capture_output=True, text=True).stdout
        expected = sorted(w.split()[0] if "/" in w.split()[0] else w.split()[0] + "/32"
                          for w in shown.splitlines() if w and not w.startswith(("default", "blackhole", "unreachable", "prohibit"))
                          and not w.split()[w.split().index("dev") + 1].startswith(("docker0", "br-", "docker_gwbridge")))
        assert sorted(d for d, _ in fnetworks.HostRoutes().process(lines)) == expected
    rc, _ = run_locally(fnetworks.HostRoutes.command.replace("/proc/net/route", "/proc/net/no-such-table"))
    assert rc != 0  # a table that cannot be read is a failed read, never no routes


def test_fact_cache_reads_each_fact_once_per_host_and_arguments():
    from dockwright import factcache

    from .harness import FakeHost
    calls = []
    fake = FakeHost({"SysctlState": lambda **kw: calls.append(kw) or {"keys": kw.get("keys")}})
    a = factcache.get(fake, fkernel.SysctlState, keys=("a",))
    b = factcache.get(fake, fkernel.SysctlState, keys=("a",))
    c = factcache.get(fake, fkernel.SysctlState, keys=("b",))
    assert a is b and c["keys"] == ("b",) and len(calls) == 2


def test_sysctl_fact_mask_hides_the_vendor_file_and_links_are_named():
    out = [
        "live net.core.somaxconn 65535",
        "file /etc/sysctl.d/90-dockwright.conf",
        "mask /etc/sysctl.d/99-vendor.conf",           # -> /dev/null: systemd's mask
        "link /etc/sysctl.d/98-linked.conf /opt/x.conf",  # read through, never written through
        "file /usr/lib/sysctl.d/99-vendor.conf",
        "/etc/sysctl.d/90-dockwright.conf:net.core.somaxconn = 65535",
        "/etc/sysctl.d/98-linked.conf:net.core.somaxconn = 2048",
        "/usr/lib/sysctl.d/99-vendor.conf:net.core.somaxconn = 4096",
    ]
    state = fkernel.SysctlState().process(out)
    assert state["paths"] == ["/etc/sysctl.d/90-dockwright.conf", "/etc/sysctl.d/98-linked.conf",
                              "/etc/sysctl.d/99-vendor.conf"]
    assert state["links"] == {"/etc/sysctl.d/98-linked.conf": "/opt/x.conf"}
    # The masked vendor file sets nothing at boot; the link's line counts (systemd reads it).
    assert sysctl_plan.boot_effective(state, ["net.core.somaxconn"]) == \
        {"net.core.somaxconn": ("2048", "/etc/sysctl.d/98-linked.conf")}


def test_fact_cache_is_per_real_host_behind_pyinfra_host_proxy():
    """Operations pass `pyinfra.host`, one proxy for every host: the cache must key on the host
    behind it, or one host's facts would serve another."""
    from pyinfra.context import ctx_host, host as proxy
    a = FakeHost({"SysctlState": {"who": "a"}}, name="a")
    b = FakeHost({"SysctlState": {"who": "b"}}, name="b")
    with ctx_host.use(a):
        assert factcache.get(proxy, fkernel.SysctlState, keys=("k",)) == {"who": "a"}
    with ctx_host.use(b):
        assert factcache.get(proxy, fkernel.SysctlState, keys=("k",)) == {"who": "b"}


def test_a_docker_read_that_fails_is_down_never_an_empty_answer():
    """dockerd stopped, hung or unreachable: what the docker facts answer (seen on the lab:
    Engine 26's `docker info` exits 0 with an empty swarm section when the daemon is stopped;
    Engine 20.10's exits 1)."""
    from dockwright import dockerd
    stopped = "@@dockerd-down error [Cannot connect to the Docker daemon at unix:///var/run/docker.sock.]"
    assert fengine.SwarmState().process([stopped]) == \
        dockerd.Down("Cannot connect to the Docker daemon at unix:///var/run/docker.sock.")
    assert fengine.SwarmState().process(["@@dockerd-down 1"]) == dockerd.Down("docker exited 1")
    assert fnetworks.DockerNetworks().process(["@@dockerd-down 124"]) == dockerd.Down("timed out after 60 s")
    # Control: a daemon that answers "no swarm" is inactive, not down.
    assert fengine.SwarmState().process(['{"LocalNodeState":"inactive"}'])["state"] == "inactive"
    assert fnetworks.DockerNetworks().process(["[]"]) == {}
    # Every docker call in those reads is bounded and marks its failure.
    for fact in (fengine.SwarmState(), fnetworks.DockerNetworks()):
        assert "timeout -k 5 60 docker" in fact.command() and "|| echo @@dockerd-down $?" in fact.command()


def test_overlay_modules_not_loaded_are_looked_up_in_the_kernels_module_lists(tmp_path):
    mods = tmp_path / "lib/modules/6.12.0"
    mods.mkdir(parents=True)
    (mods / "modules.builtin").write_text("kernel/net/xfrm/xfrm_algo.ko\n")
    (mods / "modules.dep").write_text("kernel/drivers/net/vxlan/vxlan.ko.xz: kernel/net/ipv6/ip6_udp_tunnel.ko.xz\n"
                                      "kernel/net/ipv4/esp4_offload.ko.zst: kernel/net/ipv4/esp4.ko.zst\n")
    (tmp_path / "osrelease").write_text("6.12.0\n")
    (tmp_path / "sys/xfrm_user").mkdir(parents=True)  # loaded: not looked up
    command = fkernel.OverlayModules().command()
    command = (command.replace("/lib/modules/$r", str(mods)).replace("/sys/module/", f"{tmp_path}/sys/")
               .replace("/proc/sys/kernel/osrelease", str(tmp_path / "osrelease")))
    out = subprocess.run(["sh", "-c", command], capture_output=True, text=True).stdout.splitlines()
    # esp4 appears only as another module's dependency: it is not a module of this kernel.
    assert fkernel.OverlayModules().process(out) == ["esp4"]
    (mods / "modules.dep").write_text("kernel/net/ipv4/esp4.ko.zst:\n")
    out = subprocess.run(["sh", "-c", command], capture_output=True, text=True).stdout.splitlines()
    assert fkernel.OverlayModules().process(out) == ["vxlan"]


def test_the_port_policy_units_enablement_is_the_link_its_install_section_makes():
    from dockwright.facts import firewall as ffirewall
    from dockwright.operations.firewall import UNIT_TEXT
    wanted_by = next(line.split("=", 1)[1] for line in UNIT_TEXT.splitlines() if line.startswith("WantedBy="))
    assert ffirewall.WANTS_LINK == f"/etc/systemd/system/{wanted_by}.wants/{ffirewall.UNIT_NAME}"
