"""make unit, make integration: the tests of one directory as N pytest processes side by side
(tests/conftest.py's --part), their lines streamed as they come, each prefixed with its part;
exits non-zero if any part fails.

    python tests/parts.py DIR N [PYTEST ARGS...]
"""

import subprocess
import sys
import threading


def main(argv: list[str]) -> int:
    where, count, extra = argv[0], int(argv[1]), argv[2:]
    name = where.rstrip("/").rsplit("/", 1)[-1]
    procs = [subprocess.Popen([sys.executable, "-m", "pytest", where, f"--part={i}/{count}", *extra],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i in range(1, count + 1)]
    lock = threading.Lock()

    def stream(i, proc):
        for line in proc.stdout:
            with lock:
                sys.stdout.write(f"[{name} {i}/{count}] {line}")
                sys.stdout.flush()

    threads = [threading.Thread(target=stream, args=(i, p)) for i, p in enumerate(procs, 1)]
    for t in threads:
        t.start()
    codes = [p.wait() for p in procs]
    for t in threads:
        t.join()
    print(f"{name}: parts exited {codes}")
    return 0 if all(c == 0 for c in codes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
