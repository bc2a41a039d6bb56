# dockwright: the commands users and CI run. See README.md.
PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
PYINFRA := $(VENV)/bin/pyinfra
# python3-venv for make setup; the probe ships prebuilt (no C toolchain needed here).
LAB_PACKAGES := qemu-system-x86 qemu-utils mmdebstrap vde2 openssh-client python3-venv apt-utils gpg
# What the unit tests use besides Python (installed without recommends): promtool (the alert
# rules), systemd-analyze (the units), chromium (the fleet page, seen as a person sees it).
TEST_PACKAGES := prometheus systemd chromium

.PHONY: setup lab-packages test-packages lab lab-down unit integration unit-newest-python probe-check package-check e2e test verify drift bench bench-scale bench-record soak netbench clean

# The tests replay simulated hosts: the bench distribution (bench/pyproject.toml) brings their
# pyinfra connectors; a user's own install of dockwright has none.
$(VPY): pyproject.toml bench/pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]' -e ./bench
	touch $(VPY)

# Bytecode for dockwright's own modules, as pip compiles an installed package's: where
# PYTHONDONTWRITEBYTECODE is set (this machine, CI) every process compiled them again, 0.15 s.
setup: $(VPY)
	@$(VPY) -m compileall -q -x 'dockwright/templates/' dockwright group_data inventories bench lab tests > /dev/null

# Host packages the lab needs: installed when root, otherwise the command is printed.
lab-packages:
	@missing=$$(for p in $(LAB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "lab packages: all present"; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "lab packages missing; run as root: apt-get install -y $$missing"; exit 1; fi

test-packages:
	@missing=$$(for p in $(TEST_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "test packages: all present"; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "test packages missing; run as root: apt-get install -y --no-install-recommends $$missing"; exit 1; fi

# The main job: VMs up, deployed, verified (the VMs' consoles watched: a guest kernel panic
# ends the deploy at once, naming the VM, instead of leaving it to wait).
lab: setup lab-packages
	$(VPY) -m lab build
	$(VPY) -m lab up
	$(VPY) -m lab watch -- $(PYINFRA) inventories/lab.py deploy.py -y

lab-down:
	-$(VPY) -m lab down

# Pure tests (facts in, commands out; plans, schema, templates), in two pytest processes side by
# side (tests/parts.py).
unit: setup
	$(VPY) tests/parts.py tests/unit 2 -q -m "not rebuild" -p no:cacheprovider

# Real pyinfra runs on replayed hosts and on @local, real SSH sessions, the tools the outputs are
# written for (promtool, a browser), commands run in a sandbox: tests/integration.
integration: setup
	$(VPY) tests/parts.py tests/integration 2 -q -p no:cacheprovider

# The unit tests on the newest Python Debian ships (trixie's 3.13), in a chroot (tests/other_python.py).
unit-newest-python:
	python3 tests/other_python.py trixie

# The prebuilt probe rebuilt with zig and compared byte for byte (slow on a cold zig cache).
probe-check: setup
	$(VPY) -m pytest -q tests/unit -m rebuild

# A wheel of this checkout installed into a fresh venv and run outside the checkout (tests/package).
package-check: setup
	$(VPY) -m pytest -q -p no:cacheprovider tests/package

# End-to-end scenarios on the lab, in phases: the first deploy, then two lanes on disjoint VMs
# side by side, then the whole-fleet scenarios (tests/e2e/lanes.py); the lab is torn down even
# when a test fails.
e2e: setup lab-packages
	$(VPY) tests/e2e/lanes.py; rc=$$?; $(VPY) -m lab down; exit $$rc

# make test runs the unit tests with every tool they use required (promtool, systemd-analyze):
# a missing tool fails them instead of skipping.
test: lab-packages test-packages
	DOCKWRIGHT_REQUIRE_TOOLS=1 $(MAKE) unit integration
	$(MAKE) probe-check package-check e2e

verify: setup
	$(VPY) -m dockwright.verify -q --inventory $(or $(INVENTORY),inventories/lab.py)

clean: lab-down
	rm -rf $(VENV)

# Cost of a run on the lab (fresh VMs twice; about 15 minutes on 2 cores under TCG).
bench: setup lab-packages
	$(VPY) -m lab watch -- $(VPY) -m bench.run

# The network cost of each Docker network mode, and what the tuning buys, on the lab's VMs
# (converged first: the overlays need the swarm). docs/bench.md has the figures.
netbench: setup lab-packages
	$(VENV)/bin/pip install -q -e './bench[plot]'
	$(VPY) -m lab build
	$(VPY) -m lab up
	$(VPY) -m lab watch -- $(PYINFRA) inventories/lab.py deploy.py -y --data 'verify={"after_deploy": false}'
	$(VPY) -m lab watch -- $(VPY) -m dockwright.netbench inventories/lab.py

# The controller's cost as the fleet grows: simulated hosts replaying recorded lab answers
# (no VMs needed). bench-record refreshes the recording from the lab.
bench-scale: setup
	$(VENV)/bin/pip install -q -e './bench[plot]'
	$(VPY) -m bench.scale $(if $(SIZES),--sizes $(SIZES))

# Deploy, drift and verification in a loop on the lab, counting guest kernel panics (HOURS=1).
soak: setup lab-packages
	$(VPY) -m lab soak --hours $(or $(HOURS),1) --out bench/results/soak-$$(date +%Y%m%dT%H%M%S).json

bench-record: setup lab-packages
	$(VPY) -m bench.scale record
