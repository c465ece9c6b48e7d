"""The plugin host: loads built-in and third-party plugins and collects what they register.

Built-in pieces of mstk are plugins too (as in tox): they are modules listed in
``BUILTIN_PLUGINS`` and go through the same hooks a third-party plugin uses. Third-party
plugins are found through the ``mstk`` entry-point group (as in simonw/llm).

Loading is isolated per plugin: a plugin that fails to import, or that implements a hook
that does not exist (a misspelling), is reported with one warning line, remembered with its
error for ``mstk plugins``, and left out; everything else keeps working.

Registries are collected by calling each plugin's hook implementation separately with its
own ``register`` callback, so the host knows which plugin registered each class and can
name both plugins when a name is taken twice.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import os
import sys
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

import pluggy

from mstk import hookspecs
from mstk.errors import PluginError
from mstk.installed import EntryPoint, snapshot

if TYPE_CHECKING:
    import click

LOAD_PLUGINS_ENV = "MSTK_LOAD_PLUGINS"
DISABLE_PLUGINS_ENV = "MSTK_DISABLE_PLUGINS"
DEBUG_ENV = "MSTK_DEBUG"

# The host's own pieces, registered through the same hooks as third-party plugins.
# Adding a built-in plugin is one line here.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "mstk.default_plugins.commands",
    "mstk.default_plugins.rerankers",
    "mstk.default_plugins.datasets",
    "mstk.default_plugins.error_models",
    "mstk.default_plugins.encoders",
    "mstk.default_plugins.generators",
    "mstk.default_plugins.retrievers",
)


@dataclass
class PluginRecord:
    """What the host knows about one plugin, whether or not it loaded."""

    name: str
    builtin: bool
    package: str | None = None
    version: str | None = None
    error: str | None = None


class MstkPluginManager(pluggy.PluginManager):
    """A pluggy manager that also remembers every plugin it tried to load."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.records: list[PluginRecord] = []


# --------------------------------------------------------------------------- loading


def make_plugin_manager(*, entry_points: bool = True, plugins: Iterable[object] = ()) -> pluggy.PluginManager:
    """Build a plugin manager: hookspecs, built-ins, entry-point plugins, then ``plugins``.

    ``entry_points=False`` skips installed third-party plugins (tests use this); the
    ``MSTK_LOAD_PLUGINS`` / ``MSTK_DISABLE_PLUGINS`` environment lists apply to entry
    points only. Built-ins are always loaded, and a failure in one is a bug that raises.
    """
    pm = MstkPluginManager()
    pm.add_hookspecs(hookspecs)
    for module_name in BUILTIN_PLUGINS:
        _register_builtin(pm, module_name)
    if entry_points:
        for entry_point in _selected_entry_points():
            _load_entry_point(pm, entry_point)
    for plugin in plugins:
        _register_isolated(pm, plugin, PluginRecord(name=_unique_name(pm, plugin), builtin=False))
    # Every plugin was validated on registration; this is the safety net that keeps a
    # misspelled hook from ever being silently ignored.
    pm.check_pending()
    return pm


@functools.lru_cache(maxsize=1)
def get_plugin_manager() -> pluggy.PluginManager:
    """The manager for this process: built-ins plus the installed plugins, built on first use."""
    return make_plugin_manager()


def _register_builtin(pm: MstkPluginManager, module_name: str) -> None:
    from mstk import __version__

    module = importlib.import_module(module_name)
    pm.register(module, name=module_name)
    unknown = _unknown_hooks(pm, module)
    if unknown:
        raise PluginError(_unknown_hook_message(module_name, unknown[0]))
    pm.records.append(PluginRecord(name=module_name, builtin=True, package="mstk", version=__version__))


