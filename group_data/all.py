"""Fleet-wide defaults for every concern dockwright manages.

Group files (group_data/<group>.py) and host data override these. Merge rule: dicts merge key by
key at every depth, anything else (lists, numbers, strings) is replaced whole. Order, later wins:
all -> the environment groups below (the inventory files' own groups) -> the host's other groups,
in inventory order -> host data. See README "Data model".
"""

# Groups that hold a whole environment (each inventory file's own group, which pyinfra gives every
# host of the file): their data comes before the role groups', so a role refines an environment.
# A new inventory file adds its name here (`make unit` checks that every inventory's is listed).
environment_groups = ["prod", "staging", "lab"]

# Each concern can be switched off per group or host.
concerns = {
    "sysctl": True,
    "conntrack": True,
    "docker": True,
    "seccomp": True,
    "apparmor": True,
    "networks": True,
    "swarm": True,
    "verify": True,
    "netbench": True,  # considered by python -m dockwright.netbench (which also needs netbench.allowed)
    "diagnose": True,  # read by diagnose.py (read-only; off leaves the host out of its runs)
}

# drift.py --fix --unattended (the shipped timer and CI templates): which concerns it may change
# with nobody watching, and when it may make the disruptive changes (a dockerd restart for
# daemon.json, a network recreate, a swarm role change: concerns docker, networks, swarm).
# Outside the window those items are reported as deferred and the run exits 2; the first run
# inside it fixes them. A person's `drift.py --fix` (without --unattended) fixes everything.
drift = {
    "unattended": ["sysctl", "conntrack", "docker", "seccomp", "apparmor", "networks", "swarm"],
    "window": {"days": ["mon", "tue", "wed", "thu"], "hours": "09:00-16:00", "timezone": "UTC"},
}

sysctl = {
    # dockwright owns this one file; other files that set the same keys are reported.
    "file": "/etc/sysctl.d/90-dockwright.conf",
    # What to do when a file read later at boot overrides one of our keys: "fail" or "takeover"
    # (comment the key out there, keeping a backup of that file).
    "on_override": "fail",
    # A key written "-name" may be missing from the kernel; any other missing key is an error.
    "settings": {
        "net.core.somaxconn": 65535,
        "net.ipv4.tcp_max_syn_backlog": 65535,
        "net.core.netdev_max_backlog": 65535,
    },
}

conntrack = {
    # An integer, or "auto": max(32768 x cores, 131072), capped at RAM/16 at 320 bytes an entry.
    "max": 262144,
    # Hash buckets: an integer, or "auto" = max / 4 (kube-proxy's ratio).
    "buckets": "auto",
    # net.netfilter.nf_conntrack_<name> = seconds
    "timeouts": {
        "tcp_timeout_established": 86400,
        "tcp_timeout_time_wait": 120,
        "tcp_timeout_close_wait": 3600,
        "udp_timeout": 30,
        "udp_timeout_stream": 120,
    },
}

docker = {
    "package": "docker.io",  # or "docker-ce" (Docker's own packages, from their repository below)
    # Where the package comes from: "distribution" (the host's own apt sources) or "repository"
    # (the apt repository below, set up in deb822 form with its key and signed-by).
    "source": "distribution",
    "repository": {
        "url": "",  # its base URL; {id} becomes debian or ubuntu, {codename} the host's codename
        "suite": "auto",  # auto: the host's codename
        "components": ["stable"],
        "key": "",  # its ASCII-armored signing key: a file on the machine that runs the deploy
    },
    # The engine package's version ("" leaves it to apt): pinned, and changed only by a rollout
    # (restart_batch hosts at a time, gated on dockerd's health, rolled back to the version
    # before). A version rolled back is not tried again unless retry_failed.
    "version": "",
    "hold": True,  # with a version: hold the engine's packages (no unattended upgrade restarts dockerd)
    "restart_batch": 1,  # hosts with the same batch size restarted at a time (swarm managers: always 1)
    # Restart even when running containers without a restart policy would stop (live-restore
    # off before or after the change). Off: such a host is refused, listing the containers.
    "allow_container_stop": False,
    # A daemon.json that had to be rolled back is not tried again until it changes; True
    # (for one run: --data 'docker={"retry_failed": true}') tries it once more.
    "retry_failed": False,
    "health_timeout": 240,  # seconds the daemon has to come back before a rollback
    # Keys dockwright does not model, written to daemon.json as they are.
    "passthrough": {},
    # Dotted daemon.json keys whose values are secrets (never shown; changes seen by hash).
    # Known credential log options and keys named *token*, *password*, *secret* always are.
    "secret_keys": [],
    "daemon": {
        "log-level": "info",
        "log-driver": "json-file",
        "log-opts": {"max-size": "10m", "max-file": "3"},
        "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 65535, "Hard": 65535}},
        "icc": False,
        "userland-proxy": False,
        "no-new-privileges": True,
        "iptables": True,
        # Incompatible with swarm mode: set True only for standalone hosts (group_data/standalone.py).
        "live-restore": False,
        "default-address-pools": [{"base": "10.201.0.0/16", "size": 24}],
    },
}

