"""The engine from a vendor's apt repository, as most Docker hosts get Docker CE, on lab3: the
source in deb822 form signed by its own key, the version pinned and held, an upgrade rolled out
with a health gate, an upgrade whose dockerd does not start rolled back to the version before
and not tried again, and the way back to the distribution's packages.

The VMs reach nothing outside, so the repository is a local one the controller signs and serves
on the data network (lab/aptrepo.py): Debian's own docker.io at its archive version, the same
files as ``+dw1`` (an upgrade that works) and ``+dw2`` whose dockerd exits at once (the fault).
"""

import json

import pytest

from lab import aptrepo, peer

from .conftest import REPO, NO_VERIFY, STANDALONE, changed_ops, drift, probe_image, pyinfra, ssh, verify

pytestmark = pytest.mark.usefixtures("converged")  # runnable alone: the lab converged first

ADDR, PORT = "10.99.0.2", 8780
REPORT = REPO / "reports" / "drift-engine-repository.json"
STATE = ("dpkg-query -W -f='${Version} ${Status}\\n' docker.io; echo held $(apt-mark showhold); "
         "systemctl is-active docker; systemctl show docker -p ExecMainStartTimestampMonotonic --value; docker inspect -f '{{.State.Running}} {{.State.StartedAt}}' dw-pkg-always; "
         "ls /etc/apt/keyrings/dockwright-docker.asc /etc/apt/sources.list.d/dockwright-docker.sources "
         "/etc/apt/preferences.d/dockwright-docker 2>/dev/null | wc -l; "
         "sed -n 's/^version=/failed /p; s/^reason=/reason /p' /var/lib/dockwright/package.failed 2>/dev/null; true")
CLEAN = ("docker rm -f dw-pkg-always >/dev/null 2>&1; rm -f /var/lib/dockwright/package.failed; "
         "apt-mark unhold docker.io >/dev/null 2>&1; true")


def data(repo: aptrepo.Repo, url: str, version: str) -> dict:
    return {"lab3": {"verify": {"after_deploy": False}, "docker": {
        "source": "repository", "version": version,
        "repository": {"url": url, "suite": aptrepo.SUITE, "components": [aptrepo.COMPONENT], "key": str(repo.key)}}}}


def host() -> dict:
    lines = ssh("lab3", STATE).splitlines()
    version, *status = lines[0].split()
    failed = [x.split()[1] for x in lines if x.startswith("failed ")]
    reason = [x.split(" ", 1)[1] for x in lines if x.startswith("reason ")]
    return {"reason": reason[0] if reason else None, "version": version, "held": lines[1].split()[1:],
            "status": " ".join(status), "docker": lines[2], "dockerd_started": lines[3],
            "container": lines[4].split()[0], "started": lines[4].split()[1], "apt_files": int(lines[5]),
            "failed": failed[0] if failed else None}


@STANDALONE
def test_engine_from_a_signed_repository_pinned_held_upgraded_and_rolled_back():
    repo = aptrepo.build()
    base, good, broken = repo.versions
    image = probe_image("lab3")
    ssh("lab3", CLEAN)
    try:
        ssh("lab3", f"docker run -d --pull never --restart always --name dw-pkg-always {image} sleep >/dev/null")
        with peer.joined((ADDR,)), aptrepo.served(repo, ADDR, PORT) as url:
            if host()["version"] != base:  # a lab that ran this before: back to the archive's version first
                assert pyinfra("--limit", "lab3", *NO_VERIFY, host_data=data(repo, url, base)).returncode == 0
            before = host()
            assert before["version"] == base

            # The source, its key and the pin are set up, and the upgrade is a rollout: dockerd
            # restarted on the new binary, healthy, and the container kept running (lab3 has
            # live-restore on).
            res = pyinfra("--limit", "lab3", *NO_VERIFY, host_data=data(repo, url, good))
            assert res.returncode == 0
            after = host()
            assert (after["version"], after["held"], after["docker"], after["container"], after["apt_files"]) == \
                (good, ["docker.io"], "active", "true", 3)
            assert after["dockerd_started"] != before["dockerd_started"]  # restarted on the new binary
            assert after["started"] == before["started"]  # live-restore kept it running
            # apt's own answers agree: the repository, signed-by its key, the pinned candidate, the hold.
            res = verify("--limit", "lab3", "-k", "engine_package", host_data=data(repo, url, good))
            assert res.returncode == 0 and "1 passed" in res.stdout
            # Idempotent: a second run changes nothing and restarts nothing.
            res = pyinfra("--limit", "lab3", *NO_VERIFY, host_data=data(repo, url, good))
            assert res.returncode == 0 and changed_ops(res) == []
            assert host()["dockerd_started"] == after["dockerd_started"]

            # The fault: an upgrade whose dockerd exits at once. The host fails; the version
            # before is back, healthy, held; the version is remembered as rolled back.
            res = pyinfra("--limit", "lab3", *NO_VERIFY, host_data=data(repo, url, broken))
            assert res.returncode != 0
            rolled = host()
            assert rolled["reason"] == f"dockerd failed to start on docker.io {broken}"
            assert (rolled["version"], rolled["held"], rolled["docker"], rolled["container"], rolled["failed"]) == \
                (good, ["docker.io"], "active", "true", broken)
            # ... and not tried again: refused before any change, naming the version, by the deploy
            # and by drift.py (its report says why the host is not clean).
            res = pyinfra("--limit", "lab3", *NO_VERIFY, host_data=data(repo, url, broken))
            assert res.returncode != 0
            assert host()["dockerd_started"] == rolled["dockerd_started"]
            res = drift("--limit", "lab3", "--json", str(REPORT), host_data=data(repo, url, broken))
            report = json.loads(REPORT.read_text())
            assert res.returncode != 0 and report["coverage"]["failed"] == {"lab3": report["failed"]["lab3"]}
            assert f"docker.io {broken} was rolled back" in report["failed"]["lab3"]
            assert "not tried again" in report["failed"]["lab3"]

        # Back to the distribution's packages: dockwright's apt files go, the hold with the pin;
        # the installed engine is left as it is (no downgrade nobody asked for).
        res = pyinfra("--limit", "lab3", *NO_VERIFY)
        assert res.returncode == 0
        back = host()
        assert (back["version"], back["held"], back["apt_files"], back["docker"]) == (good, [], 0, "active")
        assert json.loads(ssh("lab3", "docker info --format '{{json .ServerVersion}}'")).startswith("20.10.24")
    finally:
        ssh("lab3", CLEAN, check=False)
