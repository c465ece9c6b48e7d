"""mstk's own plugins: the host's pieces, registered through the same hooks as any plugin.

Each module here is listed in ``mstk.plugins.BUILTIN_PLUGINS``.
"""
