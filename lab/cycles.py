"""Repeated `up` / `down` cycles: the lab's own reliability test.

    python -m lab cycles [--count 8]

Each cycle brings the whole fleet up from nothing (every VM booted, SSH, `docker info` and the
test image checked), then takes it down. Prints each cycle's time, the boot failures the
console watcher detected and recovered, and a summary; exits non-zero if any `up` failed.
"""

import argparse
import time

from . import vm


def main(count: int) -> int:
    failed_ups, times, recovered = 0, [], 0
    for n in range(1, count + 1):
        before = len(vm.load_state().get("boot_failures", []))
        start = time.monotonic()
        try:
            vm.up()
            ok = True
        except (SystemExit, vm.BootFailure) as e:
            ok = False
            failed_ups += 1
            print(f"cycles: up failed in cycle {n}: {e}")
        took = time.monotonic() - start
        new = vm.load_state().get("boot_failures", [])[before:]
        recovered += len(new) if ok else 0
        times.append(took)
        print(f"cycles: cycle {n}/{count}: up {'ok' if ok else 'FAILED'} in {took:.0f} s, "
              f"boot failures detected and recovered: {len(new)}"
              + "".join(f"\n    {f['vm']}: {f['why'].splitlines()[0]}" for f in new), flush=True)
        vm.down()
    print(f"cycles: {count} cycles, {failed_ups} failed up(s), {recovered} boot failure(s) recovered, "
          f"up took {min(times):.0f}-{max(times):.0f} s (median {sorted(times)[len(times) // 2]:.0f} s)")
    return 1 if failed_ups else 0


def cli(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m lab cycles", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=8)
    return main(p.parse_args(argv).count)
