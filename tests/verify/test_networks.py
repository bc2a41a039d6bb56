"""Bridge networks field by field, name resolution, and Docker's iptables chains."""

import pytest

from operations import model, networks


@pytest.fixture
def bridges(target):
    if not model.enabled(target.desired, "networks"):
        pytest.skip("networks concern off for this host")
    return target.desired["networks"]["bridges"]


def test_bridges_match_data_field_by_field(target, bridges):
    actual = target.fact(networks.DockerNetworks)
    wrong = []
    for name, spec in sorted(bridges.items()):
        if name not in actual:
            wrong.append(f"{name}: missing")
            continue
        wrong += [f"{name}.{f}: want {w!r}, has {h!r}" for f, w, h in networks.differences(spec, actual[name])]
        if actual[name]["driver"] != "bridge":
            wrong.append(f"{name}.driver: {actual[name]['driver']}")
    assert not wrong, "; ".join(wrong)


def test_containers_resolve_each_other_on_bridges(target, bridges):
    image = target.desired["verify"]["image"]
    for name in sorted(bridges):
        peer = f"dw-verify-{name}-peer"
        target.run(f"docker rm -f {peer} >/dev/null 2>&1")
        target.out(f"docker run -d --pull never --name {peer} --network {name} {image} sleep 120")
        try:
            _, out = target.container(f"--network {name}",
                                      f"grep nameserver /etc/resolv.conf; nslookup {peer} 127.0.0.11")
            assert "nameserver 127.0.0.11" in out, out
            ip = target.out(f"docker inspect -f '{{{{(index .NetworkSettings.Networks \"{name}\").IPAddress}}}}' {peer}").strip()
            assert ip and ip in out, f"{peer} ({ip}) not resolved: {out}"
        finally:
            target.run(f"docker rm -f {peer} >/dev/null 2>&1")


def test_docker_iptables_chains(target, bridges):
    daemon = target.desired["docker"]["daemon"]
    if daemon.get("iptables") is False:
        pytest.skip("data turns Docker's iptables management off")
    filt = target.out("iptables -S")
    nat = target.out("iptables -t nat -S POSTROUTING")
    assert "-N DOCKER" in filt and "-N DOCKER-USER" in filt, "DOCKER / DOCKER-USER chains missing"
    assert "-j DOCKER-USER" in filt, "FORWARD does not jump to DOCKER-USER"
    for name, spec in sorted(bridges.items()):
        assert f"-s {spec['subnet']} " in nat and "MASQUERADE" in nat, \
            f"no MASQUERADE for {name} ({spec['subnet']})"
