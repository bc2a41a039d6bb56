"""Staging fleet: an example. Replace the hosts with yours (see inventories/prod.py)."""

# Host keys are checked strictly against a known_hosts file you manage (collect the keys once
# from your provisioning, or with ssh-keyscan over a trusted path, and review them): pyinfra's
# default would trust a new host on first sight, as root.
_ssh = {"ssh_user": "root", "ssh_key": "~/.ssh/id_ed25519", "ssh_strict_host_key_checking": "yes",
        "ssh_known_hosts_file": "~/.ssh/known_hosts.dockwright-staging"}

swarm_managers = [("stg-docker-1.example.net", {**_ssh, "swarm": {"advertise_addr": "10.1.10.11"}})]
swarm_workers = [("stg-docker-2.example.net", {**_ssh, "swarm": {"advertise_addr": "10.1.10.12"}})]
standalone = [("stg-docker-3.example.net", _ssh)]
