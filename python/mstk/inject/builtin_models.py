"""The built-in error models: keyboard slips, visual confusions and misspellings.

They register through ``register_error_models`` like any plugin's model, but carry
``kernel = True``: the Rust kernel runs them directly, so a run with built-in models only
never calls back into Python. ``load`` builds the kernel model from the run's options and
returns what the summary should say about the resources it read.
"""

from __future__ import annotations

from typing import Any

from mstk.inject import resources


class KernelErrorModel:
    """Base of the built-ins: ``load(options)`` then ``kernel_model`` and ``resources``."""

    name = ""
    version = "1"
    description = ""
    kernel = True

    def __init__(self) -> None:
        self.kernel_model: Any = None
        self.resources: dict[str, Any] = {}

    def load(self, options: dict[str, Any]) -> None:
        raise NotImplementedError


class Keyboard(KernelErrorModel):
    name = "keyboard"
    description = "US QWERTY slips: letters replaced by an adjacent key, case kept"

    def load(self, options: dict[str, Any]) -> None:
        from mstk import _core

        choice = options.get("keyboard_table", "builtin")
        table = resources.load_table(choice, "--keyboard-table")
        self.kernel_model = _core.keyboard_model(table, float(options.get("chars_per_word", 1)))
        self.resources = {"keyboard_table": choice}


class Visual(KernelErrorModel):
    name = "visual"
    description = "visually confusable characters (OCR-like: rn/m, l/1, o/0, ...), one per word"

    def load(self, options: dict[str, Any]) -> None:
        from mstk import _core

        choice = options.get("visual_table", "builtin")
        if choice == "nlpaug":
            rules, found = resources.nlpaug_visual_rules()
            self.resources = {"visual_table": {"source": "nlpaug", **found.describe()}}
        else:
            table = resources.load_table(choice, "--visual-table")
            rules = None if table is None else [(src, dst) for src, dsts in table for dst in dsts]
            self.resources = {"visual_table": choice}
        self.kernel_model = _core.visual_model(rules)


class Spelling(KernelErrorModel):
    name = "spelling"
    description = "misspellings from mstk's rules, nlpaug's or codespell's list, or a file; never a real word"

    def load(self, options: dict[str, Any]) -> None:
        from mstk import _core

        wordlist = resources.find_wordlist(options.get("wordlist", "auto"))
        words = resources.load_wordlist(wordlist)
        choice = options.get("spelling_dict", "builtin")
        fmt, source = resources.spelling_source(choice)
        described: dict[str, Any] = {"wordlist": wordlist.describe()}
        if fmt == "rules":
            self.kernel_model = _core.spelling_rules_model(words)
            described["spelling"] = {"source": "builtin-rules"}
        else:
            assert source is not None
            text = source.path.read_text(encoding="utf-8")
            if fmt == "codespell":
                text = resources.codespell_as_pairs(text)
            self.kernel_model, (lines, keys, pairs) = _core.spelling_dict_model(text, words)
            described["spelling"] = {"source": choice, **source.describe(), "keys": keys, "pairs": pairs}
        self.resources = described


BUILTIN_MODELS = (Keyboard, Visual, Spelling)