def _selected_entry_points() -> list[EntryPoint]:
    allowed = _names_from_env(LOAD_PLUGINS_ENV)
    blocked = _names_from_env(DISABLE_PLUGINS_ENV) or set()
    selected = [
        entry_point
        for entry_point in snapshot().entry_points
        if (allowed is None or entry_point.name in allowed) and entry_point.name not in blocked
    ]
    # importlib.metadata yields distributions in file-system order; sort so registration
    # order (and so the order of every registry) is the same on every machine.
    return sorted(selected, key=lambda ep: (ep.name, _distribution_name(ep) or "", ep.value))


def _names_from_env(variable: str) -> set[str] | None:
    """A comma-separated name list from the environment; None when the variable is unset."""
    value = os.environ.get(variable)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def _distribution_name(entry_point: EntryPoint) -> str | None:
    dist = getattr(entry_point, "dist", None)
    return dist.name if dist is not None else None


def _load_entry_point(pm: MstkPluginManager, entry_point: EntryPoint) -> None:
    dist = getattr(entry_point, "dist", None)
    record = PluginRecord(
        name=entry_point.name,
        builtin=False,
        package=dist.name if dist is not None else None,
        version=dist.version if dist is not None else None,
    )
    taken_by = _record_named(pm, entry_point.name)
    if taken_by is not None:
        _fail(pm, record, PluginError(f"the plugin name {entry_point.name!r} is already used by {taken_by.package or taken_by.name!r}"))
        return
    try:
        plugin = entry_point.load()
    except Exception as exc:  # any import-time failure stays inside this one plugin
        _fail(pm, record, exc)
        return
    _register_isolated(pm, plugin, record)


def _register_isolated(pm: MstkPluginManager, plugin: object, record: PluginRecord) -> None:
    """Register a third-party plugin; on any problem, warn, record it and leave it out."""
    try:
        pm.register(plugin, name=record.name)
    except Exception as exc:  # e.g. a hookimpl whose arguments do not match its spec
        # pluggy < 1.7 adds hookimpls one by one and stops at the first invalid one, so
        # the plugin may be half-registered: take out what it did add.
        if pm.get_plugin(record.name) is plugin:
            pm.unregister(name=record.name)
        _fail(pm, record, exc)
        return
    unknown = _unknown_hooks(pm, plugin)
    if unknown:
        pm.unregister(plugin)
        _fail(pm, record, PluginError(_unknown_hook_message(record.name, unknown[0])))
        return
    pm.records.append(record)


