"""The probe ships prebuilt (no compiler on a controller): the binaries must be those of the
dwprobe.c beside them, and zig rebuilds them to the same bytes (so they can be checked)."""

import hashlib
import importlib.util

import pytest

from dockwright import probe


def test_the_prebuilt_probes_are_built_from_this_dwprobe_c():
    assert probe.prebuilt_source_hash() == probe.source_hash(), \
        "dwprobe.c changed: run `python -m dockwright.probe build` and commit dockwright/probe/prebuilt/"
    for target in sorted(set(probe.ARCHES.values())):
        data = (probe.PREBUILT / f"dwprobe-{target}").read_bytes()
        assert data[:4] == b"\x7fELF" and probe.binary(target if target != "aarch64" else "arm64") == data


@pytest.mark.rebuild  # zig compiles musl for each target on a cold cache (minutes): make test, not make unit
@pytest.mark.skipif(importlib.util.find_spec("ziglang") is None, reason="needs the probe extra (ziglang)")
@pytest.mark.parametrize("target", sorted(set(probe.ARCHES.values())))
def test_zig_rebuilds_the_prebuilt_probe_to_the_same_bytes(tmp_path, target):
    out = tmp_path / f"dwprobe-{target}"
    probe.build(target, out)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == \
        hashlib.sha256((probe.PREBUILT / f"dwprobe-{target}").read_bytes()).hexdigest()


def test_a_changed_source_is_built_not_served_stale(tmp_path, monkeypatch):
    changed = tmp_path / "dwprobe.c"
    changed.write_text(probe.SOURCE.read_text() + "\n/* changed */\n")
    monkeypatch.setattr(probe, "SOURCE", changed)
    monkeypatch.setattr(probe, "_cache", lambda: tmp_path / "cache")
    built = []
    monkeypatch.setattr(probe, "build", lambda target, out: (built.append(target), out.parent.mkdir(parents=True),
                                                              out.write_bytes(b"new")))
    assert probe.binary("x86_64") == b"new" and built == ["x86_64"]
