"""The host-state read, part by part (a deploy file for ``python -m bench.read_profile``).

For each host it builds the read a run sends (the wanted concerns' reads, in the facts' order,
in the parts that preflight's prefetch sends: dockwright.factcache.read_parts), then runs on the
host, in one command: each part alone, the whole read, and ``true``, each REPEAT times in a row. Around each it notes the
host's clock (/proc/uptime) and its count of processes started since boot (/proc/stat), with
the shell's own ``read``, so that the harness itself starts nothing. It changes nothing.

The answer goes to the JSON file named by DOCKWRIGHT_READ_PROFILE (a list, one entry per host).
"""

import json
import os

from pyinfra import host

from dockwright import concerns, factcache, facts, host_reader

REPEAT = int(os.environ.get("DOCKWRIGHT_READ_REPEAT", "5"))

HARNESS = r"""
mark() { read -r up _ < /proc/uptime; while read -r k v _; do [ "$k" = processes ] && break; done < /proc/stat; echo "$1 $up $v"; }
"""


def _label(members) -> str:
    return " + ".join(c.__name__ + "".join(f" {v}" for v in kw.values() if isinstance(v, str)) for c, kw, _ in members)


def _group_rows(members) -> list[tuple[str, str]]:
    """The host reader's part taken apart: the reader with every op, then each fact's rest."""
    pairs = [(fact, kw) for _, kw, fact in members]
    ops = [op for fact, kw in pairs for op in fact.ops(**kw)]
    rows = [(f"  reader: {len(ops)} ops ({', '.join(op.split(':')[0] for op in ops)})", host_reader.python_command(ops))]
    rows += [(f"  rest: {type(fact).__name__}", rest) for fact, kw in pairs if (rest := fact.rest(**kw))]
    return rows


view = concerns.view(host)
# The parts as preflight's prefetch sends them (facts that share a read, in one part); the host
# reader's part is shown whole ("host reader: FACTS"), then taken apart (not in the whole read).
parts, apart = [], []
for command, members in factcache.read_parts([(r.fact, r.args, r.fact()) for r in concerns.reads(view)]):
    shared = len(members) > 1 and getattr(members[0][2], "shared", None) is host_reader.READ
    parts.append(((f"host reader: {_label(members)}" if shared else _label(members)), command))
    if shared:
        apart += _group_rows(members)
whole = factcache.HostState().command(commands=tuple(c for _, c in parts))
steps = [*parts, *apart, ("whole read", whole), ("true", "true")]
script = [HARNESS]
for i, (_, command) in enumerate(steps):
    # Each part in its own subshell without stdin, as the combined read runs it; its output is dropped.
    script.append(f"mark start{i}; for r in {' '.join(['x'] * REPEAT)}; do ( {command} ) </dev/null >/dev/null 2>&1; done; mark end{i}")
ok, output = host.run_shell_command("\n".join(script), print_output=False)
marks = {}
for line in output.stdout_lines if hasattr(output, "stdout_lines") else output:
    name, up, count = line.split()
    marks[name] = (float(up), int(count))
rows = []
for i, (label, _) in enumerate(steps):
    (t0, p0), (t1, p1) = marks[f"start{i}"], marks[f"end{i}"]
    # Each repetition's own subshell is a process started by the harness, not by the part.
    rows.append({"part": label, "ms": round((t1 - t0) * 1000 / REPEAT, 1),
                 "processes": round((p1 - p0) / REPEAT - 1, 1)})
engine = facts.docker_engine().get(host)  # before the shared file is read: a read lets the other hosts run
path = os.environ["DOCKWRIGHT_READ_PROFILE"]
found = json.loads(open(path).read()) if os.path.exists(path) and os.path.getsize(path) else []
found.append({"host": host.name, "engine": ".".join(map(str, engine["version"] or ())), "package": engine["package"],
              "repeat": REPEAT, "ok": ok, "parts": rows})
with open(path, "w") as f:
    json.dump(found, f, indent=1)
