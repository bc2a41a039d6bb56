"""Network cost, measured on your own hosts: every Docker network mode against host networking.

    python -m dockwright.netbench INVENTORY [--hosts CLIENT,SERVER] [--modes M,...]
                                  [--repetitions N] [--seconds S] [--no-tuning] [--json F] [--png F]
    python -m dockwright.netbench INVENTORY cleanup [--hosts A,B]

A probe client on CLIENT measures a probe server on SERVER (dockwright/probe: stream throughput,
request/response latency, connection rate) in each mode, in interleaved rounds (every mode once
per round), so that slow drift of the hosts touches every mode alike. Then the tuning under
load: a connection burst against a server in a container, with the namespace's default
somaxconn/SYN backlog and with the host's tuned values; and with conntrack at the kernel's
default limit and at the tuned one. Only hosts whose data says ``netbench.allowed: true`` take
part: the runs load the links. Everything created carries the label dockwright.netbench and is
removed at the end, on Ctrl-C and on SIGTERM; ``cleanup`` removes leftovers.
"""

import argparse
import ipaddress
import json
import os
import shlex
import signal
import sys
import time
from pathlib import Path

from ..diagnosis.fact import conntrack_stat, tcp_counters
from ..coverage import Coverage
from ..cli import project
from . import modes as M
from . import report

WHO = "dockwright netbench"
RESULTS = Path("bench") / "results"  # in the project (the current directory), unless --json says where


class Refused(Exception):
    """The run cannot go on; ``coverage`` says which hosts were in scope and why each is out."""

    def __init__(self, message: str, coverage: Coverage | None = None):
        super().__init__(message)
        self.coverage = coverage


NOT_OPTED_IN = "netbench.allowed is not true (the runs load its links)"


def load(inventory: str, names: list[str] | None):
    """(state, [client host, server host], their desired states, coverage) through pyinfra's API,
    connected. Hosts whose data does not opt in are skipped, and refused when named; a host that
    cannot be reached is unreachable, with the reason."""
    from pyinfra.api import Config, State
    from pyinfra.api.exceptions import PyinfraError

    from dockwright import model, pyinfra_internals
    from dockwright.pyinfra_context import use_state
    from dockwright.pyinfra_internals import error_text

    inv = pyinfra_internals.make_inventory(inventory, cwd=str(project()))
    state = State(inv, Config())
    hosts = {h.name: h for h in inv}
    wanted = names or sorted(hosts)
    missing = [n for n in wanted if n not in hosts]
    if missing:
        raise Refused(f"not in {inventory}: {', '.join(missing)}", Coverage(in_scope=sorted(hosts)))
    cov = Coverage(in_scope=sorted(wanted))
    desired = {n: model.desired(hosts[n]) for n in wanted}
    out = [n for n in wanted if not (model.enabled(desired[n], "netbench") and desired[n]["netbench"]["allowed"])]
    refused = [f"{n}: netbench.allowed = {desired[n].get('netbench', {}).get('allowed')!r}" for n in out]
    cov.skipped.update(dict.fromkeys(out, NOT_OPTED_IN))
    if names and refused:
        raise Refused("hosts not opted in (the runs load their links): " + "; ".join(refused), cov)
    wanted = [n for n in wanted if n not in cov.skipped]
    if not names:  # two swarm nodes when there are (overlays), a manager among them
        swarm = [n for n in wanted if (desired[n].get("swarm") or {}).get("role")]
        chosen = sorted(swarm, key=lambda n: desired[n]["swarm"]["role"] != "manager")[:2] if len(swarm) >= 2 else wanted[:2]
        cov.skipped.update({n: "not chosen: a run measures two hosts (--hosts CLIENT,SERVER)"
                            for n in wanted if n not in chosen})
        wanted = chosen
    if len(wanted) < 2:
        raise Refused("two hosts with netbench.allowed: true are needed (" + ("; ".join(refused) or "none") + ")", cov)
    chosen = [hosts[n] for n in wanted[:2]]
    use_state(state)
    for h in chosen:
        try:
            h.connect(raise_exceptions=True)
        except PyinfraError as e:
            cov.unreachable[h.name] = f"cannot connect: {error_text(e)}"
    if cov.unreachable:
        raise Refused("cannot reach " + ", ".join(sorted(cov.unreachable)), cov)
    return state, chosen, [desired[h.name] for h in chosen], cov


