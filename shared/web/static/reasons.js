// Why a pair was proposed, in the page's language (every service serves it at /web/static/reasons.js).
// A rationale travels as `reasons`, stable codes with parameters (docs/rationale-reasons.md), beside an English
// `rationale` string for old readers. The same wording as the mails (services/notifications/domain/wording.py);
// tests/e2e/test_reasons_wording.py checks that the two agree. render(reasons, rationale) gives the sentence in
// TandemI18n's language; with no reasons it can word (an event from before them) it gives the stored string. A
// code this page does not know is left out, never shown raw.
"use strict";

const TandemReasons = (() => {
  const TOPICS = {
    de: {
      "prompt-writing": "Prompting", "office-copilots": "Copiloten in Office-Werkzeugen",
      "data-analysis": "Datenanalyse mit KI", "ai-agents": "KI-Agenten",
      "ai-risk-policy": "KI-Risiken und -Richtlinien",
    },
    en: {
      "prompt-writing": "prompt writing", "office-copilots": "copilots in office tools",
      "data-analysis": "data analysis with AI", "ai-agents": "AI agents", "ai-risk-policy": "AI risk and policy",
    },
  };
  const lang = () => (typeof TandemI18n !== "undefined" && TandemI18n.language() === "de" ? "de" : "en");

  function topic(id, language = lang()) { return TOPICS[language][id] || String(id).replace(/-/g, " "); }

  function languageName(code, language) {
    try { return new Intl.DisplayNames([language], { type: "language" }).of(code) || code; } catch { return code; }
  }
  function hours(minutes, language) {
    const h = minutes / 60;
    const text = Number.isInteger(h) ? String(h) : h.toFixed(1);
    return (language === "de" ? text.replace(".", ",") : text) + " h";
  }
  function join(items, language) {
    const word = language === "de" ? " und " : " and ";
    return items.length === 1 ? items[0] : items.slice(0, -1).join(", ") + word + items[items.length - 1];
  }
  const genitive = (name) => name + (/[sßxz]$/.test(name) ? "'" : "s");
  const need = (r, ...keys) => { for (const k of keys) if (r[k] === undefined || r[k] === null) throw new Error(k); };

  const WORDS = {
    de: {
      covers_goals: (r) => {
        need(r, "topics", "goals", "mentee", "covered");
        const topics = r.topics.map((t) => topic(t, "de")).join(", ");
        return r.goals === 1 ? `deckt ${genitive(r.mentee)} Ziel ab: ${topics}`
          : `deckt ${r.covered} von ${genitive(r.mentee)} ${r.goals} Zielen ab: ${topics}`;
      },
      covers_no_goals: (r) => { need(r, "mentee"); return `deckt keines von ${genitive(r.mentee)} Zielen ab`; },
      shared_languages: (r) => { need(r, "languages"); return "beide sprechen " + join(r.languages.map((x) => languageName(x, "de")), "de"); },
      weekly_overlap: (r) => { need(r, "minutes"); return `${hours(Number(r.minutes), "de")} gemeinsame Zeit pro Woche`; },
      no_common_slot: () => "noch kein gemeinsames Zeitfenster",
      availability_unknown: () => "Verfügbarkeit nicht angegeben",
      different_departments: (r) => { need(r, "mentee_department", "mentor_department"); return `verschiedene Abteilungen (${r.mentee_department} / ${r.mentor_department})`; },
      same_department: (r) => { need(r, "department"); return `gleiche Abteilung (${r.department})`; },
      grade_gap: (r) => { need(r, "gap"); return `${r.gap} Karrierestufen Abstand`; },
      no_seniority_gap: () => "kein Abstand in der Karrierestufe",
    },
    en: {
      covers_goals: (r) => {
        need(r, "topics", "goals", "mentee", "covered");
        const topics = r.topics.map((t) => topic(t, "en")).join(", ");
        return r.goals === 1 ? `covers ${r.mentee}'s goal: ${topics}`
          : `covers ${r.covered} of ${r.mentee}'s ${r.goals} goals: ${topics}`;
      },
      covers_no_goals: (r) => { need(r, "mentee"); return `covers none of ${r.mentee}'s goals`; },
      shared_languages: (r) => { need(r, "languages"); return "both speak " + join(r.languages.map((x) => languageName(x, "en")), "en"); },
      weekly_overlap: (r) => { need(r, "minutes"); return `${hours(Number(r.minutes), "en")} weekly overlap`; },
      no_common_slot: () => "no common time slot yet",
      availability_unknown: () => "availability not given",
      different_departments: (r) => { need(r, "mentee_department", "mentor_department"); return `different departments (${r.mentee_department} / ${r.mentor_department})`; },
      same_department: (r) => { need(r, "department"); return `same department (${r.department})`; },
      grade_gap: (r) => { need(r, "gap"); return `grade gap ${r.gap}`; },
      no_seniority_gap: () => "no seniority gap",
    },
  };

  /** One reason in the language's words; null for an unknown code or a missing parameter. */
  function reason(r, language = lang()) {
    const word = r && WORDS[language][r.code];
    if (!word) return null;
    try { return word(r); } catch { return null; }
  }

  /** The rationale as one sentence in the page's language (`language` overrides). */
  function render(reasons, rationale, language = lang()) {
    const parts = (reasons || []).map((r) => reason(r, language)).filter(Boolean);
    if (!parts.length) return rationale || "";
    const text = parts.join("; ");
    return text[0].toUpperCase() + text.slice(1) + ".";
  }

  return { render, reason, topic };
})();
