"""Production-wide settings (hosts of inventories/prod.py). Example: roll daemon.json out one
host at a time and give dockerd longer to come back on big hosts."""

docker = {"restart_batch": 1, "health_timeout": 300}
