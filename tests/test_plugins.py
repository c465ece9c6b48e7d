"""The plugin host in-process: loading, isolation, registries, duplicate names, ``mstk plugins``."""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path
from typing import Any, Callable

import click
import orjson
import pytest

import mstk
from mstk import hookspecs
from mstk.cli import build_cli
from mstk.errors import PluginError
from mstk.plugins import (
    BUILTIN_PLUGINS,
    REGISTRIES,
    collect,
    describe_plugins,
    get_plugin_manager,
    make_plugin_manager,
    registry_kind,
)
from mstk.testing import fresh_plugin_manager, run_cli

HOOK_NAMES = sorted(name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), "mstk_spec"))
REGISTER_HOOKS = [name for name in HOOK_NAMES if name != "register_commands"]


def plugin_module(name: str, **hooks: Callable[..., Any]) -> types.ModuleType:
    """A plugin as a module object called ``name`` implementing ``hooks``."""
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, mstk.hookimpl(function))
    return module


def named(name: str) -> type:
    return type(f"Thing_{name}", (), {"name": name})


def registering(*things: type) -> Callable[[Any], None]:
    def register_all(register: Any) -> None:
        for thing in things:
            register(thing)

    return register_all


def adding_command(name: str, output: str = "ok") -> Callable[[click.Group], None]:
    @click.command(name=name)
    def command() -> None:
        click.echo(output)

    def add(cli: click.Group) -> None:
        cli.add_command(command)

    return add


# ----------------------------------------------------------------- an installed site


class FakeSite:
    """A directory on sys.path holding *.dist-info folders: real entry points, no pip."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules: list[str] = []

    def add_distribution(self, package: str, version: str, plugin_name: str, module_source: str) -> str:
        module_name = "mstk_test_" + plugin_name.replace("-", "_")
        (self.root / f"{module_name}.py").write_text(module_source)
        dist_info = self.root / f"{package.replace('-', '_')}-{version}.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
        (dist_info / "entry_points.txt").write_text(f"[mstk]\n{plugin_name} = {module_name}\n")
        self.modules.append(module_name)
        return module_name


GOOD_PLUGIN_SOURCE = """
import click
import mstk

@click.command(name="{command}")
def command():
    click.echo("{command} ran")

class Thing:
    name = "{command}_reranker"

@mstk.hookimpl
def register_commands(cli):
    cli.add_command(command)

@mstk.hookimpl
def register_rerankers(register):
    register(Thing)
