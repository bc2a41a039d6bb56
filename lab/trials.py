"""Boot-trial measurement: how often does the lab kernel oops early under this accelerator?

    python -m lab trials [--count 30] [--parallel 3] [--smp 2] [--append "tsc=unstable"]

Each trial boots the lab kernel alone (no initrd, no root disk); it waits 10 s for a root
device (rootdelay) and then panics for want of one. By then it has run every initcall,
marked sched_clock stable (where the int3 oops under multi-threaded TCG was seen) and run on
for seconds. A trial counts as an
oops when the console shows one before that expected panic. Several trials run at once, to
load the host the way three booting VMs do.
"""

import argparse
import concurrent.futures
import subprocess
import time

from . import config, image, vm

EXPECTED = "VFS: Unable to mount root fs"


def one(img, smp: int, append: str, timeout: int, delay: int = 10) -> tuple[str, float, str]:
    argv = ["qemu-system-x86_64", *vm.tcg_args(), "-smp", str(smp), "-m", "512", "-display", "none",
            "-serial", "stdio", "-no-reboot", "-kernel", str(img / "vmlinuz"),
            "-append", f"console=ttyS0 panic=-1 root=/dev/null rootdelay={delay} {vm.KERNEL_EXTRA} "
            f"{append}".strip()]
    start = time.monotonic()
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout).stdout
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return "hang", time.monotonic() - start, out[-400:]
    before = out.split(EXPECTED)[0].rsplit("\n", 1)[0]  # up to the line of the expected panic
    fatal = vm.fatal_lines(before)
    if fatal:
        return "oops", time.monotonic() - start, "\n".join(fatal)
    return ("ok" if EXPECTED in out else "other"), time.monotonic() - start, out[-400:]


def main(count: int, parallel: int, smp: int, append: str, timeout: int) -> int:
    img = image.build()
    results = []
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        futures = [pool.submit(one, img, smp, append, timeout) for _ in range(count)]
        for n, fut in enumerate(concurrent.futures.as_completed(futures), 1):
            kind, secs, detail = fut.result()
            results.append(kind)
            print(f"trial {n}/{count}: {kind} in {secs:.1f} s")
            if kind != "ok":
                print("    " + detail.replace("\n", "\n    "))
    summary = {k: results.count(k) for k in sorted(set(results))}
    print(f"trials: smp={smp} append={append!r} KERNEL_EXTRA={vm.KERNEL_EXTRA!r} "
          f"parallel={parallel}: {summary}")
    return 0 if summary.get("ok", 0) == count else 1


def cli(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m lab trials", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=30)
    p.add_argument("--parallel", type=int, default=3)
    p.add_argument("--smp", type=int, default=config.CPUS)
    p.add_argument("--append", default="")
    p.add_argument("--timeout", type=int, default=120)
    a = p.parse_args(argv)
    return main(a.count, a.parallel, a.smp, a.append, a.timeout)
