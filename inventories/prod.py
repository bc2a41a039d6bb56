"""Production fleet: an example. Replace the hosts with yours.

Every host here is in group "prod" (the file name); the other groups pick role data from
group_data/<group>.py. SSH settings are ordinary pyinfra host data.
"""

_ssh = {"ssh_user": "root", "ssh_key": "~/.ssh/id_ed25519"}

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
