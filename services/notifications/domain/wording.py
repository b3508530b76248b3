"""Words that come from data, not from templates, in the recipient's language: a pair's rationale (its reasons, each a
stable code with parameters: docs/rationale-reasons.md), topic and language names, role names, and the reasons for
a cancellation that the system itself writes. Pure.

A rationale without reasons (a pair from before they existed) falls back to its stored English sentence; a reason
with a code this version does not know is left out (a newer pairing service may add codes), never shown raw."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import langcodes

TOPICS: dict[str, dict[str, str]] = {
    "de": {
        "prompt-writing": "Prompting",
        "office-copilots": "Copiloten in Office-Werkzeugen",
        "data-analysis": "Datenanalyse mit KI",
        "ai-agents": "KI-Agenten",
        "ai-risk-policy": "KI-Risiken und -Richtlinien",
    },
    "en": {
        "prompt-writing": "prompt writing",
        "office-copilots": "copilots in office tools",
        "data-analysis": "data analysis with AI",
        "ai-agents": "AI agents",
        "ai-risk-policy": "AI risk and policy",
    },
}
ROLES: dict[str, dict[str, str]] = {
    "de": {"mentor": "Mentor bzw. Mentorin", "mentee": "Mentee"},
    "en": {"mentor": "mentor", "mentee": "mentee"},
}


def _lang(locale: str) -> str:
    return "de" if locale == "de" else "en"


def topic_label(topic: str, locale: str) -> str:
    return TOPICS[_lang(locale)].get(topic, topic.replace("-", " "))


@cache
def language_name(code: str, locale: str) -> str:
    """A language's name in the locale's language: "Deutsch", "Englisch"; "German", "English"."""
    try:
        return str(langcodes.Language.get(code).display_name(_lang(locale)))
    except (ValueError, LookupError):
        return code


def role_name(role: str, locale: str) -> str:
    return ROLES[_lang(locale)].get(role, role)


def _hours(minutes: float, locale: str) -> str:
    hours = minutes / 60
    text = f"{hours:g}" if hours == int(hours) else f"{hours:.1f}"
    return (text.replace(".", ",") if _lang(locale) == "de" else text) + " h"


def _join(items: Sequence[str], locale: str) -> str:
    word = " und " if _lang(locale) == "de" else " and "
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + word + items[-1]


def _genitive(name: str) -> str:
    """ "Annas", "Klaus'" (a name ending in an s sound takes an apostrophe)."""
    return name + ("'" if name.endswith(("s", "ß", "x", "z")) else "s")


def _de(r: Mapping[str, Any]) -> str | None:
    code = r["code"]
    if code == "covers_goals":
        topics = ", ".join(topic_label(t, "de") for t in r["topics"])
        if r["goals"] == 1:
            return f"deckt {_genitive(r['mentee'])} Ziel ab: {topics}"
        return f"deckt {r['covered']} von {_genitive(r['mentee'])} {r['goals']} Zielen ab: {topics}"
    if code == "covers_no_goals":
        return f"deckt keines von {_genitive(r['mentee'])} Zielen ab"
    if code == "shared_languages":
        return "beide sprechen " + _join([language_name(x, "de") for x in r["languages"]], "de")
    if code == "weekly_overlap":
        return f"{_hours(float(r['minutes']), 'de')} gemeinsame Zeit pro Woche"
    if code == "no_common_slot":
        return "noch kein gemeinsames Zeitfenster"
    if code == "availability_unknown":
        return "Verfügbarkeit nicht angegeben"
    if code == "different_departments":
        return f"verschiedene Abteilungen ({r['mentee_department']} / {r['mentor_department']})"
    if code == "same_department":
        return f"gleiche Abteilung ({r['department']})"
    if code == "grade_gap":
        return f"{r['gap']} Karrierestufen Abstand"
    if code == "no_seniority_gap":
        return "kein Abstand in der Karrierestufe"
    return None


def _en(r: Mapping[str, Any]) -> str | None:
    code = r["code"]
    if code == "covers_goals":
        topics = ", ".join(topic_label(t, "en") for t in r["topics"])
        if r["goals"] == 1:
            return f"covers {r['mentee']}'s goal: {topics}"
        return f"covers {r['covered']} of {r['mentee']}'s {r['goals']} goals: {topics}"
    if code == "covers_no_goals":
        return f"covers none of {r['mentee']}'s goals"
    if code == "shared_languages":
        return "both speak " + _join([language_name(x, "en") for x in r["languages"]], "en")
    if code == "weekly_overlap":
        return f"{_hours(float(r['minutes']), 'en')} weekly overlap"
    if code == "no_common_slot":
        return "no common time slot yet"
    if code == "availability_unknown":
        return "availability not given"
    if code == "different_departments":
        return f"different departments ({r['mentee_department']} / {r['mentor_department']})"
    if code == "same_department":
        return f"same department ({r['department']})"
    if code == "grade_gap":
        return f"grade gap {r['gap']}"
    if code == "no_seniority_gap":
        return "no seniority gap"
    return None


def reason_text(reason: Mapping[str, Any], locale: str) -> str | None:
    """One reason in the locale's words; None for a code this version does not know, or one missing a parameter."""
    try:
        return (_de if _lang(locale) == "de" else _en)(reason)
    except (KeyError, TypeError, ValueError):
        return None