def sh(host, command: str, check: bool = True) -> list[str]:
    from pyinfra.api import StringCommand
    ok, out = host.run_shell_command(StringCommand(command))
    if check and not ok:
        raise RuntimeError(f"{host.name}: {command[:120]}...: {' '.join(out.stderr_lines)[-400:]}")
    return out.stdout_lines


def describe(host, desired: dict) -> tuple[M.Host, dict]:
    from dockwright import hostdata, probe
    nb, swarm = desired["netbench"], desired.get("swarm") or {}
    address = swarm.get("advertise_addr") or host.data.get("data_ip")
    if not address or hostdata.address(address):
        raise RuntimeError(f"{host.name}: no data address to benchmark on (swarm.advertise_addr or data_ip, "
                           f"an IP address without a scope ID): {address!r}")
    lines = sh(host, f"{M.ENVIRONMENT}; ip -o -4 addr show; ip -o link show")
    arch = lines[5].strip()
    sh(host, probe.ensure_command(arch))
    parent = nb.get("parent") or next((ln.split()[1] for ln in lines[6:] if f" {address}/" in ln), None)
    mtu = next((int(ln.split("mtu")[1].split()[0]) for ln in lines if parent and f": {parent}:" in ln
                and " mtu " in ln), None)
    me = M.Host(host.name, address, probe.image(arch), nb.get("address"), parent, swarm.get("role") == "manager")
    return me, M.environment(lines[:6], mtu)


def measure(a, b, mode: M.Mode, image: str, seconds: int) -> dict:
    target = mode.target
    if mode.target_from:  # the server's address as Docker gave it: host input, taken only as an address
        said = (sh(b, mode.target_from) or [""])[0].strip()
        try:
            target = target.replace("$IP", str(ipaddress.ip_address(said)))
        except ValueError:
            raise RuntimeError(f"{b.name}: {mode.name} server address is not an IP address: {said[:80]!r}") from None
    out = {}
    for kind in ("stream", "rr", "crr"):  # one at a time: the workloads must not share the link
        line = sh(a, mode.client(image, f"{kind}:{target}:{seconds}"))[-1]
        out[kind] = report.parse(kind, line.partition("=")[2])
    return out


RESTORE_PID = "/run/dockwright-netbench-restore.pid"
# Seconds the host-side restore waits: a burst takes seconds. DOCKWRIGHT_NETBENCH_RESTORE_AFTER
# shortens it (the e2e test that kills the controller mid-burst).
RESTORE_AFTER = int(os.environ.get("DOCKWRIGHT_NETBENCH_RESTORE_AFTER", "300"))


def restore_guard(previous: str) -> str:
    """A host-side sleeper that puts nf_conntrack_max back to previous after RESTORE_AFTER
    seconds, whatever becomes of the controller (killed, its SSH session dropped): detached
    from the session, its pid kept so that a run that restores on its own ends it."""
    value = str(int(previous))
    restore = (f"sleep {RESTORE_AFTER}; sysctl -q -w net.netfilter.nf_conntrack_max={value}; "
               f"rm -f {RESTORE_PID}")
    return (f"setsid sh -c {shlex.quote(restore)} >/dev/null 2>&1 </dev/null & echo $! > {RESTORE_PID}")


def restore_now(previous: str) -> str:
    value = str(int(previous))
    return (f"sysctl -q -w net.netfilter.nf_conntrack_max={value}; "
            f"[ -f {RESTORE_PID} ] && kill $(cat {RESTORE_PID}) 2>/dev/null; rm -f {RESTORE_PID}; true")


