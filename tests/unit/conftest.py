"""The unit tests in parts: ``--part I/N`` keeps every Nth test of the collection, from the Ith
(dealt like cards: a module's tests, and each parametrized test's cases, are spread over the
parts), so ``make unit`` runs N pytest processes side by side (tests/unit/parts.py). pytest-xdist cannot be
used here: importing pyinfra's CLI monkey-patches the process with gevent, which stops an xdist
worker's own threads."""

# Imported first, as pyinfra's own CLI is: its gevent monkey-patching then happens before any test,
# never in the middle of one that holds a lock (which part a test lands in must not matter).
import pyinfra_cli  # noqa: F401


def pytest_addoption(parser):
    parser.addoption("--part", default=None, help="I/N: only every Nth test of the collection, from the Ith")


def pytest_collection_modifyitems(config, items):
    part = config.getoption("--part")
    if not part:
        return
    index, count = (int(x) for x in part.split("/"))
    keep = items[index - 1::count]  # the collection's order is the same in every part
    config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    items[:] = keep
