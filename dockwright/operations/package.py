"""The engine's package: the apt repository it comes from (with its own signing key), the
version pinned and held, and a version change rolled out like daemon.json: a few hosts at a
time, gated on dockerd's health, rolled back to the version before when dockerd does not come
back."""

import shlex
import uuid

from pyinfra import host
from pyinfra.api import FunctionCommand, operation

from .. import facts, factcache, files, outcomes, refusal, remote, templating
from ..facts.engine import DockerEngine, SwarmState, parse_kv
from ..facts.networks import DockerNetworks
from ..host_paths import APT_SOURCE, PACKAGE_FAILED, PACKAGE_LOG, PACKAGE_SCRIPT, STATE_DIR
from ..plans.docker import restart_slot
from ..plans.package import flavour_packages, package_plan
from ..schema import docker as schema_docker
from .. import restarts

UNIT = "dockwright-package"  # the version rollout's transient unit

# Only the engine's repository is refreshed: the host's other sources are its owner's business
# (and may be unreachable from where the host runs).
UPDATE = (f"DEBIAN_FRONTEND=noninteractive timeout 600 apt-get update -q -o Dir::Etc::SourceList={APT_SOURCE} "
          "-o Dir::Etc::SourceParts=/dev/null -o APT::Get::List-Cleanup=0")


def _apt_mark(action: str, names: list[str]) -> str:
    return f"apt-mark {action} " + " ".join(shlex.quote(x) for x in names)


def apt_files(host, conf: dict, engine_state: dict):
    """The commands that put dockwright's apt files for the engine as the data says (docker's
    data, ``conf``): the repository in deb822 form with ``Signed-By`` its own key in
    /etc/apt/keyrings, and the version pin, each written when its text differs and removed (with
    the holds that came with the pin) when the data no longer asks for it; then the repository's
    index refreshed (that source alone) when it changed or the first install comes from it.
    Yielded by ``docker.engine`` before it installs anything; its drift items are recorded."""
    key_text = schema_docker.read_key(conf["repository"]["key"]) if conf["source"] == "repository" else None
    decided = package_plan(conf, engine_state, key_text)
    outcomes.record(host, "docker", decided.side(files=True))
    for path in decided.removes:
        yield f"rm -f {shlex.quote(path)}"
    if decided.unhold and not conf["version"]:  # the holds that came with a pin now removed
        yield _apt_mark("unhold", decided.unhold)
    for path, content in decided.writes:
        files.show_diff(host, path, content)
        yield files.write(path, content, mode="0644")
    if decided.update:
        yield UPDATE


def rollout_script(conf: dict, engine: dict, health_timeout: int) -> str:
    """The host-side version rollout (docker/package-apply.sh.j2) for this host's packages."""
    holds = flavour_packages(conf, engine) if conf["hold"] else []
    return templating.render(
        "docker/package-apply.sh.j2", dir=STATE_DIR, log=PACKAGE_LOG, failed=PACKAGE_FAILED,
        package=shlex.quote(conf["package"]), pinned=shlex.quote(conf["version"]),
        holds=shlex.quote(" ".join(holds)), timeout=int(health_timeout), apt_timeout=900,
        update=UPDATE if conf["source"] == "repository" else "",
        allow_stop=str(bool(conf["allow_container_stop"])).lower())


def _roll(state, host, script: str, content: str, run_id: str, timeout: int, conn: dict, mode: str):
    """Starts the version rollout on the host detached from this session (a transient unit
    where systemd-run reaches systemd, else its own session), waits for its outcome with a
    bound, and judges it: (applied, the outcome). A rollout whose process ended without an
    outcome is reported as such, never as applied."""
    result, pid = f"{STATE_DIR}/package.result.{run_id}", f"{STATE_DIR}/package.pid"
    bound = 2 * timeout + 1900  # apt's bound twice, the health gate twice, and room
    ok, out = remote.run(host, (
        f"install -d -m 0700 {STATE_DIR} && umask 077 && printf '%s' {shlex.quote(script)} > {PACKAGE_SCRIPT} && "
        f"rm -f {pid} && {restarts.detached(f'{UNIT}-{run_id[:12]}', bound, PACKAGE_SCRIPT, run_id)} && "
        f"t0=$(date +%s); end=$(( t0 + {bound} )); "
        # Ended without an outcome: its pid file names a process gone, or none came in 60 s.
        f"while [ ! -f {result} ] && [ $(date +%s) -lt $end ]; do sleep 2; "
        f"p=$(cat {pid} 2>/dev/null); if [ -n \"$p\" ]; then kill -0 \"$p\" 2>/dev/null || {{ sleep 1; break; }}; "
        f"elif [ $(date +%s) -ge $(( t0 + 60 )) ]; then break; fi; done; "
        f"sed 's/^/log /' {PACKAGE_LOG} 2>/dev/null; sed 's/^/state /' {result} 2>/dev/null; rm -f {result}; true"),
        conn)
    lines = out.stdout_lines if ok else []
    outcome = parse_kv([x[6:] for x in lines if x.startswith("state ")])
    found = outcome.get("result", "unknown") if outcome.get("run") == run_id else "unknown"
    for line in lines:
        if line.startswith("log ") and not line.startswith("log dockwright-result:"):
            host.log(f"engine package: {line[4:]}")
    if found == "applied":
        host.log_styled(f"engine package: {outcome.get('previous')} -> {outcome.get('version')}, dockerd healthy",
                        fg="green")
        return True, found
    host.log_styled(f"engine package: {found}: {outcome.get('reason') or 'the rollout gave no outcome'}", fg="red")
    return False, found


@operation()
def engine_version(conf: dict, health_timeout: int = 240, batch: int = 1, manager: bool = False,
                   retry_failed: bool = False):
    """
    The engine package at the pinned version (``docker.version``), and its packages held.

    A version change is a rollout: ``batch`` hosts at a time, managers one at a time while the
    others hold quorum (as daemon.json's), apt run in a transient unit, dockerd gated on its
    health and the version before reinstalled when it does not come back. A version rolled
    back is not tried again unless ``retry_failed``.

    + conf: docker's data (``package``, ``version``, ``hold``)
    + health_timeout: seconds dockerd has to come back before the rollback
    + batch: hosts with the same batch size restart at most this many at a time
    + manager: a swarm manager
    + retry_failed: try again a version rolled back before

    **Example:**

    .. code:: python

        package.engine_version(name="docker: engine version", conf=model.desired(host)["docker"])
    """
    engine_state = facts.docker_engine().get(host)
    decided = package_plan(conf, engine_state, None, retry_failed)
    outcomes.record(host, "docker", decided.side(files=False))
    if decided.refusal:
        yield from refusal.refuse(host, f"engine package: {decided.refusal}")
        return
    if decided.unhold:
        yield _apt_mark("unhold", decided.unhold)
    if decided.upgrade:
        script = rollout_script(conf, engine_state, health_timeout)
        yield FunctionCommand(restarts.turn, (script, "", uuid.uuid4().hex, restart_slot(manager, batch), manager,
                                              health_timeout, remote.connector_args(host), "apply", _roll,
                                              "engine package"), {})
        yield factcache.forget_after(DockerEngine, DockerNetworks, SwarmState)
        return
    if decided.hold:
        yield _apt_mark("hold", decided.hold)
    if not (decided.unhold or decided.hold):
        host.noop("the engine package is at its pinned version" if conf["version"] else "no engine version pinned")
