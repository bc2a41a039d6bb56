"""pyinfra's per-call costs paid once per process (dockwright/pyinfra_internals.py), and
dockwright's own per-host work shared where the data is the same: each keeps the answer it
replaces, only cheaper."""

import copy
import inspect
import typing
from pathlib import Path

import pytest
from pyinfra.api import Config, Inventory, State, arguments, facts
from pyinfra.api.exceptions import NoGroupError

from dockwright import model, pyinfra_internals
from dockwright.plans import seccomp

REPO = Path(__file__).resolve().parents[2]


def _inventory():
    return Inventory((["web1", "web2", "db1", "db-2", "web"], {}),
                     web=(["web1", "web2"], {}), dbs=(["db1", "db-2"], {}))


def _original_matches(inventory, patterns):
    # pyinfra_cli.cli._get_inventory_pattern_matches as pyinfra 3.10 writes it: a group, else fnmatch.
    from fnmatch import fnmatch

    found = []
    for pattern in patterns:
        try:
            found += inventory.get_group(pattern)
        except NoGroupError:
            found += [h for h in inventory if fnmatch(h.name, pattern)]
    return {h.name for h in found}


@pytest.mark.parametrize("patterns", [
    ["web1"], ["web1", "db1"], ["web"],  # "web" is a group and a host: the group, as pyinfra reads it
    ["dbs"], ["web*"], ["db-?"], ["db[12]"], ["nosuch"], ["nosuch", "web2"], ["web1", "web1"],
])
def test_limit_patterns_match_exactly_the_hosts_pyinfra_matches(patterns):
    pyinfra_internals.once_per_process()
    from pyinfra_cli import cli

    inv = _inventory()
    State(inv, Config())
    got = cli._get_inventory_pattern_matches(inv, patterns, "--limit")
    assert sorted(h.name for h in got) == sorted(_original_matches(inv, patterns))
    assert len(got) == len(set(got))


def test_global_argument_hints_are_read_once_and_are_pyinfras():
    pyinfra_internals.once_per_process()
    expected = list(typing.get_type_hints(arguments.AllArguments).items())
    assert list(arguments.all_global_arguments()) == expected
    assert facts.all_global_arguments is arguments.all_global_arguments
    before = arguments.all_global_arguments.cache_info().hits
    arguments.all_global_arguments()
    assert arguments.all_global_arguments.cache_info().hits == before + 1


def test_the_deploy_file_has_a_module_for_inspect():
    path = str(REPO / "deploy.py")
    pyinfra_internals.deploy_file_known(path)
    code = compile("x = 1\n", path, "exec")  # a frame of the deploy file names it so
    module = inspect.getmodule(code, path)
    assert module is not None and module.__name__ == "dockwright._deploy_file"
    assert module.__file__ == path
    # and the lines inspect reads for that file are the file's own
    assert inspect.findsource(code)[0] == (REPO / "deploy.py").read_text().splitlines(keepends=True)


def test_copied_data_equals_a_deep_copy_and_shares_nothing_mutable():
    data = {"a": [1, {"b": (2, [3])}], "c": {"d": None, "e": 1.5, "f": True}, "g": "s", "h": {1, 2}}
    out = model.copied(data)
    assert out == copy.deepcopy(data)

    def mutables(value, seen):
        if isinstance(value, (dict, list, set)):
            seen.add(id(value))
        children = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
        for child in children:
            mutables(child, seen)
        return seen

    assert not mutables(data, set()) & mutables(out, set())
    assert out["h"] is not data["h"]  # not plain data: deepcopy's copy


def test_the_seccomp_profile_rendered_once_per_data_is_the_profile_built_from_it():
    conf = {"name": "p", "default": True, "deny_socket_families": [17], "deny_syscalls": []}
    text = seccomp.render(conf)
    assert text == seccomp._text(seccomp.build(conf))
    assert seccomp.render(dict(conf)) is text  # the same data: the same text, not built again
    other = dict(conf, deny_syscalls=["readv"])
    assert seccomp.render(other) == seccomp._text(seccomp.build(other)) != text
    conf["deny_syscalls"].append("readv")  # data changed after it was rendered: rendered anew
    assert seccomp.render(conf) == seccomp.render(other)


def test_the_seccomp_spec_parses_the_same_with_libyaml_and_without():
    import yaml

    text = (REPO / "templates" / "seccomp" / "spec.yaml").read_text()
    assert seccomp._parse(text) == yaml.safe_load(text)
