"""What the operations stand on, one module each:

    model       the merged desired state of a host, and what it resolves to on that host
    schema      typed validation of that state (the list of concerns lives here)
    preflight   fleet-wide checks before the first remote change (every concern's reads and checks,
                each host in one round trip); a host that fails there, fails alone
    factcache   the run's reads: one read of each fact per host and run, in one round trip
    host_reader the one python3 a host's read starts: the Engine API, hashes, packages, sysctls
    liveness    SSH keepalives that want a reply: a silent host is declared unreachable
    dockerd     docker reads that are bounded and say "dockerd is not answering", never "nothing"
    refusal     how an operation stops on one host, alone, while pyinfra plans or executes
    secrets     which values are secrets, and how they are masked at every depth
    files       the one way a managed file is written (and shown under --diff)
    templating  the templates/ directory
    remote      commands run from Python callbacks, with the operation's connector arguments
    run         one run's shared state (reads, merged data, fleet checks, swarm leader, rollout),
                one object per pyinfra State: run.of(host), run.current()
    pyinfra_internals  every pyinfra internal used, with the reason and the version checked

deploy      the packaged deploy (docker_host): every concern's operations for a host, in order

concerns/ is the registry of the concerns a deploy applies, in deploy order: each concern is one
object with its reads, its checks before any change and its operations (preflight and the deploy
loop over it; a new concern registers one more).

operations/ holds the pyinfra operations, one module per side of the host (top-level operations/
is a link to it, as templates/ is to templates/ here).

facts/ holds what is read from a host (one FactBase class per read), each read declared once
with its arguments, and the order a host's reads are sent in (facts.in_order).

plans/ holds one pure plan per concern (desired values and facts in; drift items, problems,
refusal and decisions out) and the files it renders, shared by the operations, preflight and
drift.py.

What a run hands to its consumers, one module each: outcomes (the plans' drift items, the hosts
that failed alone, diagnose's readings, kept in the run), coverage (what a verdict covers),
metrics (the Prometheus textfiles), cli (what the commands share: exit codes, shards, the lock,
pyinfra run in this process), fleet_data (an inventory's merged data as JSON); verify/handoff
hands the fleet to the testinfra suite.

Glossary: the words of the model, each with one meaning.

    data         what group_data/ and host data declare, as pyinfra holds it (host.data)
    desired      a host's merged data (model.desired): the concerns only, every layer applied
    resolved     what the desired state comes to on one host (conntrack sizing from its cores)
    fact         a host's current state as one read returns it (a FactBase class, facts/)
    read         a fact with its arguments (facts.Read): what the fact cache keys an answer by
    host state   the one remote shell that reads every fact a host needs (factcache.HostState)
    plan         one concern's pure decision from desired values and facts (plans/)
    item         one thing that differs: (key, desired, actual), what drift.py lists
    problem      data this host cannot take: the run stops before any change, naming it
    refusal      valid data not to apply to this host now: that host fails, the others go on
    run          one pyinfra invocation (deploy, --dry, or drift.py's plan), with its State and
                 dockwright's Run (dockwright.run)
    snapshot     the verification suite's own batched read of a host (dockwright/verify)
"""

from .run import DEPLOY  # noqa: E402,F401 (the packaged deploy's name, for users' code)


def __getattr__(name: str):
    # The packaged deploy, imported when asked for: `import dockwright` stays light (drift.py's
    # merge runs without pyinfra's operations).
    if name == "docker_host":
        from .deploy import docker_host
        return docker_host
    raise AttributeError(f"module 'dockwright' has no attribute {name!r}")
