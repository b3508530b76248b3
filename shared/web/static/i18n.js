// Language, messages and formats for Tandem's pages (every service serves it at /web/static/i18n.js).
// The language is, in order: `?lang=` in the address, the person's locale (a page sets it with `use()` once it
// knows it, e.g. from the participant record), the locale claim of the sign-in, the browser's languages. German
// and English are written; anything else reads English. Dates, times and numbers use the full locale (de-CH,
// en-GB, ...) through Intl, so a German programme shows 7.12.2026 and 14:00.
"use strict";

const TandemI18n = (() => {
  const LANGUAGES = ["de", "en"];
  const catalogues = {};
  let locale = null;

  function pick(tag) {
    if (!tag) return null;
    const language = String(tag).toLowerCase().split(/[-_]/)[0];
    return LANGUAGES.includes(language) ? String(tag).replace("_", "-") : null;
  }

  function detect() {
    const asked = pick(new URLSearchParams(location.search).get("lang"));
    if (asked) return asked;
    const session = typeof TandemAuth !== "undefined" && TandemAuth.current();
    const claimed = session && pick(session.locale);
    if (claimed) return claimed;
    for (const tag of navigator.languages || [navigator.language]) {
      const found = pick(tag);
      if (found) return found;
    }
    return "en";
  }

  /** The current locale (a BCP 47 tag whose language is written, e.g. "de-DE", "en"). */
  function current() { return locale || (locale = detect()); }
  function language() { return current().split("-")[0]; }

  /** Use this locale (e.g. the person's own), unless the address asks for another; re-render after. */
  function use(tag) {
    if (new URLSearchParams(location.search).get("lang")) return;
    const found = pick(tag);
    if (found) { locale = found; document.documentElement.lang = language(); }
  }

  /** Register messages: add("de", {key: "Text with {name}"}). */
  function add(lang, messages) { catalogues[lang] = { ...(catalogues[lang] || {}), ...messages }; }

  /** The message for `key` in the current language (English if missing, else the key), with {names} filled. */
  function t(key, values = {}) {
    const text = (catalogues[language()] || {})[key] ?? (catalogues.en || {})[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
  }

  const asDate = (value) => (value instanceof Date ? value : new Date(value));
  function date(value, options = { dateStyle: "medium" }) {
    return value ? new Intl.DateTimeFormat(current(), options).format(asDate(value)) : "";
  }
  function dateTime(value) { return date(value, { dateStyle: "medium", timeStyle: "short" }); }
  function number(value, options = {}) {
    return value === null || value === undefined ? "" : new Intl.NumberFormat(current(), options).format(value);
  }
  function percent(value, digits = 0) {
    return number(value, { style: "percent", maximumFractionDigits: digits });
  }

  /** Fill every element with data-i18n="key" (text) or data-i18n-attr="attr:key,attr:key" in `root`. */
  function apply(root = document) {
    document.documentElement.lang = language();
    root.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    root.querySelectorAll("[data-i18n-attr]").forEach((el) => {
      for (const pair of el.dataset.i18nAttr.split(",")) {
        const [attr, key] = pair.split(":");
        el.setAttribute(attr.trim(), t(key.trim()));
      }
    });
  }

  // What every page may need to say (a page's own catalogue adds to these).
  add("en", { "net.unreachable": "the service did not answer. Check in a moment whether your change is there, and try again if it is not." });
  add("de", { "net.unreachable": "der Dienst hat nicht geantwortet. Prüfen Sie gleich, ob Ihre Änderung da ist, und versuchen Sie es sonst noch einmal." });

  return { current, language, use, add, t, date, dateTime, number, percent, apply, LANGUAGES };
})();
