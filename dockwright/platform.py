"""What differs between Linux distributions, in one place. dockwright manages the Debian family
(Debian, Ubuntu, and what names them in ID_LIKE); a port to another family is one more
``Platform`` here, chosen by ``of(os_release)``, and a host of a family not listed is refused
before any change (``problem``).

What the Debian family fixes: how the engine's package is asked for and installed (dpkg, apt),
where the service's own flags live (/etc/default/docker), and the names of the engine packages.
The rest is common to systemd hosts (systemd-sysctl's directories, docker.service).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Platform:
    family: str
    package_query: str  # prints "PACKAGE VERSION STATUS" of each package of every flavour the system knows
    package_reader: str  # the same lines, by the host's reader (dockwright.host_reader's dpkg op)
    package_listed: str  # a shell test: an engine package's files are listed (it is unpacked)
    service_defaults: str  # the file a packaged docker.service reads extra flags from
    install_command: str  # installs {packages}
    packages: dict  # engine flavour -> the packages that install it

    def install(self, flavour: str) -> str:
        return self.install_command.format(packages=self.packages[flavour])


# The Debian family's engine packages: the one that is the engine, of each flavour, and every
# package of either flavour the read asks dpkg about.
_DEBIAN_ENGINES = ("docker.io", "docker-ce")
_DEBIAN_READ = ("docker.io", "docker-cli", "docker-ce", "docker-ce-cli", "containerd.io")

DEBIAN = Platform(
    family="debian",
    package_query=("dpkg-query -W -f='${Package} ${Version} ${Status}\\n' "
                   f"{' '.join(_DEBIAN_READ)} 2>/dev/null"),
    package_reader="dpkg:" + ",".join(_DEBIAN_READ),
    package_listed=" || ".join(f"[ -f /var/lib/dpkg/info/{p}.list ]" for p in _DEBIAN_ENGINES),
    service_defaults="/etc/default/docker",
    install_command="DEBIAN_FRONTEND=noninteractive apt-get install -y -q {packages}",
    # docker.io brings its CLI (the docker.io package itself up to Debian 12, docker-cli after);
    # Docker's packages are installed as Docker documents them.
    packages=dict(zip(_DEBIAN_ENGINES, ("docker.io", "docker-ce docker-ce-cli containerd.io"))),
)

FAMILIES = {"debian": DEBIAN, "ubuntu": DEBIAN}


def of(os_release: dict) -> Platform | None:
    """The platform of a host from its /etc/os-release (ID, then ID_LIKE), None when unsupported."""
    for name in [os_release.get("ID", ""), *os_release.get("ID_LIKE", "").split()]:
        if name in FAMILIES:
            return FAMILIES[name]
    return None


def problem(os_release: dict) -> tuple[str, str, str] | None:
    """(key, value, why) for a host dockwright does not manage, else None."""
    if of(os_release):
        return None
    shown = " ".join(x for x in (os_release.get("ID"), os_release.get("VERSION_ID")) if x) or "unknown (no /etc/os-release)"
    return ("platform", shown, "dockwright installs Docker with apt/dpkg and orders sysctl files as Debian "
                               "does; this host is not Debian or Ubuntu (nor ID_LIKE=debian)")
