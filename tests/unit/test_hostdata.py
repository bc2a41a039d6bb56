"""A host's data beyond the concerns: names nothing reads are errors naming where they are
written, with "did you mean"; connection data is validated like any other data."""

import pytest

from dockwright import hostdata


def test_a_misspelled_top_level_name_is_an_error_naming_the_file_and_the_closest_name():
    layers = [("h1", "all", {"conntrak": {"max": 1}, "concerns": {}, "sysctl": {}}),
              ("h2", "all", {"conntrak": {"max": 1}}),  # the same file: said once
              ("h1", "group prod", {"sysctls": {"settings": {}}, "docker": {}}),
              ("h1", "host h1", {"ssh_port": 22, "_sudo": True, "data_ip": "10.0.0.1", "swarn": {}}),
              ("h1", "override", {"verfy": {"after_deploy": False}})]
    found = {(p.host, p.key): p for p in hostdata.unknown_names(layers)}
    assert set(found) == {("group_data/all.py", "conntrak"), ("group_data/prod.py", "sysctls"), ("h1", "swarn"),
                          ("--data", "verfy")}
    assert "did you mean 'conntrack'?" in found[("group_data/all.py", "conntrak")].why
    assert "did you mean 'sysctl'?" in found[("group_data/prod.py", "sysctls")].why
    assert "did you mean 'swarm'?" in found[("h1", "swarn")].why
    assert "the inventory's host data" in found[("h1", "swarn")].why
    assert found[("group_data/all.py", "conntrak")].value == "<dict>"  # the value is never shown
    # Everything known: the concerns, pyinfra's own, dockwright's documented names.
    assert hostdata.unknown_names([("h1", "host h1", {"ssh_key": "k", "winrm_port": 1, "_su_user": "x",
                                                      "maintenance": {}, "environment_groups": []})]) == []


GOOD = {"ssh_hostname": "web-1.example.org", "ssh_port": 22, "ssh_user": "deploy", "ssh_key": "~/.ssh/id_ed25519",
        "ssh_known_hosts_file": "/etc/ssh/ssh_known_hosts", "ssh_strict_host_key_checking": "yes",
        "data_ip": "10.99.0.11"}


def test_good_connection_data_passes():
    assert hostdata.connection_problems("h1", GOOD) == []
    assert hostdata.connection_problems("h1", dict(GOOD, ssh_hostname="2001:db8::1", data_ip="fd00::11")) == []


@pytest.mark.parametrize("key,value", [
    ("ssh_known_hosts_file", "/etc/ssh/ssh_known_hosts;id>/tmp/x #"),
    ("ssh_key", "/root/key $(touch /tmp/x)"),
    ("ssh_config_file", "a\nb"),
    ("ssh_hostname", "fe80::1%x';touch${IFS}PWN;'"),
    ("ssh_hostname", "web1;reboot"),
    ("data_ip", "fe80::1%eth0"),
    ("data_ip", "fe80::1%x';touch${IFS}PWN;'"),
    ("data_ip", "10.0.0.1 -P INPUT ACCEPT"),
    ("data_ip", "010.0.0.1"),
    ("ssh_port", "22; id"),
    ("ssh_port", 70000),
    ("ssh_user", "root -o ProxyCommand=id"),
    ("ssh_strict_host_key_checking", "maybe"),
])
def test_hostile_or_malformed_connection_data_is_an_error_naming_host_key_and_value(key, value):
    found = hostdata.connection_problems("h1", dict(GOOD, **{key: value}))
    assert [(p.host, p.key, p.value) for p in found] == [("h1", key, value)]


def test_a_password_is_never_shown_in_the_error():
    found = hostdata.connection_problems("h1", dict(GOOD, ssh_password=12345))
    assert found and "12345" not in str(found[0])


def test_the_verifications_ssh_options_are_quoted_for_testinfras_shell():
    """testinfra pastes ssh_extra_args into a shell command: each option is one word."""
    import shlex

    from dockwright.verify import fleet
    _, options = fleet.connection("h1", dict(GOOD, ssh_known_hosts_file="/tmp/k h"))
    words = shlex.split(options["ssh_extra_args"])
    assert "UserKnownHostsFile=/tmp/k h" in words
