"""Child process of ``--engine nlpaug``: rewrites the texts mstk chose, with nlpaug 1.1.11.

Run by ``mstk.inject.nlpaug_engine`` as ``python -m mstk.inject.nlpaug_child`` with
PYTHONHASHSEED=0: nlpaug's SpellingAug builds candidate lists from sets, so its output
depends on the hash seed; pinning it here makes the engine deterministic whatever the
caller's environment. Reads one JSON request on stdin, writes one JSON answer on stdout.
"""

from __future__ import annotations

import json
import sys


def make_augmenters(types: list[str], unit: str, rate: float) -> dict:
    import nlpaug.augmenter.char as nac
    import nlpaug.augmenter.word as naw

    made = {}
    for t in types:
        if unit == "query":  # nlpaug's own defaults: one augmenter call per chosen query
            made[t] = {"keyboard": nac.KeyboardAug, "visual": nac.OcrAug, "spelling": naw.SpellingAug}[t]()
        elif t == "keyboard":
            made[t] = nac.KeyboardAug(aug_word_p=rate)
        elif t == "visual":
            made[t] = nac.OcrAug(aug_word_p=rate)
        else:
            made[t] = naw.SpellingAug(aug_p=rate)
    return made


def rewrite(augmenter, text: str) -> str:
    out = augmenter.augment(text)
    if isinstance(out, list):  # nlpaug 1.1.x returns a list (empty for empty input)
        out = out[0] if out else text
    return out


def main() -> None:
    request = json.load(sys.stdin)
    from nlpaug.util import Randomness

    Randomness.seed(request["seed"] % 2**32)
    types, unit = request["types"], request["unit"]
    augmenters = make_augmenters(types, unit, request["rate"])
    changed, uncorruptible = [], 0
    if unit == "query":
        # Walk in rank order until k records changed; an unchanged output passes its type
        # slot on, exactly as mstk's own walk does with an uncorruptible record.
        j, k = 0, request["k"]
        for index, text in request["items"]:
            if j == k:
                break
            t = types[j % len(types)]
            new = rewrite(augmenters[t], text) if text and text.strip() else text
            if new is None or new == text:
                uncorruptible += 1
                continue
            changed.append([index, t, new])
            j += 1
    else:
        for index, text, t in request["items"]:
            new = rewrite(augmenters[t], text) if text and text.strip() else text
            if new is None or new == text:
                uncorruptible += 1
            else:
                changed.append([index, t, new])
    json.dump({"changed": changed, "n_uncorruptible": uncorruptible}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
