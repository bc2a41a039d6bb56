"""A signed apt repository that the controller serves to the lab's VMs, standing in for Docker's:
the VMs reach nothing outside, and the mechanism is the same one (a deb822 source, its key in
/etc/apt/keyrings and signed-by, a pin, a hold, a version rollout with a rollback).

Its packages are Debian's own docker.io, downloaded from Debian's archive for the controller's
suite (Debian 12, lab3's), in three versions:

- the archive's version as it is (the one lab3 runs);
- the same files at the version ``+dw1``: an upgrade that works;
- ``+dw2``, whose dockerd exits at once: an upgrade after which the daemon does not come back
  (the injected fault the rollback is proven on).

The key is made for the repository (a throwaway ed25519 key, no passphrase) and exported
ASCII-armored beside it, as users receive Docker's. apt-ftparchive writes the index and the
Release file, gpg signs them (InRelease and Release.gpg).

    repo = aptrepo.build()
    with aptrepo.served(repo, "10.99.0.2", 8780) as url:
        ...   # docker.repository = {"url": url, "suite": "bookworm", "key": str(repo.key), ...}
"""

import contextlib
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from . import config

SUITE = "bookworm"
COMPONENT = "main"
PACKAGE = "docker.io"
ROOT = config.CACHE_DIR / "aptrepo"
BROKEN_DOCKERD = "#!/bin/sh\necho 'dockwright lab: this dockerd exits at once (an upgrade that fails)' >&2\nexit 1\n"


@dataclass(frozen=True)
class Repo:
    root: Path
    key: Path  # the ASCII-armored public key
    versions: tuple[str, str, str]  # the archive's, the working upgrade, the broken one


def _run(*args, **kw):
    return subprocess.run(list(args), check=True, **kw)


def _say(text: str) -> None:
    print(f"aptrepo: {text}", file=sys.stderr, flush=True)


def _repack(original: Path, out: Path, version: str, broken: bool) -> None:
    """Debian's package at another version (and, broken, with a dockerd that exits at once)."""
    work = out.parent / f"unpacked-{version}"
    shutil.rmtree(work, ignore_errors=True)
    _run("dpkg-deb", "-R", str(original), str(work))
    control = work / "DEBIAN" / "control"
    control.write_text("".join(f"Version: {version}\n" if line.startswith("Version: ") else line
                               for line in control.read_text().splitlines(keepends=True)))
    if broken:
        dockerd = work / "usr" / "sbin" / "dockerd"
        dockerd.write_text(BROKEN_DOCKERD)
        dockerd.chmod(0o755)
    _run("dpkg-deb", "-Zgzip", "-z1", "-b", str(work), str(out), stdout=subprocess.DEVNULL)
    shutil.rmtree(work)


def build(root: Path = ROOT) -> Repo:
    """The repository under root, made once and kept (its packages and key reused)."""
    done = root / "versions"
    if done.exists():
        versions = tuple(done.read_text().split())
        return Repo(root, root / "key.asc", versions)
    started = time.monotonic()
    shutil.rmtree(root, ignore_errors=True)
    pool = root / "pool"
    pool.mkdir(parents=True)
    _say(f"downloading {PACKAGE} from Debian's archive")
    if subprocess.run(["apt-get", "download", "-q", PACKAGE], cwd=pool, stdout=subprocess.DEVNULL).returncode:
        _say("apt-get download failed: refreshing apt's lists once and trying again")
        _run("apt-get", "update", "-qq")
        _run("apt-get", "download", "-q", PACKAGE, cwd=pool, stdout=subprocess.DEVNULL)
    original = next(pool.glob(f"{PACKAGE}_*.deb"))
    base = _run("dpkg-deb", "-f", str(original), "Version", capture_output=True, text=True).stdout.strip()
    versions = (base, f"{base}+dw1", f"{base}+dw2")
    for version, broken in ((versions[1], False), (versions[2], True)):
        _say(f"repacking {PACKAGE} {version}" + (" (its dockerd exits at once)" if broken else ""))
        _repack(original, pool / f"{PACKAGE}_{version.replace(':', '%3a')}_amd64.deb", version, broken)
    gnupg = root / "gnupg"
    gnupg.mkdir(mode=0o700)
    gpg = ["gpg", "--homedir", str(gnupg), "--batch", "--quiet"]
    try:
        _run(*gpg, "--passphrase", "", "--quick-gen-key", "dockwright lab repository", "ed25519", "sign", "never")
        with open(root / "key.asc", "w") as f:
            _run(*gpg, "--armor", "--export", stdout=f)
        dist = root / "dists" / SUITE
        binary = dist / COMPONENT / "binary-amd64"
        binary.mkdir(parents=True)
        with open(binary / "Packages", "w") as f:
            _run("apt-ftparchive", "packages", "pool", cwd=root, stdout=f)
        _run("gzip", "-k9", str(binary / "Packages"))
        release = _run("apt-ftparchive", "-o", f"APT::FTPArchive::Release::Suite={SUITE}",
                       "-o", f"APT::FTPArchive::Release::Codename={SUITE}",
                       "-o", f"APT::FTPArchive::Release::Components={COMPONENT}",
                       "-o", "APT::FTPArchive::Release::Architectures=amd64",
                       "-o", "APT::FTPArchive::Release::Origin=dockwright-lab",
                       "release", str(dist), capture_output=True, text=True).stdout
        (dist / "Release").write_text(release)
        _run(*gpg, "--yes", "--clearsign", "-o", str(dist / "InRelease"), str(dist / "Release"))
        _run(*gpg, "--yes", "-abs", "-o", str(dist / "Release.gpg"), str(dist / "Release"))
    finally:  # gpg starts an agent for this home: stopped, so that nothing is left running
        subprocess.run(["gpgconf", "--homedir", str(gnupg), "--kill", "gpg-agent"], check=False)
    done.write_text(" ".join(versions))
    _say(f"built in {time.monotonic() - started:.0f} s: {', '.join(versions)}")
    return Repo(root, root / "key.asc", versions)


@contextlib.contextmanager
def served(repo: Repo, addr: str, port: int):
    """The repository over HTTP at addr:port while inside (the server stopped by its pid after),
    yielding its URL."""
    log = open(config.RUN_DIR / "aptrepo-http.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", addr, "--directory",
                               str(repo.root), str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://{addr}:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                # Straight to the address: a proxy from the environment is never asked.
                with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                        f"{url}/dists/{SUITE}/InRelease", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the repository's HTTP server did not start on {url} "
                                       f"(see {config.RUN_DIR / 'aptrepo-http.log'})")
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


if __name__ == "__main__":  # python -m lab.aptrepo: build it (and say where)
    made = build()
    print(made.root, " ".join(made.versions))
