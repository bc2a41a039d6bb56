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

    def build(target, out):
        built.append(target)
        out.parent.mkdir(parents=True)
        out.write_bytes(b"new")
        out.with_name(out.name + ".sha256").write_text(hashlib.sha256(b"new").hexdigest() + "\n")

    monkeypatch.setattr(probe, "build", build)
    assert probe.binary("x86_64") == b"new" and built == ["x86_64"]
    # The cached build changed afterwards is refused, naming it.
    cached = next((tmp_path / "cache").glob("dwprobe-*-x86_64"))
    cached.write_bytes(b"nex")
    with pytest.raises(RuntimeError, match=str(cached)):
        probe.binary("x86_64")


def test_every_prebuilt_binary_has_a_committed_sha256():
    sums = probe.prebuilt_sums()
    for target in sorted(set(probe.ARCHES.values())):
        name = f"dwprobe-{target}"
        assert sums.get(name) == hashlib.sha256((probe.PREBUILT / name).read_bytes()).hexdigest()


@pytest.mark.parametrize("where", [0, 1000, -1])
def test_a_flipped_byte_in_a_prebuilt_binary_is_refused_naming_the_file(tmp_path, monkeypatch, where):
    for f in probe.PREBUILT.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    target = tmp_path / "dwprobe-x86_64"
    data = bytearray(target.read_bytes())
    data[where] ^= 0x01
    target.write_bytes(bytes(data))
    monkeypatch.setattr(probe, "PREBUILT", tmp_path)
    probe.archive.cache_clear()
    probe.root_tar.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="dwprobe-x86_64 does not match its recorded sha256"):
            probe.image("x86_64")
        probe.binary("aarch64")  # the other one is untouched, and served
    finally:
        probe.archive.cache_clear()
        probe.root_tar.cache_clear()


def test_a_prebuilt_binary_missing_from_the_sums_is_refused(tmp_path, monkeypatch):
    for f in probe.PREBUILT.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / "SHA256SUMS").write_text("")
    monkeypatch.setattr(probe, "PREBUILT", tmp_path)
    with pytest.raises(RuntimeError, match="no recorded sha256"):
        probe.binary("x86_64")
