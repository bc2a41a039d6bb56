"""The engine package's plan: where apt takes it from (dockwright's repository file and its key),
which version is pinned, whether it is held, and whether a rollout must change the installed
version. Decided from docker's data and the DockerEngine fact alone."""

import fnmatch
from dataclasses import dataclass, field

from .. import platform, templating
from ..host_paths import APT_KEYRING, APT_PIN, APT_SOURCE
from . import Plan


@dataclass
class PackagePlan(Plan):
    writes: list[tuple[str, str]] = field(default_factory=list)  # (path, content) of apt's files
    removes: list[str] = field(default_factory=list)  # dockwright's apt files no longer wanted
    update: bool = False  # refresh the repository's index before installing from it
    upgrade: str | None = None  # the version to roll out (the installed one differs)
    hold: list[str] = field(default_factory=list)
    unhold: list[str] = field(default_factory=list)

    def side(self, files: bool) -> Plan:
        """The items of one side: apt's files (keys "apt: ...", recorded by ``docker.engine``,
        which writes them) or the version and its hold (by ``package.engine_version``)."""
        return Plan(items=[x for x in self.items if x[0].startswith("apt: ") == files])


def codename(engine: dict) -> str:
    return (engine.get("os") or {}).get("VERSION_CODENAME", "")


def os_id(engine: dict) -> str:
    """debian or ubuntu: the name Docker's repositories are split by (a derivative by its ID_LIKE)."""
    os_release = engine.get("os") or {}
    for name in [os_release.get("ID", ""), *os_release.get("ID_LIKE", "").split()]:
        if name in ("debian", "ubuntu"):
            return name
    return os_release.get("ID", "")


def source_file(conf: dict, engine: dict) -> str:
    """The repository in deb822 form, signed by its own key only."""
    repo = conf["repository"]
    fill = {"id": os_id(engine), "codename": codename(engine)}
    return templating.render(
        "docker/apt.sources.j2", url=repo["url"].format(**fill),
        suite=codename(engine) if repo["suite"] == "auto" else repo["suite"],
        components=" ".join(repo["components"]), keyring=APT_KEYRING)


def pin_file(conf: dict) -> str:
    return templating.render("docker/apt-pin.j2", package=conf["package"], version=conf["version"])


def key_file(key_text: str) -> str:
    return key_text if key_text.endswith("\n") else key_text + "\n"


def flavour_packages(conf: dict, engine: dict) -> list[str]:
    """The installed packages of the configured flavour (what a hold covers)."""
    wanted = platform.DEBIAN.packages[conf["package"]].split()
    if conf["package"] == "docker.io":
        wanted.append("docker-cli")  # its own package from Debian 13
    return [p for p in wanted if p in (engine.get("packages") or {})]


def version_matches(installed: str | None, wanted: str) -> bool:
    return installed is not None and fnmatch.fnmatchcase(installed, wanted)


def package_plan(conf: dict, engine: dict, key_text: str | None, retry_failed: bool = False) -> PackagePlan:
    """
    docker's data (``conf``) against the DockerEngine fact: dockwright's apt files (written when
    their text differs, removed when no longer wanted), the hold, and a version rollout.

    ``key_text`` is the repository's key as the data names it; None leaves the key unjudged (the
    version's side, and preflight's refusal, need only the rest).
    A version that a rollout rolled back on this host is not tried again unless ``retry_failed``:
    the host is refused, naming it, as a daemon.json rolled back is.
    """
    p = PackagePlan()
    apt = engine.get("apt") or {}
    want = {}
    if conf["source"] == "repository":
        if key_text is not None:  # None: the key is not judged (the version's side of the plan)
            want[APT_KEYRING] = key_file(key_text)
        want[APT_SOURCE] = source_file(conf, engine)
    if conf["version"]:
        want[APT_PIN] = pin_file(conf)
    for name, path in (("apt_key", APT_KEYRING), ("apt_source", APT_SOURCE), ("apt_pin", APT_PIN)):
        if path == APT_KEYRING and key_text is None and conf["source"] == "repository":
            continue
        have = apt.get(name)
        if path in want and have != want[path]:
            p.writes.append((path, want[path]))
            p.differs(f"apt: {path}", "(as the data says)" if path != APT_SOURCE else want[path].strip(),
                      "absent" if have is None else "differs")
        elif path not in want and have is not None:
            p.removes.append(path)
            p.differs(f"apt: {path}", "absent", "present")
    repo_changed = any(path in (APT_KEYRING, APT_SOURCE) for path, _ in p.writes)
    installed = engine.get("package_version")
    if conf["version"] and engine.get("package") and not version_matches(installed, conf["version"]):
        failed = engine.get("package_failed") or {}
        if failed.get("version") and version_matches(failed["version"], conf["version"]) and not retry_failed:
            p.differs("package: version rolled back before, not retried", conf["version"], installed)
            p.refusal = (f"{conf['package']} {failed['version']} was rolled back at {failed.get('at')}: "
                         f"{failed.get('reason')}; not tried again. Change docker.version, or retry it with "
                         "--data 'docker={\"retry_failed\": true}'")
        else:
            p.upgrade = conf["version"]
            p.differs(f"package: {conf['package']} version", conf["version"], installed)
    # Refreshed here when the source changed or the first install comes from it; a version
    # rollout refreshes it itself, as its first step (a no-op run never touches apt's lists).
    p.update = conf["source"] == "repository" and (repo_changed or not engine.get("package"))
    held = set(engine.get("held") or ())
    packages = flavour_packages(conf, engine)
    if not conf["version"] and APT_PIN in p.removes:
        # The version is no longer pinned: the holds that came with the pin go with it (apt's
        # files side: the version's operation runs only while a version is pinned).
        p.unhold = [x for x in packages if x in held]
        for name in p.unhold:
            p.differs(f"apt: {name} held (with the pin)", False, True)
    if conf["version"]:
        if conf["hold"]:
            p.hold = [x for x in packages if x not in held]
        else:
            p.unhold = [x for x in packages if x in held]
        for name in p.hold:
            p.differs(f"package: {name} held", True, False)
        for name in p.unhold:
            p.differs(f"package: {name} held", False, True)
    return p
