"""Staging-wide settings (hosts of inventories/staging.py): faster rollouts."""

docker = {"restart_batch": 2}
