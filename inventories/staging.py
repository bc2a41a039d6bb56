"""Staging fleet: an example. Replace the hosts with yours (see inventories/prod.py)."""

_ssh = {"ssh_user": "root", "ssh_key": "~/.ssh/id_ed25519"}

swarm_managers = [("stg-docker-1.example.net", {**_ssh, "swarm": {"advertise_addr": "10.1.10.11"}})]
swarm_workers = [("stg-docker-2.example.net", {**_ssh, "swarm": {"advertise_addr": "10.1.10.12"}})]
standalone = [("stg-docker-3.example.net", _ssh)]