def lowering_problem(count: int, new_max: int) -> str | None:
    """Why nf_conntrack_max must not be lowered to new_max on a host tracking count entries."""
    if count >= new_max:
        return (f"the host tracks {count} connections now, at or above the {new_max} the untuned burst "
                f"would allow: not lowering nf_conntrack_max on it (its own traffic would be dropped)")
    return None


def burst(a, b, ma: M.Host, mb: M.Host, count: int, tuned: dict, conntrack_max: int | None) -> dict:
    """A connection burst from CLIENT's host namespace against a server in a container on
    SERVER (published on its data address): accepted, failed, p99 connect time, the server
    namespace's listen overflows. tuned: the container's sysctls ({} for the namespace's
    defaults); conntrack_max: SERVER's limit for the burst, never below what it tracks now, and
    restored afterwards (by a host-side guard too, should this controller die)."""
    name = "dw-nb-burst"
    flags = " ".join(f"--sysctl {k}={v}" for k, v in tuned.items())
    sh(b, f"docker rm -f {name} >/dev/null 2>&1; docker run -d --pull never --label {M.LABEL} {M.limits(count)} "
          f"--name {name} {flags} -p {shlex.quote(mb.address)}:15299:{M.PORT} {mb.image} bench {M.PORT} 600 >/dev/null")
    overflows = f"grep '^TcpExt:' /proc/$(docker inspect -f '{{{{.State.Pid}}}}' {name})/net/netstat"
    before = tcp_counters(sh(b, overflows), keep=None)
    previous, live = (x.strip() for x in sh(b, "sysctl -n net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_count"))
    if conntrack_max and (why := lowering_problem(int(live), conntrack_max)):
        sh(b, f"docker rm -f {name} >/dev/null 2>&1", check=False)
        print(f"  {b.name}: {why}", flush=True)
        return {"refused": why}
    try:
        if conntrack_max:
            sh(b, restore_guard(previous))
            sh(b, f"sysctl -q -w net.netfilter.nf_conntrack_max={int(conntrack_max)}")
        line = sh(a, f"docker run --rm --pull never --label {M.LABEL} {M.limits(count)} --network host {ma.image} "
                     f"burst:{mb.address}:15299:{count}")[-1]
        drops = sh(b, "cat /proc/net/stat/nf_conntrack")
    finally:
        if conntrack_max:
            sh(b, restore_now(previous), check=False)
    after = tcp_counters(sh(b, overflows), keep=None)
    sh(b, f"docker rm -f {name} >/dev/null 2>&1", check=False)
    connected, failed, p99 = (line.partition("=")[2].split() + ["0", "0", "0"])[:3]
    return {"connected": int(connected), "failed": int(failed), "p99_connect_us": float(p99),
            "listen_overflows": after.get("ListenOverflows", 0) - before.get("ListenOverflows", 0),
            # SYNs dropped or answered with a cookie because the SYN queue was full.
            "listen_drops": after.get("ListenDrops", 0) - before.get("ListenDrops", 0),
            "syn_queue_full": sum(after.get(k, 0) - before.get(k, 0) for k in ("TCPReqQFullDrop", "TCPReqQFullDoCookies")),
            "conntrack_drops_since_boot": sum(conntrack_stat(drops).get(k, 0)
                                              for k in ("insert_failed", "drop", "early_drop"))}


def remove(hosts) -> list[str]:
    """Everything labelled, on every host: containers first, then networks (a swarm network
    goes from a manager once no host has an endpoint on it); what is still there after."""
    containers, networks = M.cleanup_commands()
    for h in hosts:
        sh(h, containers, check=False)
    for h in (*hosts, *hosts):  # the second pass: a network another host held a moment ago
        sh(h, networks, check=False)
    return [f"{h.name}: {' '.join(left)}" for h in hosts
            if (left := sh(h, f"docker ps -aq --filter label={M.LABEL}; docker network ls -q --filter label={M.LABEL}",
                           check=False))]