"""


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    for variable in ("MSTK_LOAD_PLUGINS", "MSTK_DISABLE_PLUGINS", "MSTK_DEBUG"):
        monkeypatch.delenv(variable, raising=False)
    site = FakeSite(tmp_path / "site")
    site.root.mkdir()
    monkeypatch.syspath_prepend(str(site.root))  # also invalidates importlib's caches
    yield site
    for module_name in site.modules:
        sys.modules.pop(module_name, None)


@pytest.fixture
def alpha_beta_site(fake_site: FakeSite) -> FakeSite:
    fake_site.add_distribution("mstk-alpha", "1.2.3", "alpha", GOOD_PLUGIN_SOURCE.format(command="alpha"))
    fake_site.add_distribution("mstk-beta", "0.9", "beta", GOOD_PLUGIN_SOURCE.format(command="beta"))
    return fake_site


def third_party(pm: Any) -> dict[str, dict[str, Any]]:
    """Non-builtin plugins by name (other plugins installed on this machine may be among them)."""
    return {row["name"]: row for row in describe_plugins(pm) if not row["builtin"]}


# ----------------------------------------------------------------- hooks and registries


def test_every_hook_is_documented_and_takes_a_callback_or_the_group() -> None:
    assert "register_commands" in HOOK_NAMES
    for name in HOOK_NAMES:
        spec = getattr(hookspecs, name)
        assert spec.__doc__ and spec.__doc__.strip(), f"{name} has no docstring"
        expected = ["cli"] if name == "register_commands" else ["register"]
        assert list(spec.__code__.co_varnames[: spec.__code__.co_argcount]) == expected


def test_every_register_hook_has_a_registry_function() -> None:
    assert set(REGISTRIES) == set(REGISTER_HOOKS)
    for hook_name, function in REGISTRIES.items():
        assert function.__name__ == hook_name.removeprefix("register_")


@pytest.mark.parametrize("hook_name", HOOK_NAMES)
def test_a_plugin_implementing_the_hook_gets_its_things_collected(hook_name: str) -> None:
    if hook_name == "register_commands":
        pm = fresh_plugin_manager(plugin_module("cmd_plugin", register_commands=adding_command("say-hi", "hi")))
        result = run_cli(["say-hi"], pm=pm)
        assert (result.exit_code, result.stdout, result.stderr) == (0, b"hi\n", b"")
        return
    thing = named(f"thing_for_{hook_name}")
    builtins_only = fresh_plugin_manager()
    pm = fresh_plugin_manager(plugin_module("thing_plugin", **{hook_name: registering(thing)}))
    # The host's own plugins may register things too (e.g. the topk reranker).
    assert REGISTRIES[hook_name](pm) == {**REGISTRIES[hook_name](builtins_only), thing.name: thing}
    # Nothing leaks into the other registries.
    for other in REGISTER_HOOKS:
        if other != hook_name:
            assert REGISTRIES[other](pm) == REGISTRIES[other](builtins_only)


def test_registry_keeps_registration_order_across_plugins() -> None:
    b, a, c = named("b"), named("a"), named("c")
    pm = fresh_plugin_manager(
        plugin_module("first", register_metrics=registering(b, a)),
        plugin_module("second", register_metrics=registering(c)),
    )
    assert list(collect(pm, "register_metrics")) == ["b", "a", "c"]


@pytest.mark.parametrize(
    ("hook_name", "kind"),
    [("register_rerankers", "reranker"), ("register_error_models", "error model"), ("register_datasets", "dataset")],
)
def test_duplicate_registry_name_names_both_plugins(hook_name: str, kind: str) -> None:
    pm = fresh_plugin_manager(
        plugin_module("pluginA", **{hook_name: registering(named("x"))}),
        plugin_module("pluginB", **{hook_name: registering(named("x"))}),
    )
    with pytest.raises(PluginError) as caught:
        collect(pm, hook_name)
    assert str(caught.value) == f"{kind} 'x' is registered by both 'pluginA' and 'pluginB'"


def test_the_same_plugin_registering_a_name_twice_is_an_error() -> None:
    pm = fresh_plugin_manager(plugin_module("twice", register_rerankers=registering(named("x"), named("x"))))
    with pytest.raises(PluginError, match="reranker 'x' is registered twice by 'twice'"):
        collect(pm, "register_rerankers")


@pytest.mark.parametrize("bad_name", [None, 3, ""])
def test_registering_something_without_a_string_name_names_the_plugin(bad_name: object) -> None:
    nameless = type("Nameless", (), {} if bad_name is None else {"name": bad_name})
    pm = fresh_plugin_manager(plugin_module("sloppy", register_encoders=registering(nameless)))
    with pytest.raises(PluginError, match=r"plugin 'sloppy' registered a encoder without a string 'name'"):
        collect(pm, "register_encoders")


def test_a_third_party_hook_that_raises_is_dropped_with_one_warning(capsys: pytest.CaptureFixture[str]) -> None:
    def explode(register: Any) -> None:
        register(named("half_registered"))
        raise KeyError("missing")

    pm = fresh_plugin_manager(
        plugin_module("exploding", register_generators=explode),
        plugin_module("fine", register_generators=registering(named("ok"))),
    )
    capsys.readouterr()
    builtin = list(collect(fresh_plugin_manager(), "register_generators"))
    # nothing half-registered survives; the built-ins and the healthy plugin do
    assert list(collect(pm, "register_generators")) == [*builtin, "ok"]
    err = capsys.readouterr().err
    assert err == (
        "Warning: plugin 'exploding' failed in register_generators: KeyError: 'missing' (its generators are unavailable)\n"
    )
    assert third_party(pm)["exploding"]["error"] == "register_generators: KeyError: 'missing'"


def test_a_builtin_hook_that_raises_is_a_plugin_error_naming_plugin_and_hook() -> None:
    def explode(register: Any) -> None:
        raise KeyError("missing")

    pm = fresh_plugin_manager(plugin_module("exploding", register_generators=explode))
    next(r for r in pm.records if r.name == "exploding").builtin = True  # as if it were ours
    with pytest.raises(PluginError, match=r"plugin 'exploding' failed in register_generators: KeyError: 'missing'"):
        collect(pm, "register_generators")


def test_collect_rejects_a_hook_without_a_register_callback() -> None:
    pm = fresh_plugin_manager()
    for hook_name in ("register_commands", "register_nothing"):
        with pytest.raises(ValueError, match="not a register-callback hook"):
            collect(pm, hook_name)


def test_registry_kind_words() -> None:
    assert [registry_kind(name) for name in REGISTER_HOOKS] == [
        "dataset", "encoder", "error model", "generator", "metric", "reranker", "retriever",
    ]


# ----------------------------------------------------------------- commands


def test_duplicate_command_names_both_plugins() -> None:
    pm = fresh_plugin_manager(
        plugin_module("pluginA", register_commands=adding_command("hello")),
        plugin_module("pluginB", register_commands=adding_command("hello")),
    )
    with pytest.raises(PluginError) as caught:
        build_cli(pm)
    assert str(caught.value) == "command 'hello' is registered by both 'pluginA' and 'pluginB'"
    # Through the CLI it is an ordinary one-line error, exit 1, even for --help.
    result = run_cli(["--help"], pm=pm)
    assert result.exit_code == 1
    assert result.stderr == b"Error: command 'hello' is registered by both 'pluginA' and 'pluginB'\n"
    assert result.stdout == b""


def test_a_plugin_cannot_replace_a_builtin_command() -> None:
    pm = fresh_plugin_manager(plugin_module("impostor", register_commands=adding_command("plugins")))
    with pytest.raises(PluginError, match="command 'plugins' is registered by both 'mstk.default_plugins.commands' and 'impostor'"):
        build_cli(pm)


def test_a_plugin_whose_register_commands_raises_is_isolated(capsys: pytest.CaptureFixture[str]) -> None:
    def add_then_fail(cli: click.Group) -> None:
        adding_command("half-added")(cli)
        raise RuntimeError("no more")

    pm = fresh_plugin_manager(
        plugin_module("faulty", register_commands=add_then_fail, register_metrics=registering(named("m"))),
        plugin_module("fine", register_commands=adding_command("fine-cmd")),
    )
    cli = build_cli(pm)
    assert "half-added" not in cli.commands
    assert "fine-cmd" in cli.commands
    assert capsys.readouterr().err == (
        "Warning: plugin 'faulty' failed to load: RuntimeError: no more (set MSTK_DEBUG=1 for a traceback)\n"
    )
    # Unregistered as a whole: its other hooks do not run either.
    assert collect(pm, "register_metrics") == {}
    assert third_party(pm)["faulty"]["error"] == "RuntimeError: no more"


# ----------------------------------------------------------------- loading and isolation


def test_builtins_are_registered_under_their_module_names() -> None:
    assert BUILTIN_PLUGINS[0] == "mstk.default_plugins.commands"
    pm = fresh_plugin_manager()
    for module_name in BUILTIN_PLUGINS:
        assert pm.get_plugin(module_name) is importlib.import_module(module_name)


def test_entry_point_plugins_load_with_their_distribution(alpha_beta_site: FakeSite) -> None:
    pm = make_plugin_manager()
    plugins = third_party(pm)
    assert plugins["alpha"] == {
        "name": "alpha",
        "version": "1.2.3",
        "package": "mstk-alpha",
        "builtin": False,
        "hooks": ["register_commands", "register_rerankers"],
        "error": None,
    }
    assert plugins["beta"]["package"] == "mstk-beta"
    assert {"alpha_reranker", "beta_reranker"} <= set(collect(pm, "register_rerankers"))


def test_entry_points_false_loads_none(alpha_beta_site: FakeSite) -> None:
    assert third_party(make_plugin_manager(entry_points=False)) == {}


def test_allow_list_loads_only_the_named_plugins(alpha_beta_site: FakeSite, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSTK_LOAD_PLUGINS", " alpha , ")
    pm = make_plugin_manager()
    assert set(third_party(pm)) == {"alpha"}
    assert pm.get_plugin("mstk.default_plugins.commands") is not None  # built-ins always load


def test_empty_allow_list_loads_no_entry_points(alpha_beta_site: FakeSite, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSTK_LOAD_PLUGINS", "")
    pm = make_plugin_manager()
    assert third_party(pm) == {}
    assert "plugins" in build_cli(pm).commands


def test_block_list_skips_the_named_plugins(alpha_beta_site: FakeSite, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSTK_DISABLE_PLUGINS", "beta,mstk.default_plugins.commands")
    pm = make_plugin_manager()
    assert "alpha" in third_party(pm)
    assert "beta" not in third_party(pm)
    assert pm.get_plugin("mstk.default_plugins.commands") is not None  # not an entry point


def test_block_list_wins_over_allow_list(alpha_beta_site: FakeSite, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSTK_LOAD_PLUGINS", "alpha,beta")
    monkeypatch.setenv("MSTK_DISABLE_PLUGINS", "alpha")
    assert set(third_party(make_plugin_manager())) == {"beta"}


def test_a_plugin_failing_on_import_is_isolated(alpha_beta_site: FakeSite, capsys: pytest.CaptureFixture[str]) -> None:
    alpha_beta_site.add_distribution("mstk-broken", "0.1", "broken", "raise RuntimeError('kaput\\nsecond line')\n")
    pm = make_plugin_manager()
    err = capsys.readouterr().err
    assert err == (
        "Warning: plugin 'broken' failed to load: RuntimeError: kaput second line (set MSTK_DEBUG=1 for a traceback)\n"
    )
    plugins = third_party(pm)
    assert plugins["broken"] == {
        "name": "broken",
        "version": "0.1",
        "package": "mstk-broken",
        "builtin": False,
        "hooks": [],
        "error": "RuntimeError: kaput second line",
    }
    assert plugins["alpha"]["error"] is None
    assert run_cli(["alpha"], pm=pm).stdout == b"alpha ran\n"


def test_debug_prints_the_traceback_of_a_failing_plugin(
    fake_site: FakeSite, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_site.add_distribution("mstk-broken", "0.1", "broken", "raise RuntimeError('kaput')\n")
    monkeypatch.setenv("MSTK_DEBUG", "1")
    monkeypatch.setenv("MSTK_LOAD_PLUGINS", "broken")
    make_plugin_manager()
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert err.endswith("Warning: plugin 'broken' failed to load: RuntimeError: kaput (set MSTK_DEBUG=1 for a traceback)\n")


def test_a_plugin_with_mismatched_hook_arguments_is_isolated(capsys: pytest.CaptureFixture[str]) -> None:
    def wrong_argument(registr: Any) -> None:
        pass

    # register_commands sorts before register_rerankers: pluggy < 1.7 adds it before failing.
    pm = fresh_plugin_manager(
        plugin_module("typo_arg", register_commands=adding_command("half"), register_rerankers=wrong_argument)
    )
    assert third_party(pm)["typo_arg"]["error"].startswith("PluginValidationError:")
    assert capsys.readouterr().err.startswith("Warning: plugin 'typo_arg' failed to load: PluginValidationError:")
    assert pm.get_plugin("typo_arg") is None
    assert "half" not in build_cli(pm).commands


def test_misspelled_hook_isolates_the_whole_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    misspelled = plugin_module(
        "misspelled",
        register_rerankerz=registering(named("r")),
        register_commands=adding_command("should-not-exist"),
    )
    pm = fresh_plugin_manager(misspelled, plugin_module("fine", register_rerankers=registering(named("ok"))))
    message = "plugin 'misspelled' implements unknown hook 'register_rerankerz' (did you mean 'register_rerankers'?)"
    assert capsys.readouterr().err == (
        f"Warning: plugin 'misspelled' failed to load: PluginError: {message} (set MSTK_DEBUG=1 for a traceback)\n"
    )
    assert third_party(pm)["misspelled"]["error"] == f"PluginError: {message}"
    assert third_party(pm)["misspelled"]["hooks"] == []
    assert pm.get_plugin("misspelled") is None
    pm.check_pending()  # nothing left pending
    assert list(collect(pm, "register_rerankers")) == ["topk", "ok"]  # host built-in, then the good plugin
    assert "should-not-exist" not in build_cli(pm).commands


def test_unknown_hook_far_from_any_name_lists_the_known_hooks(capsys: pytest.CaptureFixture[str]) -> None:
    pm = fresh_plugin_manager(plugin_module("odd", do_something=lambda: None))
    error = third_party(pm)["odd"]["error"]
    assert "unknown hook 'do_something' (known hooks: register_commands, register_datasets," in error


def test_optional_hooks_are_not_misspellings() -> None:
    module = types.ModuleType("optional")
    module.register_future_thing = mstk.hookimpl(optionalhook=True)(lambda register: None)
    assert third_party(fresh_plugin_manager(module))["optional"]["error"] is None


def test_a_misspelled_hook_in_a_builtin_is_a_bug_that_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    sloppy_builtin = plugin_module("mstk_sloppy_builtin", register_rerankerz=registering(named("x")))
    monkeypatch.setitem(sys.modules, "mstk_sloppy_builtin", sloppy_builtin)
    monkeypatch.setattr("mstk.plugins.BUILTIN_PLUGINS", ("mstk_sloppy_builtin",))
    with pytest.raises(PluginError, match="unknown hook 'register_rerankerz'"):
        make_plugin_manager(entry_points=False)


def test_extra_plugin_objects_get_unique_readable_names() -> None:
    class Plugin:
        @mstk.hookimpl
        def register_metrics(self, register: Any) -> None:
            register(named("m1"))

    pm = fresh_plugin_manager(Plugin(), Plugin())
    assert {"Plugin", "Plugin#2"} <= set(third_party(pm))
    with pytest.raises(PluginError, match="metric 'm1' is registered by both 'Plugin' and 'Plugin#2'"):
        collect(pm, "register_metrics")


def test_default_manager_is_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSTK_LOAD_PLUGINS", "")
    get_plugin_manager.cache_clear()
    try:
        assert get_plugin_manager() is get_plugin_manager()
    finally:
        get_plugin_manager.cache_clear()


# ----------------------------------------------------------------- describe_plugins / mstk plugins


def test_describe_plugins_fields_and_order() -> None:
    pm = fresh_plugin_manager(
        plugin_module("zeta", register_metrics=registering(named("z"))),
        plugin_module("alpha_extra", register_commands=adding_command("a"), register_datasets=registering(named("d"))),
    )
    rows = describe_plugins(pm)
    assert [row["name"] for row in rows] == sorted(row["name"] for row in rows)
    for row in rows:
        assert set(row) == {"name", "version", "package", "builtin", "hooks", "error"}
    by_name = {row["name"]: row for row in rows}
    assert by_name["mstk.default_plugins.commands"] == {
        "name": "mstk.default_plugins.commands",
        "version": mstk.__version__,
        "package": "mstk",
        "builtin": True,
        "hooks": ["register_commands"],
        "error": None,
    }
    assert by_name["alpha_extra"]["hooks"] == ["register_commands", "register_datasets"]
    assert by_name["zeta"]["version"] is None and by_name["zeta"]["package"] is None


def test_describe_lists_plugins_registered_directly() -> None:
    pm = fresh_plugin_manager()
    pm.register(plugin_module("late", register_metrics=registering(named("x"))), name="late")
    assert third_party(pm)["late"]["hooks"] == ["register_metrics"]


def test_plugins_command_prints_third_party_plugins_as_indented_json() -> None:
    pm = fresh_plugin_manager(plugin_module("extra", register_metrics=registering(named("x"))))
    result = run_cli(["plugins"], pm=pm)
    assert (result.exit_code, result.stderr) == (0, b"")
    expected = [row for row in describe_plugins(pm) if not row["builtin"]]
    assert result.stdout == orjson.dumps(expected, option=orjson.OPT_INDENT_2) + b"\n"
    assert [row["name"] for row in orjson.loads(result.stdout)] == ["extra"]


def test_plugins_all_includes_builtins() -> None:
    result = run_cli(["plugins", "--all"])
    assert result.exit_code == 0
    listing = orjson.loads(result.stdout)
    assert [(row["name"], row["builtin"]) for row in listing] == [(name, True) for name in sorted(BUILTIN_PLUGINS)]


def test_plugins_lists_a_failed_plugin_with_its_error() -> None:
    pm = fresh_plugin_manager(plugin_module("misspelled", register_metricz=registering(named("x"))))
    listing = orjson.loads(run_cli(["plugins"], pm=pm).stdout)
    assert listing[0]["name"] == "misspelled"
    assert "unknown hook 'register_metricz' (did you mean 'register_metrics'?)" in listing[0]["error"]


def test_builtin_command_summaries_equal_their_help_and_help_imports_no_command() -> None:
    import inspect
    import subprocess
    import sys

    from mstk.cli.lazy import LazyCommand
    from mstk.default_plugins.commands import BUILTIN_COMMANDS

    for name, (reference, summary) in BUILTIN_COMMANDS.items():
        command = LazyCommand(name, reference, summary).load()
        first_paragraph = inspect.cleandoc(command.help or "").split("\n\n")[0].replace("\n", " ")
        assert summary == first_paragraph, name
    # `mstk --help` lists every command from its summary: no command module is imported,
    # and the listing is the one the loaded commands give.
    probe = ("import sys; from mstk.cli import run_with_plugins\n"
             "run_with_plugins(args=['--help'])\n"
             "print(sorted(m for m in sys.modules if m.startswith('mstk.cli.') and m.endswith('_cmd')), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert proc.stderr.strip().splitlines()[-1] == "[]"
    listed = [line.split()[0] for line in proc.stdout.split("Commands:")[1].splitlines() if line.strip()]
    assert set(BUILTIN_COMMANDS) <= set(listed)
    loaded = run_cli(["rerank", "--help"])  # a looked-up command is the real one
    assert loaded.exit_code == 0 and b"--method" in loaded.stdout
