"""The verification suite's own readings of a host (not the deploy's): systemd's sysctl.d
listing judged the way systemd-sysctl applies it."""

from tests.verify.test_kernel import boot_value, boot_values

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
