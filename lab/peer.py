"""The controller as one more host on the lab's data network, for a scenario that needs sources
outside the VMs: a tap plugged into the data switch, with addresses of its own.

A host firewall's bypass is shown from here (tests/e2e/test_15_host_firewall.py): two sources,
one a port policy admits and one it refuses, on a VM's own data network, without touching the
other VMs (they belong to the other lane). The tap lives while the scenario runs; ``lab down``
removes one a killed scenario left. Nothing is routed: the tap carries only the data subnet.

    with peer.joined(("10.99.0.2", "10.99.0.3")) as sources:
        peer.fetch("10.99.0.13", 8088, source=sources[0])
"""

import contextlib
import socket
import subprocess

from . import config, vm

# Linux interface names hold 15 characters; one tap per checkout, like its switch.
TAP = f"dw{config.CHECKOUT_ID.rsplit('-', 1)[-1]}"[:15]
PLUG = "vde_plug2tap"
# One MAC for every join: a tap made again would get a new random one, and a VM would send its
# replies to the old one for as long as its neighbour entry for that address stays (seen here:
# only the address the controller ARPed from was answered).
MAC = "52:54:00:99:00:fe"


def _pidfile():
    return config.RUN_DIR / "peer.pid"


@contextlib.contextmanager
def joined(addresses: tuple[str, ...]):
    """The controller on the data switch with these addresses (the subnet's /24) while inside."""
    sock, _ = vm.switch_paths()
    leave()  # one a killed scenario left
    subprocess.run(["ip", "tuntap", "add", TAP, "mode", "tap"], check=True)
    try:
        subprocess.run(["ip", "link", "set", TAP, "address", MAC], check=True)
        for addr in addresses:
            subprocess.run(["ip", "addr", "add", f"{addr}/24", "dev", TAP], check=True)
        subprocess.run(["ip", "link", "set", TAP, "up"], check=True)
        subprocess.run([PLUG, "-s", str(sock), "-d", "-P", str(_pidfile()), TAP], check=True)
        yield addresses
    finally:
        leave()


def leave() -> None:
    """The plug stopped (by its pid file) and the tap removed, if they exist."""
    pidfile = _pidfile()
    if vm._signal(pidfile, PLUG):
        vm._wait_gone(pidfile, PLUG, 10)
    pidfile.unlink(missing_ok=True)
    subprocess.run(["ip", "link", "del", TAP], stderr=subprocess.DEVNULL, check=False)


def fetch(addr: str, port: int, source: str, timeout: float = 4.0) -> str:
    """An HTTP GET from source to addr:port: the body's first line, "refused", "reset" (not an
    HTTP server), or "timeout" (a dropped SYN, as DOCKER-USER's DROP and ufw's deny both give)."""
    try:
        with socket.create_connection((addr, port), timeout=timeout, source_address=(source, 0)) as conn:
            conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := conn.recv(4096):
                data += chunk
    except ConnectionRefusedError:
        return "refused"
    except ConnectionResetError:
        return "reset"
    except (TimeoutError, socket.timeout):
        return "timeout"
    body = data.split(b"\r\n\r\n", 1)[-1].decode(errors="replace").strip()
    return body.splitlines()[0] if body else "empty"
