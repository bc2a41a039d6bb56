"""The lab fleet (inventories/lab.py)."""

# Exercise the port policy: nothing may reach a published Docker API port.
networks = {"port_policy": [{"port": 2375, "proto": "tcp", "deny_from": ["0.0.0.0/0", "::/0"]}]}

# The lab's data network (lab/config.py) takes the network benchmark; each VM's spare address for
# macvlan and ipvlan comes from inventories/lab.py. Short measurements: emulated VMs are slow.
netbench = {"allowed": True, "data_subnet": "10.99.0.0/24", "seconds": 3}
