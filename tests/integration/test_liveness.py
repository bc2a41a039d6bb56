"""dockwright.liveness against a real SSH server that goes silent.

The server is paramiko's own, in a process of its own on loopback; SIGSTOP freezes it, so its
TCP connection stays open (the kernel still acknowledges) while nothing answers: a dead kernel
behind a live path, as a lab VM after a panic or a host behind a black-holing link. The client
side runs as pyinfra runs it (gevent, monkey-patched) in a process of its own too."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SERVER = textwrap.dedent("""
    import socket, sys, threading, paramiko
    key = paramiko.RSAKey.generate(2048)

    class Server(paramiko.ServerInterface):
        def check_auth_none(self, username):
            return paramiko.AUTH_SUCCESSFUL
        def get_allowed_auths(self, username):
            return "none"
        def check_channel_request(self, kind, chanid):
            return paramiko.OPEN_SUCCEEDED
        def check_channel_exec_request(self, channel, command):
            return True  # a command that runs for ever: it never prints and never exits
        def check_global_request(self, kind, msg):
            return False  # as OpenSSH answers keepalive@openssh.com: "request failed", a reply

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    print(sock.getsockname()[1], flush=True)
    conn, _ = sock.accept()
    t = paramiko.Transport(conn)
    t.add_server_key(key)
    t.start_server(server=Server())
    chan = t.accept(30)
    threading.Event().wait()
""")

CLIENT = textwrap.dedent("""
    from gevent import monkey; monkey.patch_all()
    import json, sys, time, types, paramiko
    from dockwright import liveness, run
    port, interval, dead_after = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    t = paramiko.Transport(("127.0.0.1", port))
    t.connect(username="u")
    t.auth_none("u")
    client._transport = t
    host = types.SimpleNamespace(name="h1", print_prefix="[h1] ", connector=types.SimpleNamespace(client=client))
    liveness.watch(host, interval=interval, dead_after=dead_after)
    chan = t.open_session()
    chan.exec_command("sleep forever")
    print("ready", flush=True)
    start = time.monotonic()
    data = chan.recv(100)  # blocks until the command prints, ends, or the session is closed
    print(json.dumps({"waited": time.monotonic() - start, "data": data.decode(),
                      "status": chan.recv_exit_status(), "declared": run.of(host).declared}), flush=True)
""")


def _pair(interval: float, dead_after: float, freeze_after: float | None, limit: float):
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    client = None
    try:
        port = server.stdout.readline().strip()
        client = subprocess.Popen([sys.executable, "-c", CLIENT, port, str(interval), str(dead_after)],
                                  cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=dict(os.environ, PYTHONPATH=str(REPO)))
        assert client.stdout.readline().strip() == "ready", client.stderr.read()
        if freeze_after is not None:
            time.sleep(freeze_after)
            server.send_signal(signal.SIGSTOP)  # the host goes silent; its TCP stays up
        try:
            out, err = client.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            return None
        return json.loads(out.strip().splitlines()[-1])
    finally:
        for p in (client, server):
            if p and p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.kill()
                p.wait()


def test_a_silent_host_is_declared_within_the_bound_and_its_command_ends():
    result = _pair(interval=0.5, dead_after=2.0, freeze_after=0.5, limit=30)
    assert result is not None, "the command was still waiting: the silent host was never declared"
    assert result["declared"] == {"h1": "no answer over SSH for 2 s (keepalive every 0.5 s)"}
    assert result["data"] == "" and result["status"] == -1  # ended by the closed session, not by the host
    # Frozen 0.5 s in; declared at most dead_after after the last reply (plus scheduling slack).
    assert 1.5 <= result["waited"] <= 4.5, result


def test_a_host_that_answers_is_never_declared_however_long_its_command_runs():
    # Control: the same long command on a server that keeps answering keepalives is left alone
    # for several times the bound (the client is stopped from outside after 6 s).
    assert _pair(interval=0.5, dead_after=1.5, freeze_after=None, limit=6) is None
