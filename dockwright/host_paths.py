"""Where dockwright reads and writes on a managed host: each path spelled once, for the facts
that read it, the plans that decide on it and the operations that write it. (The verification
suite keeps its own spellings on purpose: it checks the host independently of this code.)"""

# dockwright's own state: the rollout's journal and scripts, the network recreate journals.
STATE_DIR = "/var/lib/dockwright"
ROLLOUT_STATE = f"{STATE_DIR}/rollout.state"
ROLLOUT_LOG = f"{STATE_DIR}/rollout.log"
ROLLOUT_PID = f"{STATE_DIR}/rollout.pid"
ROLLOUT_SCRIPT = f"{STATE_DIR}/daemon-apply.sh"
CANDIDATE = f"{STATE_DIR}/daemon.json.candidate"
FAILED_CANDIDATE = f"{STATE_DIR}/daemon.json.failed"  # the last candidate rolled back
NETWORK_JOURNALS = f"{STATE_DIR}/networks"
# The engine package's rollout: its script, its log and the last version rolled back.
PACKAGE_SCRIPT = f"{STATE_DIR}/package-apply.sh"
PACKAGE_LOG = f"{STATE_DIR}/package.log"
PACKAGE_FAILED = f"{STATE_DIR}/package.failed"

# apt's: the engine's repository, its signing key and the version pin (dockwright's own files)
APT_KEYRING = "/etc/apt/keyrings/dockwright-docker.asc"
APT_SOURCE = "/etc/apt/sources.list.d/dockwright-docker.sources"
APT_PIN = "/etc/apt/preferences.d/dockwright-docker"

# Docker's
DAEMON_JSON = "/etc/docker/daemon.json"
DOCKER_SOCKET = "/var/run/docker.sock"
SECCOMP_DIR = "/etc/docker/seccomp"

# The kernel's and the system's
APPARMOR_DIR = "/etc/apparmor.d"
SYSCTL_D = "/etc/sysctl.d"
SYSCTL_CONF = "/etc/sysctl.conf"  # read after every sysctl.d file (Debian's 99-sysctl.conf link)
MODULES_LOAD = "/etc/modules-load.d/dockwright-conntrack.conf"
MODPROBE = "/etc/modprobe.d/dockwright-conntrack.conf"
SYSTEMD_DIR = "/etc/systemd/system"

# The port policy: its rules files and the unit that applies them after dockerd starts.
RULES_DIR = "/etc/dockwright"
PORT_POLICY_UNIT = f"{SYSTEMD_DIR}/dockwright-port-policy.service"
