"""The lab fleet (inventories/lab.py)."""

# Exercise the port policy: nothing may reach a published Docker API port.
networks = {"port_policy": [{"port": 2375, "proto": "tcp", "deny_from": ["0.0.0.0/0", "::/0"]}]}
