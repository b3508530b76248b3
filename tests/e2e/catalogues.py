"""The pages' message catalogues (a `messages.js` of `TandemI18n.add("<lang>", {...})` blocks, one message a line),
read for the browser tests: a message to compare with what a page shows, and the English words no German page
may show."""

from __future__ import annotations

import re
from pathlib import Path


def catalogue(messages: Path, lang: str) -> dict[str, str]:
    """The messages of one language in the file `messages`."""
    block = messages.read_text().split(f'TandemI18n.add("{lang}", {{', 1)[1].split("\n});", 1)[0]
    return dict(re.findall(r'^\s*"([^"]+)": "((?:[^"\\]|\\.)*)",$', block, flags=re.M))


def english_only_words(messages: Path) -> set[str]:
    """Fragments of the English messages (placeholders cut out) that the German messages do not contain: none of
    them may show on a German page."""
    en, de = catalogue(messages, "en"), catalogue(messages, "de")
    german = " ".join(de.values())
    out = set()
    for key, value in en.items():
        if de.get(key) == value:
            continue
        for fragment in re.split(r"\{\w+\}|[():·…–,.]", value):
            fragment = fragment.strip()
            if len(fragment) >= 6 and fragment not in german:
                out.add(fragment)
    return out
