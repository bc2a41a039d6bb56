"""python -m lab {build,up,down,status,ssh,reboot,stop,watch,soak,trials,cycles}"""

import argparse
import sys

from . import image, peer, vm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build (or reuse) the cached base image")
    b.add_argument("--force", action="store_true")
    sub.add_parser("up", help="boot the fleet (reuses running VMs) and wait for SSH and dockerd")
    sub.add_parser("down", help="stop every process 'up' started and remove overlays")
    sub.add_parser("status", help="show each VM's state")
    s = sub.add_parser("ssh", help="a shell on a VM, or run one COMMAND string there")
    s.add_argument("name")
    s.add_argument("command", nargs="?")
    r = sub.add_parser("reboot", help="reboot a VM; returns when SSH and dockerd answer again")
    r.add_argument("name")
    st = sub.add_parser("stop", help="power off one VM (for failure tests); 'up' starts it again")
    st.add_argument("name")
    sub.add_parser("watch", help="run a command while watching the VMs' consoles (see lab/monitor.py)",
                   add_help=False)
    sub.add_parser("soak", help="deploy, drift and verify in a loop, counting panics (see lab/soak.py)",
                   add_help=False)
    sub.add_parser("trials", help="measure early-boot oopses (see lab/trials.py)", add_help=False)
    sub.add_parser("cycles", help="repeated up/down cycles (see lab/cycles.py)", add_help=False)
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["watch"]:
        from . import monitor
        return monitor.watch_command(argv[1:])
    if argv[:1] == ["soak"]:
        from . import soak
        return soak.cli(argv[1:])
    if argv[:1] == ["trials"]:
        from . import trials
        return trials.cli(argv[1:])
    if argv[:1] == ["cycles"]:
        from . import cycles
        return cycles.cli(argv[1:])
    args = parser.parse_args(argv)

    if args.cmd == "build":
        from . import config
        for suite in sorted({v.suite for v in config.FLEET}):
            image.build(suite, force=args.force)
    elif args.cmd == "up":
        try:
            vm.up()
        except vm.BootFailure as e:
            raise SystemExit(f"lab: {e}")
    elif args.cmd == "down":
        peer.leave()  # a scenario's tap plugged into the switch, if one was left
        vm.down()
    elif args.cmd == "status":
        return vm.status()
    elif args.cmd == "ssh":
        return vm.ssh(args.name, args.command)
    elif args.cmd == "reboot":
        vm.reboot(args.name)
    elif args.cmd == "stop":
        vm.stop(args.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
