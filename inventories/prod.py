"""Production fleet: an example. Replace the hosts with yours.

Every host here is in group "prod" (the file name); the other groups pick role data from
group_data/<group>.py. SSH settings are ordinary pyinfra host data.
"""

# Host keys are checked strictly against a known_hosts file you manage (collect the keys once
# from your provisioning, or with ssh-keyscan over a trusted path, and review them): pyinfra's
# default would trust a new host on first sight, as root.
_ssh = {"ssh_user": "root", "ssh_key": "~/.ssh/id_ed25519", "ssh_strict_host_key_checking": "yes",
        "ssh_known_hosts_file": "~/.ssh/known_hosts.dockwright-prod"}

swarm_managers = [
    ("docker-mgr-1.example.net", {**_ssh, "swarm": {"advertise_addr": "10.0.10.11"}}),
]
swarm_workers = [
    ("docker-wrk-1.example.net", {**_ssh, "swarm": {"advertise_addr": "10.0.10.21"}}),
    ("docker-wrk-2.example.net", {**_ssh, "swarm": {"advertise_addr": "10.0.10.22"}}),
]
standalone = [
    ("docker-ci-1.example.net", _ssh),
]
