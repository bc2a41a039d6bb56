"""The verification connects as pyinfra does: a host known only by an alias in an ssh_config
file (its address, port, user and key are there alone), with accept-new and a fresh known_hosts
file. pyinfra plans the host through the alias, and the verification suite checks it through
the same alias: both find the host, and the first connection records its key."""

import json
import subprocess
import sys

import pytest

from lab import config

from .conftest import NO_VERIFY, REPO, STANDALONE, run_watched, ssh

pytestmark = pytest.mark.usefixtures("converged")  # runnable alone: the lab converged first


@STANDALONE
def test_an_ssh_config_alias_with_accept_new_reaches_the_same_host_for_deploy_and_verification(tmp_path):
    state = json.loads(config.STATE_FILE.read_text())
    lab3 = state["hosts"]["lab3"]
    known = tmp_path / "known_hosts"
    (tmp_path / "ssh_config").write_text(
        "Host dw-alias\n"
        "  HostName 127.0.0.1\n"
        f"  Port {lab3['port']}\n"
        "  User root\n"
        f"  IdentityFile {state['key']}\n"
        f"  UserKnownHostsFile {known}\n")
    data = {"ssh_config_file": str(tmp_path / "ssh_config"), "ssh_strict_host_key_checking": "accept-new",
            "ssh_known_hosts_file": str(known), "data_ip": lab3["data_ip"]}
    inventory = tmp_path / "alias_inventory.py"
    inventory.write_text(f"standalone = [('dw-alias', {data!r})]\n")
    assert not known.exists()

    res = run_watched([sys.executable, "-m", "pyinfra", str(inventory), "deploy.py", "--dry", *NO_VERIFY], 900)
    print(res.stdout[-3000:], res.stderr[-2000:])
    assert res.returncode == 0, res.stderr[-2000:]
    assert known.exists() and "[127.0.0.1]:" + str(lab3["port"]) in known.read_text()  # accept-new recorded it

    known.unlink()  # the verification's own first connection, with accept-new again
    res = run_watched([sys.executable, "-m", "dockwright.verify", "-q", "-p", "no:cacheprovider",
                       "--inventory", str(inventory), "-k", "sysctl_live"], 900)
    print(res.stdout[-3000:], res.stderr[-2000:])
    assert res.returncode == 0 and "dw-alias: 1 passed, 0 failed" in res.stdout
    assert known.exists() and "[127.0.0.1]:" + str(lab3["port"]) in known.read_text()
    # The same machine: its hostname as the suite saw it is lab3's.
    assert ssh("lab3", "hostname").strip() == "lab3"
    assert subprocess.run(["ssh", "-F", str(tmp_path / "ssh_config"), "-o", "BatchMode=yes", "dw-alias", "hostname"],
                          capture_output=True, text=True, cwd=REPO, timeout=60).stdout.strip() == "lab3"
