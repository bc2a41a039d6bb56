"""The lab fleet (inventories/lab.py): its VMs cannot pull images, so checks use the local one."""

verify = {"image": "dw-test:latest"}

# Exercise the port policy: nothing may reach a published Docker API port.
networks = {"port_policy": [{"port": 2375, "proto": "tcp", "deny_from": ["0.0.0.0/0", "::/0"]}]}
