"""The container profiles' side: AppArmor's state and the parser's verdict on a candidate
profile. The seccomp profile file is read with ``Sha256File`` (pyinfra's, in one process)."""

import shlex

from pyinfra.api import FactBase
from pyinfra.facts import files

from .. import host_paths, host_reader, remote

__all__ = ["AppArmorState", "ProfileCheck", "Sha256File"]


class Sha256File(host_reader.PythonPart, files.Sha256File, digits=64, cmds=["sha256sum"]):
    """
    pyinfra's ``Sha256File`` (its name, its answer: the hash, or None when there is no such
    file). Read alone, in one process: sha256sum, without the subshell pyinfra's command runs
    its fallbacks in (shasum, BSD's sha256: Debian and Ubuntu have coreutils); in the
    host-state read, by the host's reader.
    """

    def command(self, path):
        self.path = path
        return f"test -e {shlex.quote(path)} && sha256sum {shlex.quote(path)} 2>/dev/null || true"

    def ops(self, path):
        self.path = path
        return [f"sha256:{path}"]

    def lines(self, answers, path):
        if not host_reader.answered(answers):
            return None
        return [f"{answers[0][0]}  {path}"] if answers[0] else []


class AppArmorState(host_reader.PythonPart, FactBase):
    """
    Whether AppArmor is enabled, the profile file's sha256 and the profile's loaded mode.

    Returns ``{"enabled": bool, "parser": bool, "file_sha256": str|None, "loaded": mode|None,
    "foreign": str|None}``; ``foreign`` names what holds the profile's path when it is not a
    file dockwright wrote (a directory, another package's profile).
    """

    def command(self, profile_name: str):
        return f"{self.fallback(profile_name)}; {self.rest(profile_name)}"

    def fallback(self, profile_name: str):
        return remote.sha256_line(f"{host_paths.APPARMOR_DIR}/{profile_name}", "sha256 ") + "; true"

    # In the host-state read the file's hash is the host reader's (dockwright.host_reader).
    def ops(self, profile_name: str):
        return [f"sha256:{host_paths.APPARMOR_DIR}/{profile_name}"]

    def lines(self, answers, profile_name: str):
        if not host_reader.answered(answers):
            return None
        return [f"sha256 {answers[0][0]}"] if answers[0] else []

    def rest(self, profile_name: str):
        name = profile_name
        path = shlex.quote(f"{host_paths.APPARMOR_DIR}/{name}")
        return (
            "e=N; read -r e 2>/dev/null < /sys/module/apparmor/parameters/enabled; echo enabled $e; "
            "command -v apparmor_parser >/dev/null && echo parser; "
            # The first line and the loaded profiles by the shell's own read: a process each would
            # cost more than the reading.
            f"if [ -L {path} ] || [ -e {path} ] && ! {{ [ -f {path} ] && IFS= read -r first < {path} && "
            "case \"$first\" in '# Managed by dockwright'*) true;; *) false;; esac; }; "
            f"then echo foreign $(stat -c %F {path}); fi; "
            # Lines that start with "NAME (", quoted: the name is never a pattern.
            f"n={shlex.quote(name + ' (')}; {{ while IFS= read -r l; do case \"$l\" in \"$n\"*) echo \"loaded $l\";; esac; "
            "done < /sys/kernel/security/apparmor/profiles; } 2>/dev/null; true"
        )

    def process(self, output):
        state = {"enabled": False, "parser": False, "file_sha256": None, "loaded": None, "foreign": None}
        for line in output:
            word, _, rest = line.partition(" ")
            if word == "enabled":
                state["enabled"] = rest.strip() == "Y"
            elif word == "parser":
                state["parser"] = True
            elif word == "sha256":
                state["file_sha256"] = remote.hash_of(rest)
            elif word == "foreign":
                state["foreign"] = rest.strip() or "something"
            elif word == "loaded":
                state["loaded"] = rest.rsplit("(", 1)[-1].rstrip(")")
        return state


class ProfileCheck(FactBase):
    """``apparmor_parser -Q -K`` (parse only, load nothing) on a candidate profile.

    Returns ``{"ok": bool, "message": str}``."""

    def command(self, content: str):
        return ("f=$(mktemp); printf '%s' " + shlex.quote(content) + " > \"$f\"; "
                "if out=$(apparmor_parser -Q -K \"$f\" 2>&1); then echo ok; "
                "else echo rejected; printf '%s\\n' \"$out\"; fi; rm -f \"$f\"")

    def process(self, output):
        return {"ok": bool(output) and output[0] == "ok",
                "message": " ".join(x.strip() for x in output[1:])}
