"""The concerns registered beyond dockwright's own (dockwright.concerns: a package's entry point),
each judged by the check it brings."""

import pytest

from dockwright import concerns

ADDED = concerns.added()

if ADDED:  # no test at all (not a skipped one per host) when none is registered
    @pytest.mark.parametrize("concern", ADDED, ids=[c.name for c in ADDED])
    def test_a_registered_concern_holds(target, concern):
        target.needs(concern.switch or concern.name)
        wrong = concern.check(target)
        assert not wrong, f"{concern.name}: " + "; ".join(wrong)