def rationale(reasons: Sequence[Mapping[str, Any]], fallback: str, locale: str) -> str:
    """Why the two were paired, as one sentence in the locale's language; `fallback` (the stored English sentence)
    when there are no reasons, or none this version can word."""
    parts = [t for t in (reason_text(r, locale) for r in reasons) if t]
    if not parts:
        return fallback
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


# --- reasons for a cancellation the system writes (services/sessions: pair_ended_reason) -------------------------

_END_WORDS_DE = {
    "it completed the programme": "es hat das Programm abgeschlossen",
    "it was ended for a rematch": "es wurde für ein neues Matching beendet",
    "one of the two withdrew from the programme": "einer von beiden hat sich vom Programm abgemeldet",
    "one of the two left the company": "einer von beiden hat das Unternehmen verlassen",
    "HR ended it": "HR hat es beendet",
}
_PAIR_ENDED = "the pair ended: "
_WHO_LEFT = re.compile(r"^(?P<name>.+) (?P<why>left the company|withdrew from the programme)$")
_WHY_DE = {"left the company": "hat das Unternehmen verlassen", "withdrew from the programme": "hat sich abgemeldet"}
_REORGANISATION = "reorganisation: "


def cancel_reason(reason: str, locale: str) -> str:
    """A session's cancellation reason in the locale's language when the system wrote it (the end of a pair calls
    its sessions off: "the pair ended: Lena Yilmaz left the company"); a person's own words stay as they are."""
    if _lang(locale) != "de" or not reason.startswith(_PAIR_ENDED):
        return reason
    why = reason.removeprefix(_PAIR_ENDED)
    if why in _END_WORDS_DE:
        why = _END_WORDS_DE[why]
    elif (found := _WHO_LEFT.match(why)) is not None:
        why = f"{found['name']} {_WHY_DE[found['why']]}"
    elif why.startswith(_REORGANISATION):
        why = "Umorganisation: " + flag_detail("", why.removeprefix(_REORGANISATION), locale)
    return f"das Tandem wurde beendet ({why})"


# --- the hard rule a reorganisation made a pair break (PairFlagged.detail, written by pairing in English) --------

_REPORTS = re.compile(
    r"^(?P<lower>.+) reports to (?P<higher>.+) within (?P<levels>\d+) management levels? "
    r"\(the programme allows none within (?P<limit>\d+)\)$"
)
_NO_LANGUAGE = re.compile(r"^(?P<a>.+) and (?P<b>.+) no longer share a language$")


def _levels_de(n: int) -> str:
    return f"{n} Führungsebene" if n == 1 else f"{n} Führungsebenen"


def flag_detail(
    rule: str, detail: str, locale: str, *, chain: Sequence[str] = (), mentor_name: str = "", mentee_name: str = ""
) -> str:
    """The hard rule a reorganisation made the pair break, in words of the locale's language. English keeps the
    sentence pairing wrote; German words it again from that sentence, or, for one this version does not know, from
    the rule, the reporting chain (names, the lower first) and the two names."""
    if _lang(locale) != "de":
        return detail
    if (found := _REPORTS.match(detail)) is not None:
        levels, limit = int(found["levels"]), int(found["limit"])
        how = "direkt" if levels == 1 else f"über {_levels_de(levels)}"
        return (
            f"{found['lower']} berichtet {how} an {found['higher']} (das Programm erlaubt keine Berichtslinie "
            f"innerhalb von {_levels_de(limit)})"
        )
    if (found := _NO_LANGUAGE.match(detail)) is not None:
        return f"{found['a']} und {found['b']} sprechen keine gemeinsame Sprache mehr"
    if rule == "shared_language":
        return f"{mentor_name} und {mentee_name} sprechen keine gemeinsame Sprache mehr"
    if len(chain) >= 2:
        levels = len(chain) - 1
        how = "direkt" if levels == 1 else f"über {_levels_de(levels)}"
        return f"{chain[0]} berichtet {how} an {chain[-1]}"
    return f"zwischen {mentee_name} und {mentor_name} besteht eine Berichtslinie"
