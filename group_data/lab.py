"""The lab fleet (inventories/lab.py): its VMs cannot pull images, so checks use the local one."""

verify = {"image": "dw-test:latest"}

# Exercise the DOCKER-USER port policy: nothing may reach a published Docker API port.
networks = {"docker_user": [{"proto": "tcp", "dport": 2375, "action": "DROP"}]}
