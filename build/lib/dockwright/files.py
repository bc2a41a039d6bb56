"""Writing a managed file, one way for every operation: the content's hash to compare with a
fact, the command that replaces the file, and the content diff under pyinfra's --diff."""

import posixpath
import shlex

from pyinfra import logger
from pyinfra.facts.files import FileContents
from pyinfra.operations.util.files import generate_color_diff


def write(path: str, content: str, mode: str = "0644", backup: str | None = None) -> str:
    """The command that replaces path with content. The content goes to a file beside it (the
    same filesystem), gets its mode, and is renamed over path: a reader sees the old file or
    the new one, never half of one. With backup, the file replaced is copied there first."""
    q, new = shlex.quote(path), shlex.quote(path + ".dockwright-new")
    command = (f"install -d -m 0755 {shlex.quote(posixpath.dirname(path))} && "
               f"printf '%s' {shlex.quote(content)} > {new} && chmod {mode} {new}")
    if backup:
        command += f" && ([ ! -f {q} ] || cp -p {q} {shlex.quote(backup)})"
    return command + f" && mv -T {new} {q}"  # -T: a directory at path fails, never swallows it


def show_diff(host, path: str, content: str) -> None:
    """Under --diff (and --dry --diff), shows how the file would change, as pyinfra shows its own
    files'. Only then is the file's content read: the facts compare hashes."""
    if not host.state.config.DIFF:
        return
    current = host.get_fact(FileContents, path=path)
    host.log(f"{'Will modify' if current is not None else 'Will create'} {path}", logger.info)
    for line in generate_color_diff([f"{line}\n" for line in current or []], content.splitlines(keepends=True)):
        logger.info("  %s", line)
