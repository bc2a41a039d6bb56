"""What the data says a host must look like, derived here from the data and the documented rules
(docs/design.md, "Verification judges for itself" and "Notes per concern"), not by the deploy's
renderers, parsers or diff functions: a bug there must not be "verified" by the same code. The
checks read the hosts with their own commands."""

from dockwright import model, secrets


# Documented sizing of conntrack (docs/design.md, "conntrack"): auto = max(32768 x cores, 131072),
# capped at 1/16 of RAM at 320 bytes an entry; auto buckets = max / 4, at least 1024.
def conntrack_limits(conf: dict, cores: int, mem_bytes: int) -> tuple[int, int]:
    limit = conf.get("max", "auto")
    if limit == "auto":
        limit = min(max(32768 * cores, 131072), mem_bytes // 16 // 320)
    buckets = conf.get("buckets", "auto")
    if buckets == "auto":
        buckets = max(limit // 4, 1024)
    return limit, buckets


def sysctls(desired: dict, cores: int, mem_bytes: int) -> dict[str, object]:
    """{key: value} of every sysctl the data manages; a leading "-" (may be missing) kept."""
    out = dict(desired.get("sysctl", {}).get("settings", {}))
    if model.enabled(desired, "conntrack"):
        conf = desired["conntrack"]
        out["net.netfilter.nf_conntrack_max"] = conntrack_limits(conf, cores, mem_bytes)[0]
        for name, seconds in conf.get("timeouts", {}).items():
            out[f"net.netfilter.nf_conntrack_{name}"] = seconds
    return out


def daemon_json(desired: dict) -> dict:
    """daemon.json's keys and values: the modelled keys, the pass-through keys, and the seccomp
    profile as the daemon's default when the data makes it one."""
    docker = desired.get("docker", {})
    want = {**docker.get("daemon", {}), **docker.get("passthrough", {})}
    seccomp = desired.get("seccomp", {})
    if model.enabled(desired, "seccomp") and seccomp.get("default"):
        want["seccomp-profile"] = f"/etc/docker/seccomp/{seccomp['name']}.json"
    return want


def apt_url(repository: dict, os_release: dict) -> str:
    """The repository's URL as a host's source file must hold it ({id}: debian or ubuntu, from
    ID or ID_LIKE; {codename}: VERSION_CODENAME)."""
    ids = [os_release.get("ID", ""), *os_release.get("ID_LIKE", "").split()]
    return repository["url"].format(id=next((x for x in ids if x in ("debian", "ubuntu")), ids[0]),
                                    codename=os_release.get("VERSION_CODENAME", ""))


def daemon_json_mode(desired: dict) -> str:
    """0600 when daemon.json holds a secret (docs/design.md: a file holding a secret is 0600), else 0644."""
    keys = tuple(desired.get("docker", {}).get("secret_keys", ()))
    return "600" if secrets.holds_secret(daemon_json(desired), keys) else "644"


def network_fields(raw: dict) -> dict:
    """The fields the data can declare, read from `docker network inspect` output."""
    ipam = [c for c in (raw.get("IPAM") or {}).get("Config") or [] if ":" not in c.get("Subnet", "")]
    v4 = ipam[0] if ipam else {}
    opts = raw.get("Options") or {}
    return {
        "subnet": v4.get("Subnet"),
        "gateway": v4.get("Gateway"),
        "ip_range": v4.get("IPRange") or None,
        "aux_addresses": v4.get("AuxiliaryAddresses") or {},
        "mtu": int(opts["com.docker.network.driver.mtu"]) if "com.docker.network.driver.mtu" in opts else None,
        "icc": opts.get("com.docker.network.bridge.enable_icc", "true") == "true",
        "bridge_name": opts.get("com.docker.network.bridge.name"),
        "internal": bool(raw.get("Internal")),
        "ipv6": bool(raw.get("EnableIPv6")),
        "labels": raw.get("Labels") or {},
        "encrypted": "encrypted" in opts,
        "attachable": bool(raw.get("Attachable")),
    }


def network_mismatches(name: str, spec: dict, raw: dict | None) -> list[str]:
    if raw is None:
        return [f"{name}: missing"]
    have = network_fields(raw)
    return [f"{name}.{key}: want {want!r}, has {have.get(key)!r}" for key, want in sorted(spec.items())
            if have.get(key) != want]


def seccomp_mismatches(conf: dict, profile: dict) -> list[str]:
    """What the data asks of the profile, judged from the profile's JSON: deny by default, the
    denied socket families and syscalls allowed by no rule."""
    wrong = []
    if not str(profile.get("defaultAction", "")).startswith(("SCMP_ACT_ERRNO", "SCMP_ACT_KILL")):
        wrong.append(f"defaultAction {profile.get('defaultAction')!r} (want deny)")
    allowed_families, allowed_names = set(), set()
    for rule in profile.get("syscalls", []):
        if rule.get("action") != "SCMP_ACT_ALLOW":
            continue
        args = rule.get("args") or []
        if "socket" in rule.get("names", []) and args:
            allowed_families |= {a["value"] for a in args if a.get("index") == 0 and a.get("op") == "SCMP_CMP_EQ"}
        allowed_names |= set(rule.get("names", [])) - ({"socket"} if args else set())
    wrong += [f"socket family {f} is allowed" for f in conf.get("deny_socket_families", [])
              if f in allowed_families or "socket" in allowed_names]
    wrong += [f"syscall {s} is allowed" for s in conf.get("deny_syscalls", []) if s in allowed_names]
    return wrong
