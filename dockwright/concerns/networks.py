"""Docker's networks on one host: the declared bridges, the port policy for published ports
(in DOCKER-USER), and the prune of networks the data does not declare."""

import json

from .. import dockerd, facts, schema
from ..operations import firewall, networks
from ..plans import networks as network_plans
from . import Concern, View, register


class Networks(Concern):
    name = "networks"
    drift_keys = ("networks", "firewall")

    def reads(self, v: View) -> list:
        wanted = [facts.docker_engine(), facts.docker_networks(), facts.network_journals(), facts.port_policy()]
        return wanted + ([facts.routes()] if schema.declared_networks(v.desired) else [])

    @staticmethod
    def _port_policy(host, v: View):
        """The port policy's decision on this host (operations/firewall.decide), made once for
        preflight's problems and refusal."""
        net = v.desired["networks"]
        return v.once("port policy", lambda: firewall.decide(
            net["port_policy"], json.loads(v.daemon_json), net["on_foreign_rules"],
            facts.docker_engine().get(host), facts.port_policy().get(host)))

    def problems(self, host, v: View) -> list:
        declared = schema.declared_networks(v.desired)
        found = network_plans.route_problems(declared, facts.routes().get(host)) if declared else []
        why, _, _ = self._port_policy(host, v)
        rules = len(v.desired["networks"]["port_policy"])
        return found + ([("networks.port_policy", f"{rules} rule(s)", why)] if why else [])

    def refusal(self, host, v: View):
        current = facts.docker_networks().get(host)
        if isinstance(current, dockerd.Down):
            return None  # left to the operations
        net = v.desired["networks"]
        _, _, policy = self._port_policy(host, v)
        if policy and policy.refusal:
            return "firewall", policy
        journals = facts.network_journals().get(host)
        for name, spec in sorted(net["bridges"].items()):
            decided = network_plans.network_plan(name, "bridge", spec, current.get(name), net["allow_disconnect"],
                                                 journals.get(name))
            if decided.refusal:
                return "networks", decided
        return None

    def apply(self, v: View) -> None:
        net = v.desired["networks"]
        for net_name, spec in sorted(net["bridges"].items()):
            networks.bridge(name=f"networks: bridge {net_name}", network_name=net_name, spec=spec,
                            allow_disconnect=net["allow_disconnect"])
        firewall.port_policy(name="firewall: port policy for published ports", policy=net["port_policy"],
                             daemon=json.loads(v.daemon_json), on_foreign=net["on_foreign_rules"])
        if net["prune"]:
            networks.prune(name="networks: prune undeclared", keep=sorted({*net["bridges"], *net["overlays"]}))


register(Networks())
