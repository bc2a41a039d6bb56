"""The lab fleet (inventories/lab.py): its VMs cannot pull images, so checks use the local one."""

verify = {"image": "dw-test:latest"}
