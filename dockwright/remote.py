"""Running commands from Python callbacks (FunctionCommand) as the operation would.

pyinfra 3.10's FunctionCommand drops the connector arguments (``_sudo``, ``_su_user``,
``_env``, ...) of its operation: a ``host.run_shell_command`` inside the callback runs as the
SSH user with only what it is given. Operations capture their arguments while they are
planned and pass them on, so ``--sudo`` reaches every command dockwright runs.
"""

import shlex

from pyinfra.api import StringCommand
from pyinfra.api.arguments import CONNECTOR_ARGUMENT_KEYS


def connector_args(host) -> dict:
    """The connector arguments of the operation being planned on host (empty outside one)."""
    args = getattr(host, "current_op_global_arguments", None) or {}
    return {k: v for k, v in args.items() if k in CONNECTOR_ARGUMENT_KEYS and k != "_stdin"}


def run(host, command: str, conn: dict | None = None, stdin: str | None = None):
    """(ok, output) of one shell command on host with the operation's connector arguments;
    stdin, when given, is sent to the command (never on its command line)."""
    kwargs = dict(conn or {})
    if stdin is not None:
        kwargs["_stdin"] = stdin
    return host.run_shell_command(StringCommand(command), print_output=False, **kwargs)


def fact_command(fact, kwargs: dict) -> str:
    """The shell text of a fact's command for these arguments (a method or a plain attribute, a
    string or pyinfra's StringCommand), as the host-state read puts it together."""
    command = fact.command(**kwargs) if callable(fact.command) else fact.command
    return command.get_raw_value() if hasattr(command, "get_raw_value") else str(command)


def sections(output: list[str]) -> dict[str, list[str]]:
    """The lines of a combined fact command, by the ``@@name`` marker that precedes each part."""
    found: dict[str, list[str]] = {}
    current = None
    for line in output:
        if line.startswith("@@"):
            current = line[2:]
            found[current] = []
        elif current:
            found[current].append(line)
    return found


def show_file(path: str, prefix: str = "") -> str:
    """Shell that prints a file's lines, each after prefix, nothing when there is no such file:
    with the shell's own read and printf, as cat or sed would cost a process each."""
    return (f"{{ while IFS= read -r l || [ -n \"$l\" ]; do printf '%s%s\\n' {shlex.quote(prefix)} \"$l\"; "
            f"done < {shlex.quote(path)}; }} 2>/dev/null")


def matching_lines(path: str, pattern: str, strip: str = "") -> str:
    """Shell that prints the lines of a file matching a case pattern (leading blanks dropped),
    without strip at their start, by the shell's own read: nothing when there is no such file."""
    value = f"${{l#{strip}}}" if strip else "$l"
    return (f"{{ while read -r l || [ -n \"$l\" ]; do case \"$l\" in {pattern}) printf '%s\\n' \"{value}\";; "
            f"esac; done < {shlex.quote(path)}; }} 2>/dev/null")


def sha256_line(path: str, prefix: str = "") -> str:
    """Shell that prints prefix and the file's sha256 as sha256sum prints it for its standard
    input ("HASH  -"; hash_of takes it out), nothing when there is no such file: one process,
    sha256sum, writing straight to the read's output (a command substitution would fork once
    more). A hash that fails midway ends its line empty."""
    return f"[ -f {shlex.quote(path)} ] && {{ printf '%s' {shlex.quote(prefix)}; sha256sum < {shlex.quote(path)} || echo; }}"


def hash_of(text: str | None) -> str | None:
    """The sha256 in a sha256_line's output (after its prefix), None when there is none."""
    word = (text or "").split(" ", 1)[0].strip()
    return word if len(word) == 64 and all(c in "0123456789abcdef" for c in word) else None