def run(args, result: dict) -> int:
    """Measures into result (the report main writes, whatever happens); the exit code."""
    state, (a, b), (da, db), cov = load(args.inventory, args.hosts.split(",") if args.hosts else None)
    result["coverage"] = cov
    cleaned = {"done": False}

    def cleanup(*_):
        if not cleaned["done"]:
            cleaned["done"] = True
            left = remove((a, b))
            print(f"{WHO}: " + (f"NOT removed, run `cleanup`: {'; '.join(left)}" if left else
                                f"removed every container and network labelled {M.LABEL} on {a.name}, {b.name}"),
                  file=sys.stderr if left else sys.stdout, flush=True)

    # SIGTERM (a cancelled CI job, systemd stopping a unit) ends the run like Ctrl-C does: as an
    # exception in this greenlet, whose finally removes everything (pyinfra's SSH runs on gevent:
    # a plain signal handler would run inside gevent's loop, where no command can be sent).
    import gevent
    main_greenlet = gevent.getcurrent()
    gevent.signal_handler(signal.SIGTERM, lambda: main_greenlet.throw(SystemExit(128 + signal.SIGTERM)))
    try:
        (ma, env_a), (mb, env_b) = describe(a, da), describe(b, db)
        seconds = args.seconds or da["netbench"]["seconds"]
        reps = args.repetitions or da["netbench"]["repetitions"]
        chosen, left = M.modes(ma, mb, da["netbench"]["subnets"], da["netbench"]["data_subnet"] or None,
                               swarm=bool((da.get("swarm") or {}).get("role") and (db.get("swarm") or {}).get("role")))
        if args.modes:
            chosen = [m for m in chosen if m.name in args.modes.split(",") or m.name == "host"]
        result.update({"client": {"name": a.name, **env_a}, "server": {"name": b.name, **env_b},
                       "seconds": seconds, "repetitions": reps, "left_out": left})
        print(f"{WHO}: client {a.name}, server {b.name}; modes {', '.join(m.name for m in chosen)}; "
              f"{reps} round(s) of {seconds} s per workload" + "".join(f"; {m}: left out ({why})" for m, why in left.items()),
              flush=True)

        def set_up(m):
            for side, cmd in sorted(m.setup.items()):
                sh(a if side == "A" else b, cmd)
            sh(b, m.server)

        for m in chosen:
            if not m.teardown:
                set_up(m)
        rounds = result["rounds"]
        for r in range(1, reps + 1):
            for m in chosen:
                started = time.monotonic()
                if m.teardown:
                    set_up(m)
                try:
                    got = measure(a, b, m, ma.image, seconds)
                finally:
                    for side, cmd in sorted((m.teardown or {}).items()):
                        sh(a if side == "A" else b, cmd, check=False)
                rounds.append({"round": r, "mode": m.name, **got})
                print(f"  round {r}/{reps} {m.name:<18} {report.brief(got)} ({time.monotonic() - started:.0f} s)",
                      flush=True)
        result["summary"] = report.summary(rounds)
        if not args.no_tuning:
            keys = ("net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog")
            host_values = dict(zip(keys, (v.strip() for v in sh(b, "sysctl -n " + " ".join(keys)))))
            count = args.burst
            print(f"  tuning under load: bursts of {count} connections", flush=True)
            result["tuning"] = {
                "count": count,
                "sysctls": {"host": host_values},
                "default_namespace": burst(a, b, ma, mb, count, {}, None),
                "tuned_namespace": burst(a, b, ma, mb, count, host_values, None),
                "conntrack_default": burst(a, b, ma, mb, count, host_values, args.conntrack_default),
                "conntrack_tuned": burst(a, b, ma, mb, count, host_values, None),
                "conntrack_default_max": args.conntrack_default,
            }
    finally:
        cleanup()
    print(report.table(result))
    # A measurement that failed is no figure: the pair failed, each failure named.
    if failures := report.failures(result["rounds"]):
        cov.failed.update({h.name: f"{len(failures)} measurement(s) failed: {'; '.join(failures[:3])}" for h in (a, b)})
        print(f"{WHO}: FAILED: " + "; ".join(failures), file=sys.stderr)
        return 1
    return 0


