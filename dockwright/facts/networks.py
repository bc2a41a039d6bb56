"""The networks' side: every Docker network in one read, the journals of recreates that did not
finish, and the host's own routes (a declared subnet must not shadow them)."""

import json

from pyinfra.api import FactBase

from .. import dockerd, host_paths, schema








class DockerNetworks(dockerd.EngineApiFact, FactBase):
    """
    Every Docker network on the host, normalised to the fields dockwright manages.

    Returns ``{name: {"id", "driver", "scope", "subnet", "gateway", "ip_range", "aux_addresses", "mtu",
    "icc", "internal", "ipv6", "labels", "bridge_name", "encrypted", "attachable", "containers"}}``,
    or ``dockerd.Down`` when dockerd does not answer (never an empty answer then).
    """

    api = "networks"  # its part of the Engine API read it shares with SwarmState

    def cli(self):
        ls = dockerd.call("docker network ls -q")
        return (f"ids=$({ls}) && case \"$ids\" in {dockerd.MARK}*) echo \"$ids\";; '') ;; "
                f"*) {dockerd.call('docker network inspect $ids')};; esac")

    def process(self, output):
        if down := dockerd.down(output):
            return down
        nets = {}
        for raw in json.loads("\n".join(output) or "[]"):
            nets[raw["Name"]] = normalise(raw)
        return nets


# Where a recreate journals the endpoints it is about to disconnect (root only), one file per
# network: an interrupted recreate is finished by the next run from it.


class NetworkJournals(FactBase):
    """
    The endpoints journaled by network recreates that did not finish (the run died between
    disconnecting the containers and reconnecting them).

    Returns ``{network: {"at": str, "endpoints": {container: {"aliases", "ipv4", "ipv6"}}}}``,
    ``{}`` when there is none.
    """

    def command(self):
        return (f"for f in {host_paths.NETWORK_JOURNALS}/*.json; do [ -f \"$f\" ] || continue; n=${{f##*/}}; "
                "printf '%s ' \"${n%.json}\"; tr -d '\\n' < \"$f\"; echo; done; true")

    @staticmethod
    def default():
        return {}

    def process(self, output):
        found = {}
        for line in output:
            name, _, text = line.partition(" ")
            try:
                journal = json.loads(text)
            except ValueError:  # a torn write: nothing to reconnect from, and said so
                journal = {"at": "?", "endpoints": {}, "unreadable": True}
            found[name] = journal
        return found


class HostRoutes(FactBase):
    """
    The host's own IPv4 routes, without Docker's bridges (their subnets are Docker's networks).

    Returns ``[(destination CIDR, device)]``.
    """

    # The kernel's main table as /proc/net/route lists it (what `ip -4 route show table main`
    # shows), by the shell's own read: `ip` would cost a process. No 2>/dev/null: a table that
    # cannot be read fails the read, it is never an empty one.
    command = "while read -r l; do echo \"$l\"; done < /proc/net/route"

    def process(self, output):
        routes = []
        for line in output:
            words = line.split()
            if len(words) < 8 or words[0] == "Iface":
                continue
            dev, dest, mask = words[0], _address(words[1]), _address(words[7])
            if dest is None or mask is None or mask == "0.0.0.0":
                continue  # the default route (and a line this read cannot parse)
            if dev == "docker0" or dev.startswith(("br-", "docker_gwbridge")):
                continue
            routes.append((f"{dest}/{bin(int(words[7], 16)).count('1')}", dev))
        return routes


def _address(word: str) -> str | None:
    """An address as /proc/net/route writes it (hex, in the host's byte order: little-endian on
    every architecture Debian ships Docker for), dotted."""
    try:
        value = int(word, 16).to_bytes(4, "little")
    except (ValueError, OverflowError):
        return None
    return ".".join(str(b) for b in value)


def normalise(raw: dict) -> dict:
    """A network as `docker network inspect` shows it, in the data's fields (schema.NETWORK_FIELDS),
    with the driver, the scope and who is attached."""
    ipam = (raw.get("IPAM") or {}).get("Config") or [{}]
    v4 = next((c for c in ipam if ":" not in c.get("Subnet", "")), ipam[0])
    opts = raw.get("Options") or {}
    return {
        "id": raw.get("Id") or "",
        "driver": raw.get("Driver"),
        "scope": raw.get("Scope"),
        **{name: f.inspect(raw, v4, opts) for name, f in schema.NETWORK_FIELDS.items()},
        "containers": sorted(c.get("Name", cid[:12]) for cid, c in (raw.get("Containers") or {}).items()
                             if not cid.startswith("lb-") and not c.get("Name", "").endswith("-endpoint")),
        # Every endpoint the Engine reports, whatever its name: "in use" is the Engine's word.
        "endpoints": len(raw.get("Containers") or {}),
    }