seccomp = {
    "name": "dockwright",  # /etc/docker/seccomp/<name>.json, the daemon's default profile
    "default": True,  # make it the daemon default (seccomp-profile in daemon.json)
    # socket() address families denied with EPERM; 17 is AF_PACKET (16 is AF_NETLINK, keep it).
    "deny_socket_families": [17],
    # Extra syscalls to deny on top of the built-in allowlist.
    "deny_syscalls": [],
}

apparmor = {
    "name": "dockwright-default",  # use with --security-opt apparmor=dockwright-default
    "deny_network": ["inet-raw", "inet6-raw", "packet"],  # netlink and unix sockets stay allowed
    # Extra network rules, each {"access": "allow"|"deny", "family": ..., "type": ...} (family and
    # type or protocol only: AppArmor has no port rules on mainline kernels; see README).
    "network_rules": [],
}

networks = {
    "bridges": {
        # example: this checkout's fleets use it; `dockwright init` writes it commented out
        "backend": {
            "subnet": "10.5.0.0/16",
            "gateway": "10.5.0.1",
            "mtu": 1500,
            "icc": True,
        },
        # end of example
    },
    # Created from the first swarm manager; joined by swarm nodes only.
    "overlays": {
        # example: this checkout's fleets use it; `dockwright init` writes it commented out
        "secure-net": {
            "subnet": "10.20.0.0/24",
            "encrypted": True,
            "attachable": True,
        },
        # end of example
    },
    # Leave networks that are not declared here alone unless prune is True.
    "prune": False,
    # Recreate a differing network even when containers are attached (they are reconnected).
    "allow_disconnect": False,
    # Port policy for published container ports, in Docker's DOCKER-USER chain (kept at boot).
    # Who may open new connections to published ports, by their published (original) port:
    # [{"port": 8080, "proto": "tcp", "allow_from": ["10.0.0.0/8"]}] or "deny_from": [...];
    # optional "in_interface", "family" (ipv4, ipv6, both). Container egress is never touched.
    "port_policy": [],
    # Live DOCKER-USER rules dockwright did not write (by hand, ufw-docker, another tool), which
    # the port policy would remove: "fail" (the host is refused, each rule named) or "takeover"
    # (the chain as the run read it goes to /etc/dockwright/port-policy.<family>.taken-over, then
    # replaced).
    "on_foreign_rules": "fail",
}

swarm = {
    "role": None,  # "manager" or "worker" for swarm nodes; None keeps the host standalone
    "advertise_addr": None,  # an IPv4 address of the host's data network
}

verify = {
    # Run the verification suite at the end of every deploy.
    "after_deploy": True,
    # Behavioural checks: containers of the probe image (dockwright/probe, built on the
    # controller and imported on the host when missing) try sockets, syscalls, names and ports.
    # A check that cannot run fails; False opts this host out, and the summary shows them skipped.
    "behaviour": True,
    # Hosts verified side by side (one pytest-xdist worker each, ~60 MB): 0 sizes the pool from
    # the controller's CPUs and free memory. The run takes the value of its first host by name.
    "workers": 0,
}

diagnose = {
    # diagnose.py's thresholds. Counters are judged since the previous run when its --json is
    # given with --previous, else since boot.
    "fail_on": "warning",  # exit 2 when a finding is this severe or worse ("critical", "warning", "info")
    "conntrack_used_warning": 0.75,  # conntrack count / max
    "conntrack_used_critical": 0.90,
    "conntrack_drops": 1,  # insert_failed, drop, early_drop (summed over CPUs)
    "conntrack_entries_per_bucket": 8,  # max / buckets: longer hash chains cost every lookup
    "listen_overflows": 1,  # ListenOverflows, ListenDrops: host and each container's namespace
    "retrans_ratio": 0.02,  # RetransSegs / OutSegs
    "retrans_min_segments": 5000,  # fewer segments than this: too few to judge a ratio
    "container_nofile_min": 4096,  # soft RLIMIT_NOFILE of each container's PID 1
    "clock_skew_seconds": 2.0,  # a swarm node off the others' median by more than this
}

netbench = {
    # python -m dockwright.netbench loads the hosts' links with benchmark traffic: only hosts
    # whose data says True take part (a group or host opts in).
    "allowed": False,
    # Networks the benchmark creates (labelled dockwright.netbench, removed afterwards); they
    # must not overlap the data's networks.
    "subnets": {"bridge": "10.231.0.0/24", "overlay": "10.231.1.0/24", "encrypted": "10.231.2.0/24"},
    # macvlan and ipvlan L2 on the data network: its subnet, the parent interface (None: the
    # one holding swarm.advertise_addr), and for each host a spare address on it (host data).
    # Without them those two modes are left out and the report says so.
    "data_subnet": None,
    "parent": None,
    "address": None,
    "seconds": 10,  # each measurement
    "repetitions": 5,  # interleaved: every mode once per round
}