def write(result: dict, args, started: float) -> Path:
    """The run's report (0600: it names the fleet's hosts and addresses), and its chart."""
    from ..cli import write_atomic
    cov = result["coverage"].as_dict()
    result.update({"finished": time.time(), "duration": round(time.monotonic() - started, 3),
                   "hosts": result["coverage"].in_scope, "coverage": cov, "warnings": [],
                   **{k: cov[k] for k in ("unreachable", "failed", "skipped", "not_checked")}})
    out = Path(args.json or project() / RESULTS / f"netbench-{time.strftime('%Y%m%dT%H%M%S')}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, json.dumps(result, indent=1) + "\n")
    png = report.chart(result, Path(args.png or out.with_suffix(".png"))) if result["summary"] else None
    print(f"{WHO}: {out}" + (f", {png}" if png else ""))
    return out


def main(argv=None) -> int:
    from ..coverage import inventory_problem
    from ..cli import Parser, version
    p = Parser(prog="python -m dockwright.netbench", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"dockwright {version()}")
    p.add_argument("inventory")
    p.add_argument("action", nargs="?", choices=("run", "cleanup"), default="run")
    p.add_argument("--hosts", help="CLIENT,SERVER (default: two opted-in swarm nodes, a manager first)")
    p.add_argument("--modes", help="only these modes (host mode always runs: the ratios' base): " + ",".join(M.ORDER))
    p.add_argument("--repetitions", type=int, help="rounds (default: netbench.repetitions)")
    p.add_argument("--seconds", type=int, help="per measurement (default: netbench.seconds)")
    p.add_argument("--burst", type=int, default=8192, help="connections per burst (default 8192)")
    p.add_argument("--conntrack-default", type=int, default=8192,
                   help="the conntrack limit the untuned burst runs with (default 8192: a small host's kernel default)")
    p.add_argument("--no-tuning", action="store_true", help="leave out the bursts")
    p.add_argument("--json")
    p.add_argument("--png")
    args = p.parse_args(argv)
    if problem := inventory_problem(args.inventory):
        print(f"{WHO}: {problem}", file=sys.stderr)
        return 1
    if args.action == "cleanup":
        try:
            _, hosts, _, _ = load(args.inventory, args.hosts.split(",") if args.hosts else None)
        except Refused as e:
            print(f"{WHO}: refused: {e}", file=sys.stderr)
            return 1
        left = remove(hosts)
        print(f"{WHO}: " + (f"still there: {'; '.join(left)}" if left else
                            f"removed everything labelled {M.LABEL} on {', '.join(h.name for h in hosts)}"))
        return 1 if left else 0
    started = time.monotonic()
    result = {"schema_version": 2, "kind": "netbench", "inventory": args.inventory, "started": time.time(),
              "coverage": Coverage(), "error": None, "client": None, "server": None, "seconds": None,
              "repetitions": None, "left_out": {}, "rounds": [], "summary": {}, "tuning": None}
    try:
        code = run(args, result)
    except Refused as e:
        print(f"{WHO}: refused: {e}", file=sys.stderr)
        cov = result["coverage"] = e.coverage or Coverage()
        cov.not_checked.update(dict.fromkeys(cov.checked, "not measured: the run was refused"))
        result["error"], code = f"refused: {e}", 1
    except (RuntimeError, SystemExit) as e:  # a command failed, or SIGTERM: the pair is not judged
        why = str(e) if isinstance(e, RuntimeError) else f"stopped (exit {e.code}) before the pair was measured"
        cov = result["coverage"]
        cov.not_checked.update(dict.fromkeys(cov.checked, why))
        print(f"{WHO}: {why}", file=sys.stderr)
        result["error"], code = why, 1 if isinstance(e, RuntimeError) else e.code
    result["exit_code"] = code
    write(result, args, started)
    for line in Coverage.of({"hosts": result["hosts"], **result["coverage"]}).lines():
        print(f"{WHO}: {line}")
    return code


if __name__ == "__main__":
    sys.exit(main())
