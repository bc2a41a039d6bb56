"""make unit: the unit tests as N pytest processes side by side (conftest.py's --part), their
lines streamed as they come, each prefixed with its part; exits non-zero if any part fails.

    python tests/unit/parts.py N [PYTEST ARGS...]
"""

import subprocess
import sys
import threading


def main(argv: list[str]) -> int:
    count, extra = int(argv[0]), argv[1:]
    procs = [subprocess.Popen([sys.executable, "-m", "pytest", "tests/unit", f"--part={i}/{count}", *extra],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i in range(1, count + 1)]
    lock = threading.Lock()

    def stream(i, proc):
        for line in proc.stdout:
            with lock:
                sys.stdout.write(f"[unit {i}/{count}] {line}")
                sys.stdout.flush()

    threads = [threading.Thread(target=stream, args=(i, p)) for i, p in enumerate(procs, 1)]
    for t in threads:
        t.start()
    codes = [p.wait() for p in procs]
    for t in threads:
        t.join()
    print(f"unit: parts exited {codes}")
    return 0 if all(c == 0 for c in codes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
