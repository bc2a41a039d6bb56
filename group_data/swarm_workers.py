"""Swarm workers."""

swarm = {"role": "worker"}
