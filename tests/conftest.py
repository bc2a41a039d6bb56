"""The unit and integration tests in parts: ``--part I/N`` deals the collection like cards and
keeps every Nth card from the Ith, so ``make unit`` and ``make integration`` each run N pytest
processes side by side (tests/parts.py). A card is one test, or every test of a module that sets
``ONE_CARD = True``: its tests share a costly fixture the module computes once (a replayed
fleet's runs), which each part would compute again. pytest-xdist cannot be used here: importing
pyinfra's CLI monkey-patches the process with gevent, which stops an xdist worker's own threads."""


def pytest_addoption(parser):
    parser.addoption("--part", default=None, help="I/N: only every Nth test of the collection, from the Ith")


def pytest_collection_modifyitems(config, items):
    part = config.getoption("--part")
    if not part:
        return
    index, count = (int(x) for x in part.split("/"))
    cards: dict[str, list] = {}  # the collection's order is the same in every part
    for item in items:
        cards.setdefault(_card(item), []).append(item)
    keep = [item for card in list(cards.values())[index - 1::count] for item in card]
    config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    items[:] = keep


def _card(item) -> str:
    return item.nodeid.split("::", 1)[0] if getattr(item.module, "ONE_CARD", False) else item.nodeid
