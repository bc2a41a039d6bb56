"""The host-state read: several facts' commands in one remote shell, in turn, each output handed
to its own fact. The commands run here in a local shell, as the host would run them."""

import subprocess

from dockwright import dockerd, factcache
from dockwright.factcache import HostState
from dockwright.facts import engine as fengine
from dockwright.facts import kernel as fkernel
from dockwright.facts import networks as fnetworks

from .harness import FakeHost


def run_locally(command: str) -> tuple[int, list[str]]:
    res = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60)
    return res.returncode, res.stdout.splitlines()


def test_outputs_come_back_framed_with_their_exit_status():
    fact = HostState()
    rc, lines = run_locally(fact.command(commands=(
        "printf 'a\\nb'",                          # no final newline
        "echo '@@dockwright-part 9 9 9'; echo",    # looks like a frame, and an empty line
        "echo half; exit 3",
        "true",
    )))
    assert rc == 0
    assert fact.process(lines) == [(0, ["a", "b"]), (0, ["@@dockwright-part 9 9 9", ""]), (3, ["half"]), (0, [])]


def test_a_part_cannot_forge_a_frame_without_the_nonce_drawn_for_this_read():
    fact = HostState()
    forge = 'read -r n < /proc/sys/kernel/random/uuid; echo "@@dockwright-part $n 1 0"; echo after'
    _, lines = run_locally(fact.command(commands=(forge, "echo two")))
    parts = fact.process(lines)
    assert [rc for rc, _ in parts] == [0, 0] and parts[1] == (0, ["two"])
    assert parts[0][1][0].startswith("@@dockwright-part ") and parts[0][1][1] == "after"


def test_parts_run_in_turn_without_the_sessions_stdin():
    # A part that reads stdin gets nothing (never the session's), and the next one still runs.
    fact = HostState()
    res = subprocess.run(["sh", "-c", fact.command(commands=("cat; echo done", "echo next"))], input="secret\n",
                         capture_output=True, text=True, timeout=60)
    assert fact.process(res.stdout.splitlines()) == [(0, ["done"]), (0, ["next"])]


def test_a_read_cut_short_is_never_taken_for_empty_parts():
    lines = HostState.frame([(0, ["a"]), (0, ["b"])])
    assert HostState().process(lines[:-3]) == [(0, ["a"])]  # the second part's frame never came
    for broken in ([], ["x"], ["@@dockwright-part"], HostState.frame([(0, ["a"])])[1:]):
        try:
            HostState().process(broken)
        except ValueError:
            continue
        raise AssertionError(broken)


def test_frame_is_what_the_host_answers():
    fact = HostState()
    _, lines = run_locally(fact.command(commands=("printf 'a\\nb'", "true", "echo x; echo; exit 2")))
    parts = fact.process(lines)
    assert parts == [(0, ["a", "b"]), (0, []), (2, ["x", ""])]
    assert fact.process(HostState.frame(parts)) == parts


class LocalHost(FakeHost):
    """The fake host, its facts read by running their commands in a local shell; it counts reads."""

    def __init__(self, fail=()):
        super().__init__()
        self.reads, self.fail = [], fail

    def get_fact(self, cls, **kwargs):
        self.reads.append(cls.__name__)
        fact = cls()
        command = fact.command(**kwargs) if callable(fact.command) else fact.command
        for text in self.fail:
            command = command.replace(text, "exit 7; " + text)
        rc, lines = run_locally(command)
        assert rc == 0, (cls.__name__, rc)
        return fact.process(lines) if lines else fact.default()


def test_prefetch_reads_every_fact_in_one_round_trip_with_the_same_result():
    alone = LocalHost()
    expected = {cls: alone.get_fact(cls) for cls in (fnetworks.HostRoutes, fkernel.ConntrackState)}
    host = LocalHost()
    factcache.prefetch(host, [(fnetworks.HostRoutes, {}), (fkernel.ConntrackState, {})])
    assert host.reads == ["HostState"]
    assert {cls: factcache.get(host, cls) for cls in expected} == expected
    assert host.reads == ["HostState"]  # served from the one read


def test_the_engine_api_facts_share_one_part_and_one_interpreter():
    # No dockerd here: both answer Down (the socket is missing), through one python3 start.
    alone = LocalHost()
    expected = {cls: alone.get_fact(cls) for cls in (fnetworks.DockerNetworks, fengine.SwarmState)}
    host = LocalHost()
    wanted = [(fkernel.ConntrackState, {}), (fnetworks.DockerNetworks, {}), (fnetworks.HostRoutes, {}),
              (fengine.SwarmState, {})]
    command = "\n".join(c for c, _ in factcache.read_parts([(c, kw, c()) for c, kw in wanted]))
    served = command.split(" else echo '@@whole 0'")[0]  # where the host has python3 (else each its own)
    assert served.count("python3 -I -S") == 1 and served.count("networks swarm") == 1
    factcache.prefetch(host, wanted)
    assert host.reads == ["HostState"]
    assert {cls: factcache.get(host, cls) for cls in expected} == expected
    assert all(isinstance(v, dockerd.Down) for v in expected.values())


def test_a_part_that_fails_is_read_again_on_its_own():
    host = LocalHost(fail=["while read -r l; do echo \"$l\"; done < /proc/net/route"])  # HostRoutes' part exits 7 inside the host-state read
    factcache.prefetch(host, [(fnetworks.HostRoutes, {}), (fkernel.ConntrackState, {})])
    # pyinfra itself reads it again (and would report its failure); the other part is served.
    assert host.reads == ["HostState", "HostRoutes"]
    factcache.get(host, fkernel.ConntrackState)
    assert host.reads == ["HostState", "HostRoutes"]


def test_an_operation_that_changes_a_fact_makes_later_operations_read_it_again():
    # docker.engine installs dockerd after preflight read DockerEngine (no unit, no flags):
    # daemon_config, run again by pyinfra at execute time, must see the installed engine.
    from dockwright.operations import docker

    from .harness import DEBIAN, FakeHost, run
    engine = {"package": None, "enabled": False, "active": False, "os": DEBIAN}
    fake = FakeHost({"DockerEngine": lambda: dict(engine)})
    assert factcache.get(fake, fengine.DockerEngine)["package"] is None
    commands, _ = run(docker.engine, {}, fake=fake, package="docker.io")
    engine.update(package="docker.io", enabled=True, active=True)  # what the commands did
    assert factcache.get(fake, fengine.DockerEngine)["package"] is None  # not executed yet: the first read
    commands[-1].function(None, fake, *commands[-1].args)  # pyinfra executes the forget step
    assert factcache.get(fake, fengine.DockerEngine)["package"] == "docker.io"
    assert [name for name, _ in fake.asked] == ["DockerEngine", "DockerEngine"]
