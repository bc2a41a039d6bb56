"""Standalone Docker hosts (not in a swarm): containers survive daemon restarts."""

docker = {"daemon": {"live-restore": True}}
