"""Swarm managers: the first one initialises the swarm; overlays are created from here."""

swarm = {"role": "manager"}