def _unknown_hooks(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    """Hooks that ``plugin`` implements but no hookspec declares (usually a misspelling)."""
    unknown = []
    for caller in pm.get_hookcallers(plugin) or []:
        if caller.has_spec():
            continue
        if any(impl.plugin is plugin and not impl.optionalhook for impl in caller.get_hookimpls()):
            unknown.append(caller.name)
    return sorted(unknown)


def _unknown_hook_message(plugin_name: str, hook_name: str) -> str:
    known = sorted(name for name in dir(hookspecs) if name.startswith("register_"))
    close = difflib.get_close_matches(hook_name, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known hooks: {', '.join(known)}"
    return f"plugin {plugin_name!r} implements unknown hook {hook_name!r} ({hint})"


def _fail(pm: MstkPluginManager, record: PluginRecord, exc: BaseException) -> None:
    record.error = _one_line(f"{type(exc).__name__}: {exc}")
    pm.records.append(record)
    _warn(record.name, exc)


def _warn(plugin_name: str, exc: BaseException) -> None:
    if os.environ.get(DEBUG_ENV) == "1":
        traceback.print_exception(exc, file=sys.stderr)
    # One line, whatever the exception's message: a broken plugin must not bury the output
    # of the command the user actually ran.
    message = _one_line(f"{type(exc).__name__}: {exc}")
    print(
        f"Warning: plugin {plugin_name!r} failed to load: {message} (set {DEBUG_ENV}=1 for a traceback)",
        file=sys.stderr,
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _record_named(pm: pluggy.PluginManager, name: str) -> PluginRecord | None:
    for record in getattr(pm, "records", ()):
        if record.name == name:
            return record
    return None


def _unique_name(pm: pluggy.PluginManager, plugin: object) -> str:
    base = getattr(plugin, "__name__", None) or type(plugin).__name__
    name, suffix = base, 2
    while pm.has_plugin(name) or _record_named(pm, name) is not None:
        name, suffix = f"{base}#{suffix}", suffix + 1
    return name


# --------------------------------------------------------------------------- describing


def describe_plugins(pm: pluggy.PluginManager) -> list[dict[str, Any]]:
    """One dict per plugin (loaded or failed), sorted by name; the data of ``mstk plugins``."""
    rows = []
    recorded = set()
    for record in getattr(pm, "records", ()):
        recorded.add(record.name)
        plugin = pm.get_plugin(record.name) if record.error is None else None
        rows.append(_describe(pm, record, plugin))
    # Plugins registered straight through pm.register() have no record; list them anyway.
    for name, plugin in pm.list_name_plugin():
        if plugin is not None and name not in recorded:
            rows.append(_describe(pm, PluginRecord(name=name, builtin=False), plugin))
    return sorted(rows, key=lambda row: (row["name"], row["package"] or ""))


def _describe(pm: pluggy.PluginManager, record: PluginRecord, plugin: object | None) -> dict[str, Any]:
    hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or []) if plugin is not None else []
    return {
        "name": record.name,
        "version": record.version,
        "package": record.package,
        "builtin": record.builtin,
        "hooks": hooks,
        "error": record.error,
    }


# --------------------------------------------------------------------------- commands


def add_plugin_commands(pm: pluggy.PluginManager, cli: click.Group) -> None:
    """Run every ``register_commands`` implementation against ``cli``, one plugin at a time.

    Two plugins adding the same command name is a PluginError naming both. A third-party
    plugin whose hook raises is isolated like an import failure: this hook runs on every
    ``mstk`` invocation, so one broken plugin must not take ``mstk --help`` down with it.
    """
    owners: dict[str, str] = {}
    for impl in pm.hook.register_commands.get_hookimpls():
        before = dict(cli.commands)
        try:
            _call_impl(impl, "register_commands", cli=cli)
        except Exception as exc:
            cli.commands.clear()
            cli.commands.update(before)  # drop whatever it added before failing
            record = _record_named(pm, impl.plugin_name)
            if record is None or record.builtin:
                raise
            pm.unregister(impl.plugin)
            record.error = _one_line(f"{type(exc).__name__}: {exc}")
            _warn(impl.plugin_name, exc)
            continue
        for name, command in cli.commands.items():
            if before.get(name) is command:
                continue
            if name in before:
                first = owners.get(name, "mstk")
                raise PluginError(f"command {name!r} is registered by both {first!r} and {impl.plugin_name!r}")
            owners[name] = impl.plugin_name


# --------------------------------------------------------------------------- registries


def collect(pm: pluggy.PluginManager, hook_name: str) -> dict[str, type]:
    """Everything registered through ``hook_name`` (e.g. ``"register_rerankers"``), by name.

    Order is registration order. A registered object without a string ``name`` or a name
    registered twice is a PluginError naming the plugin(s). A third-party hook that raises
    is dropped with one warning line (and its error shown by ``mstk plugins``); a built-in
    one that raises is a PluginError.
    """
    caller = getattr(pm.hook, hook_name, None)
    if caller is None or not caller.has_spec() or "register" not in (caller.spec.argnames if caller.spec else ()):
        raise ValueError(f"{hook_name!r} is not a register-callback hook of mstk")
    kind = registry_kind(hook_name)
    registered: dict[str, type] = {}
    owners: dict[str, str] = {}

    for impl in caller.get_hookimpls():
        plugin_name = impl.plugin_name

        def register(thing: type, plugin_name: str = plugin_name) -> None:
            name = getattr(thing, "name", None)
            if not isinstance(name, str) or not name:
                raise PluginError(
                    f"plugin {plugin_name!r} registered a {kind} without a string 'name' attribute: {thing!r}"
                )
            if name in owners:
                if owners[name] == plugin_name:
                    raise PluginError(f"{kind} {name!r} is registered twice by {plugin_name!r}")
                raise PluginError(f"{kind} {name!r} is registered by both {owners[name]!r} and {plugin_name!r}")
            registered[name] = thing
            owners[name] = plugin_name

        before = set(registered)
        try:
            _call_impl(impl, hook_name, register=register)
        except PluginError:
            raise
        except Exception as exc:
            record = _record_named(pm, plugin_name)
            if record is None or record.builtin:  # our own bug: fail loudly
                raise PluginError(f"plugin {plugin_name!r} failed in {hook_name}: {type(exc).__name__}: {exc}") from exc
            # A third-party plugin that breaks while registering loses what it registered
            # here, with one warning; every other plugin's things stay usable (DESIGN §4).
            for name in set(registered) - before:
                del registered[name]
                del owners[name]
            message = _one_line(f"{type(exc).__name__}: {exc}")
            record.error = record.error or f"{hook_name}: {message}"
            if os.environ.get(DEBUG_ENV) == "1":
                traceback.print_exception(exc, file=sys.stderr)
            print(f"Warning: plugin {plugin_name!r} failed in {hook_name}: {message} (its {kind}s are unavailable)", file=sys.stderr)
    return registered


def registry_kind(hook_name: str) -> str:
    """The word for one registered thing: ``register_error_models`` -> ``error model``."""
    plural = hook_name.removeprefix("register_").replace("_", " ")
    return plural[:-1] if plural.endswith("s") else plural


def _call_impl(impl: Any, hook_name: str, **arguments: Any) -> None:
    if impl.hookwrapper or impl.wrapper:
        # A wrapper around a register hook has nothing to wrap: reject it rather than
        # silently calling a generator that never runs.
        raise PluginError(f"plugin {impl.plugin_name!r}: {hook_name} does not support wrapper implementations")
    # pluggy lets an implementation accept a subset of the spec's arguments.
    impl.function(**{name: arguments[name] for name in impl.argnames})


def rerankers(pm: pluggy.PluginManager) -> dict[str, type]:
    """Re-ranking methods by name (``register_rerankers``)."""
    return collect(pm, "register_rerankers")


def error_models(pm: pluggy.PluginManager) -> dict[str, type]:
    """Query entry error models by name (``register_error_models``)."""
    return collect(pm, "register_error_models")


def retrievers(pm: pluggy.PluginManager) -> dict[str, type]:
    """Retrieval back ends by name (``register_retrievers``)."""
    return collect(pm, "register_retrievers")


def encoders(pm: pluggy.PluginManager) -> dict[str, type]:
    """Text encoders by name (``register_encoders``)."""
    return collect(pm, "register_encoders")


def generators(pm: pluggy.PluginManager) -> dict[str, type]:
    """LLM back ends by name (``register_generators``)."""
    return collect(pm, "register_generators")


def metrics(pm: pluggy.PluginManager) -> dict[str, type]:
    """Evaluation metrics by name (``register_metrics``)."""
    return collect(pm, "register_metrics")


def datasets(pm: pluggy.PluginManager) -> dict[str, type]:
    """Dataset loaders by name (``register_datasets``)."""
    return collect(pm, "register_datasets")


# The registry function for each register-callback hook; a test keeps it complete.
REGISTRIES: dict[str, Callable[[pluggy.PluginManager], dict[str, type]]] = {
    "register_rerankers": rerankers,
    "register_error_models": error_models,
    "register_retrievers": retrievers,
    "register_encoders": encoders,
    "register_generators": generators,
    "register_metrics": metrics,
    "register_datasets": datasets,
}
