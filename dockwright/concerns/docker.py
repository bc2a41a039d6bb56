"""Docker's concerns: the engine (installed, running, on a platform dockwright supports) and
daemon.json (validated by dockerd itself, rolled out a few hosts at a time)."""

from .. import dockerd, facts, factcache
from ..facts.engine import DaemonConfigCheck
from ..operations import docker, package
from ..plans import docker as docker_plans, package as package_plans
from . import Concern, View, register


class Engine(Concern):
    name = "engine"
    switch = "docker"
    drift_keys = ("docker",)

    def wanted(self, v: View) -> bool:
        return v.on("docker") or bool(v.role)  # a swarm role needs an engine dockwright supports

    def reads(self, v: View) -> list:
        return [facts.docker_engine()]

    def problems(self, host, v: View) -> list:
        return docker_plans.engine_plan(facts.docker_engine().get(host)).problems  # the platform

    def refusal(self, host, v: View):
        if not v.on("docker"):
            return None
        conf = v.desired["docker"]
        decided = package_plans.package_plan(conf, facts.docker_engine().get(host), None, conf["retry_failed"])
        return ("docker", decided) if decided.refusal else None

    def apply(self, v: View) -> None:
        if v.on("docker"):
            conf = v.desired["docker"]
            docker.engine(name="docker: engine installed and running", package=conf["package"], conf=conf)
            if conf["version"]:
                package.engine_version(
                    name="docker: engine version (rolling, with health gate)", conf=conf,
                    health_timeout=conf["health_timeout"], batch=conf["restart_batch"],
                    manager=v.role == "manager", retry_failed=conf["retry_failed"])


class Daemon(Concern):
    name = "daemon"
    switch = "docker"

    def reads(self, v: View) -> list:
        return [facts.swarm()] if docker_plans.needs_swarm_state(v.daemon_json) else []

    def _plan(self, host, v: View):
        """The operation's plan, or None while dockerd does not answer (left to the operation,
        which may find dockerd started by then)."""
        def decide():
            swarm_state = docker.swarm_if_needed(host, v.daemon_json)
            if isinstance(swarm_state, dockerd.Down):
                return None
            conf = v.desired["docker"]
            return docker_plans.daemon_plan(v.daemon_json, facts.docker_engine().get(host), swarm_state,
                                            tuple(conf["secret_keys"]), conf["retry_failed"])
        return v.once("daemon plan", decide)

    def refusal(self, host, v: View):
        decided = self._plan(host, v)
        return ("docker", decided) if decided and decided.refusal else None

    def problems(self, host, v: View) -> list:
        conf = v.desired["docker"]
        decided = self._plan(host, v)
        if decided is None:
            return []
        engine = facts.docker_engine().get(host)
        secret_keys = tuple(conf["secret_keys"])
        found = [(f"docker.daemon.{key}", value, why) for key, value, why in decided.problems]
        # dockerd --validate starts the daemon binary (slow): only for a file that would change.
        if engine["daemon_json"] != v.daemon_json:
            check = factcache.get(host, DaemonConfigCheck,
                                  content=docker_plans.for_validation(v.daemon_json, secret_keys))
            if not check["ok"]:
                found.append(("docker.daemon", "(rendered daemon.json)", f"dockerd --validate: {check['message']}"))
        return found

    def apply(self, v: View) -> None:
        conf = v.desired["docker"]
        docker.daemon_config(
            name="docker: daemon.json (rolling restart with health gate)",
            content=v.daemon_json,
            health_timeout=conf["health_timeout"],
            secret_keys=tuple(conf["secret_keys"]),
            # Batches are enforced by dockwright (pyinfra's _parallel is one value per operation):
            # managers one at a time; hosts with the same restart_batch that many at a time.
            batch=conf["restart_batch"],
            manager=v.role == "manager",
            allow_container_stop=conf["allow_container_stop"],
            retry_failed=conf["retry_failed"],
        )


register(Engine())
register(Daemon())
