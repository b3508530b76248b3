// Tandem HR console: one page shell for every /console/... address; the address says which section to show
// (client-side routing on location.pathname). Every datum comes from the JSON APIs with HR's token
// (TandemAuth.json): pairing for programmes, enrolment, matching and pairs; sessions for pairs at risk and the
// exports; notifications for a participant's history. API text goes into the page with textContent only.
"use strict";

const { el } = TandemUI;
const t = (key, values) => TandemI18n.t(key, values);
/** A message that counts: `key.one` or `key.other` (the language's plural rule), with {count} in local digits. */
const tn = (key, count, values = {}) => t(`${key}.${new Intl.PluralRules(TandemI18n.current()).select(count) === "one" ? "one" : "other"}`,
  { ...values, count: TandemI18n.number(count) });
const $ = (selector, root = document) => root.querySelector(selector);
const enc = encodeURIComponent;
const TOPICS = ["prompt-writing", "office-copilots", "data-analysis", "ai-agents", "ai-risk-policy"];
const WEIGHTS = { topic_coverage: 0.5, availability: 0.2, cross_department: 0.15, seniority_gap: 0.15 };
const POLICY_DEFAULTS = {
  objective: "max_total_score", reporting_line_levels: 2, min_score: 0, min_overlap_minutes: 0, flagged_pairs: "pause",
};

/** A translated label for an API value (`prefix.value`), or the value itself when there is no translation. */
function label(prefix, value) {
  if (value === null || value === undefined || value === "") return "";
  const key = `${prefix}.${value}`;
  const text = t(key);
  return text === key ? String(value).replace(/_/g, " ") : text;
}
const num = (value, digits = 1) => TandemI18n.number(value, { maximumFractionDigits: digits });
/** A calendar day ("2026-09-01", no time of day): the same day in every time zone. */
const day = (value) => TandemI18n.date(value, { dateStyle: "medium", timeZone: /^\d{4}-\d{2}-\d{2}$/.test(value) ? "UTC" : undefined });
const when = (value) => TandemI18n.dateTime(value);

// ---- page frame -------------------------------------------------------------------------------------------

/** Say something to everyone (visible and announced: role=status), or an error (role=alert). */
function say(text, kind = "ok", lang = null) {
  $("#announce").replaceChildren(el("div", { class: kind, role: kind === "error" ? "alert" : "status", lang, text }));
}
/** An API's error, said as an alert (its message is the API's, in English). */
const sayError = (err) => say(err.message, "error", err.status ? TandemUI.API_LANGUAGE : null);

function view(...children) {
  const main = $("#view");
  main.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return main;
}

function go(path) {
  history.pushState({}, "", path + (LANG ? `?lang=${enc(LANG)}` : ""));
  return route();
}
const LANG = new URLSearchParams(location.search).get("lang");

/** A link inside the console: followed without reloading the page. */
function link(path, text, attrs = {}) {
  const href = path + (LANG ? `?lang=${enc(LANG)}` : "");
  return el("a", { href, "data-route": "", ...attrs, text });
}

document.addEventListener("click", (event) => {
  const a = event.target.closest && event.target.closest("a[data-route]");
  if (!a || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  history.pushState({}, "", a.getAttribute("href"));
  route();
});
window.addEventListener("popstate", () => route());

function table(headers, rows, attrs = {}) {
  return el("table", { class: "table stack", ...attrs },
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, rows));
}
/** A cell that says its column's name on phones (base.css folds `.table.stack`). */
const cell = (name, ...content) => el("td", { "data-label": name }, ...content);

function heading(title, lead) {
  return [el("h1", { id: "page-title", tabindex: "-1", text: title }), lead ? el("p", { class: "muted", text: lead }) : null];
}

// ---- data -------------------------------------------------------------------------------------------------

const pairing = (path, options) => TandemAuth.json("pairing", path, options);

async function programme(id) { return pairing(`/programmes/${enc(id)}`); }

/** Everyone enrolled in the programme, by participant id (name, role, employee id). */
async function people(programmeId) {
  const byId = new Map();
  for (let offset = 0; ; offset += 1000) {
    const page = await pairing(`/programmes/${enc(programmeId)}/participants?limit=1000&offset=${offset}`);
    for (const p of page.items) byId.set(p.participant_id, p);
    if (offset + page.items.length >= page.total || !page.items.length) break;
  }
  return byId;
}
const nameOf = (byId, id) => (byId.get(id) && byId.get(id).profile.display_name) || id;

// ---- programmes -------------------------------------------------------------------------------------------

async function programmesPage() {
  const list = await pairing("/programmes");
  const rows = list.map((p) => el("tr", { "data-programme": p.programme_id },
    cell(t("programmes.col.name"), link(`/console/programmes/${enc(p.programme_id)}`, p.name)),
    cell(t("programmes.col.dates"), t("programme.dates", { start: day(p.starts_on), end: day(p.ends_on) })),
    cell(t("programmes.col.state"), el("span", { class: "badge", "data-state": p.state, text: label("state", p.state) })),
    cell(t("programmes.col.actions"), lifecycleButtons(p, () => route()))));
  view(
    ...heading(t("programmes.title"), t("programmes.lead")),
    el("section", { class: "card", "aria-labelledby": "list-title" },
      el("h2", { id: "list-title", class: "sr-only", text: t("programmes.title") }),
      list.length ? table([t("programmes.col.name"), t("programmes.col.dates"), t("programmes.col.state"),
        t("programmes.col.actions")], rows, { id: "programmes" }) : el("p", { class: "empty", text: t("programmes.empty") })),
    createForm());
}

function lifecycleButtons(p, after) {
  const act = async (action, button) => {
    button.disabled = true;
    try {
      const done = await pairing(`/programmes/${enc(p.programme_id)}/${action}`, { method: "POST" });
      await after();
      say(t(action === "launch" ? "programme.launched" : "programme.closed", { name: done.name }));
    } catch (err) { button.disabled = false; sayError(err); }
  };
  const buttons = [];
  if (p.state === "draft") {
    buttons.push(el("button", { type: "button", "data-action": "launch", text: t("programme.launch"),
      onclick: (e) => act("launch", e.currentTarget) }));
  }
  if (p.state !== "closed" && p.state !== "draft") {
    buttons.push(el("button", { type: "button", class: "ghost", "data-action": "close", text: t("programme.close"),
      onclick: (e) => act("close", e.currentTarget) }));
  }
  return el("div", { class: "row" }, buttons);
}

function field(labelText, control, hint) {
  return el("label", {}, labelText, hint ? el("span", { class: "hint", text: hint }) : null, control);
}
function number(name, value, attrs = {}) {
  return el("input", { type: "number", name, value, step: "any", ...attrs });
}

function policyFields(current = {}) {
  const objective = el("select", { name: "objective" },
    ["max_total_score", "max_matched"].map((o) => el("option", { value: o, text: t(`policy.${o}`),
      selected: (current.objective || POLICY_DEFAULTS.objective) === o })));
  const weights = el("fieldset", { "data-field": "weights" }, el("legend", { text: t("policy.weights") }),
    Object.entries(WEIGHTS).map(([key, value]) => field(`${t(`policy.weight.${key}`)} (${t("policy.default", { value: num(value, 2) })})`,
      number(`weight.${key}`, value, { min: 0, "data-field": key }))));
  const flagged = el("select", { name: "flagged_pairs" },
    ["pause", "keep_running"].map((o) => el("option", { value: o, text: t(`policy.flagged.${o}`) })));
  return el("fieldset", {}, el("legend", { text: t("create.policy") }),
    field(t("policy.objective"), objective),
    weights,
    field(t("policy.reportingLevels"), number("reporting_line_levels", 2, { min: 0, max: 10, step: 1 }),
      t("policy.default", { value: 2 })),
    field(t("policy.minScore"), number("min_score", 0, { min: 0, max: 100 }), t("policy.default", { value: 0 })),
    field(t("policy.minOverlap"), number("min_overlap_minutes", 0, { min: 0, step: 1 }), t("policy.default", { value: 0 })),
    field(t("policy.flagged"), flagged),
    field(t("policy.mustPair"), el("textarea", { name: "must_pair", rows: 2 })),
    field(t("policy.neverPair"), el("textarea", { name: "never_pair", rows: 2 })));
}

function pairsOf(text) {
  return text.split("\n").map((line) => line.split(/[,;\s]+/).filter(Boolean)).filter((p) => p.length)
    .map((p) => (p.length === 2 ? p : p.concat(["", ""]).slice(0, 2)));
}

function createForm() {
  const form = el("form", { id: "create-programme", novalidate: true },
    field(t("create.id"), el("input", { name: "programme_id", autocomplete: "off" }), t("create.idHint")),
    field(t("create.name"), el("input", { name: "name", required: true })),
    el("div", { class: "grid tight" },
      field(t("create.starts"), el("input", { type: "date", name: "starts_on", required: true })),
      field(t("create.ends"), el("input", { type: "date", name: "ends_on", required: true })),
      field(t("create.cadence"), number("cadence_days", 14, { min: 1, max: 90, step: 1 }))),
    el("fieldset", { "data-field": "focus_topics" }, el("legend", { text: t("create.topics") }),
      TOPICS.map((topic) => el("label", { class: "check" },
        el("input", { type: "checkbox", name: "topic", value: topic, checked: true }), TandemReasons.topic(topic))),
      field(t("create.otherTopics"), el("input", { name: "other_topics" }))),
    el("label", { class: "check" }, el("input", { type: "checkbox", name: "requires_consent" }), t("create.consent")),
    el("div", { class: "grid tight" },
      field(t("create.consentDays"), number("consent_days", 7, { min: 1, max: 60, step: 1 })),
      field(t("create.contact"), el("input", { type: "email", name: "hr_contact_email", autocomplete: "email" })),
      field(t("create.hrLocale"), el("select", { name: "hr_locale" }, ["de", "en"].map((l) => el("option",
        { value: l, lang: l, text: t(`create.hrLocale.${l}`), selected: l === TandemI18n.language() }))), t("create.hrLocaleHint")),
      field(t("create.minGroup"), number("min_group_size", 5, { min: 3, max: 100, step: 1 }))),
    policyFields(),
    el("label", { class: "check" }, el("input", { type: "checkbox", name: "launch" }), t("create.launch")),
    el("div", {}, el("button", { type: "submit", text: t("create.submit") })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    TandemUI.clearErrors(form);
    const f = form.elements;
    const topics = [...form.querySelectorAll("input[name=topic]:checked")].map((x) => x.value)
      .concat(f.other_topics.value.split(",").map((x) => x.trim()).filter(Boolean));
    const weights = Object.fromEntries(Object.keys(WEIGHTS).map((k) => [k, Number(f[`weight.${k}`].value)]));
    const body = {
      name: f.name.value.trim(), starts_on: f.starts_on.value || null, ends_on: f.ends_on.value || null,
      cadence_days: Number(f.cadence_days.value), focus_topics: topics, requires_consent: f.requires_consent.checked,
      consent_days: Number(f.consent_days.value), min_group_size: Number(f.min_group_size.value), launch: f.launch.checked,
      hr_locale: f.hr_locale.value,
      matching_policy: {
        objective: f.objective.value, weights, reporting_line_levels: Number(f.reporting_line_levels.value),
        min_score: Number(f.min_score.value), min_overlap_minutes: Number(f.min_overlap_minutes.value),
        flagged_pairs: f.flagged_pairs.value, must_pair: pairsOf(f.must_pair.value), never_pair: pairsOf(f.never_pair.value),
      },
    };
    if (f.programme_id.value.trim()) body.programme_id = f.programme_id.value.trim();
    if (f.hr_contact_email.value.trim()) body.hr_contact_email = f.hr_contact_email.value.trim();
    try {
      const created = await pairing("/programmes", { method: "POST", body });
      await go(`/console/programmes/${enc(created.programme_id)}`);
      say(t("programme.created", { name: created.name }));
    } catch (err) {
      TandemUI.showError(form, err);
    }
  });
  return el("section", { class: "card", "aria-labelledby": "create-title" },
    el("h2", { id: "create-title", text: t("create.title") }), form);
}

// ---- one programme: its tabs ------------------------------------------------------------------------------

const TABS = ["overview", "enrolment", "matching", "pairs", "flagged", "outcomes", "notifications"];

function tabs(p, current) {
  return el("nav", { class: "tabs", "aria-label": t("tabs.label") },
    TABS.map((tab) => link(`/console/programmes/${enc(p.programme_id)}${tab === "overview" ? "" : `/${tab}`}`,
      t(`tab.${tab}`), { "aria-current": tab === current ? "page" : null, "data-tab": tab })));
}

function programmeHeader(p, current) {
  return [
    el("p", { class: "muted crumbs" }, link("/console", t("nav.programmes"))),
    el("h1", { id: "page-title", tabindex: "-1", text: p.name }),
    el("p", { class: "muted" }, t("programme.dates", { start: day(p.starts_on), end: day(p.ends_on) }), " · ",
      el("span", { class: "badge", "data-state": p.state, text: label("state", p.state) })),
    tabs(p, current),
  ];
}

function policyList(policy) {
  const weights = { ...WEIGHTS, ...(policy.weights || {}) };
  const pairs = (list) => (list && list.length ? list.map((x) => x.join(" – ")).join("; ") : t("policy.none"));
  const items = [
    [t("policy.objective"), label("policy", policy.objective || POLICY_DEFAULTS.objective)],
    ...Object.entries(weights).map(([k, v]) => [t(`policy.weight.${k}`), num(v, 2)]),
    [t("policy.reportingLevels"), num(policy.reporting_line_levels ?? 2, 0)],
    [t("policy.minScore"), num(policy.min_score ?? 0)],
    [t("policy.minOverlap"), num(policy.min_overlap_minutes ?? 0, 0)],
    [t("policy.flagged"), label("policy.flagged", policy.flagged_pairs || "pause")],
    [t("policy.mustPair"), pairs(policy.must_pair)],
    [t("policy.neverPair"), pairs(policy.never_pair)],
  ];
  return el("dl", { class: "facts", id: "policy" }, items.map(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
}

async function overviewPage(p) {
  view(...programmeHeader(p, "overview"),
    el("section", { class: "card" },
      el("h2", { text: t("tab.overview") }),
      el("ul", {},
        el("li", { text: t("programme.cadence", { days: num(p.cadence_days, 0) }) }),
        el("li", { text: `${t("programme.topics")}: ${p.focus_topics.map((x) => TandemReasons.topic(x)).join(", ")}` }),
        el("li", { text: p.requires_consent ? t("programme.consent", { days: num(p.consent_days, 0) }) : t("programme.noConsent") }),
        p.hr_contact_email ? el("li", { text: `${t("programme.contact")}: ${p.hr_contact_email}` }) : null,
        el("li", { text: t("programme.minGroup", { n: num(p.min_group_size, 0) }) })),
      lifecycleButtons(p, () => route())),
    el("section", { class: "card" }, el("h2", { text: t("programme.policy") }), policyList(p.matching_policy)));
}

// ---- enrolment --------------------------------------------------------------------------------------------

function rowErrors(err) {
  const details = err.details && err.details.length ? err.details : err.errors || [];
  if (!details.length) return null;
  const hasLine = details.some((d) => d.line !== undefined);
  return el("div", { id: "row-errors" },
    el("p", { class: "error", role: "alert", text: tn("enrol.rowErrors", details.length) }),
    table([hasLine ? t("enrol.col.line") : t("enrol.col.row"), t("enrol.col.field"), t("enrol.col.message")],
      details.map((d) => el("tr", { "data-row": d.row ?? "" },
        cell(hasLine ? t("enrol.col.line") : t("enrol.col.row"), String(d.line ?? d.row ?? "")),
        cell(t("enrol.col.field"), el("code", { text: d.field || "" })),
        cell(t("enrol.col.message"), el("span", { lang: TandemUI.API_LANGUAGE, text: d.message || "" }))))));
}

async function enrolmentPage(p) {
  const byId = await people(p.programme_id);
  const result = el("div", { id: "enrol-result" });
  const open = p.state !== "draft" && p.state !== "closed";
  const enrolled = [...byId.values()];
  const enrolledList = el("section", { class: "card", "aria-labelledby": "enrolled-title" },
    el("h2", { id: "enrolled-title", text: t("enrol.enrolled.title", { count: num(enrolled.length, 0) }) }),
    enrolled.length ? table([t("col.name"), t("col.employee"), t("col.role"), t("col.status")],
      enrolled.map((x) => el("tr", { "data-participant": x.participant_id },
        cell(t("col.name"), x.profile.display_name || ""), cell(t("col.employee"), x.employee_id),
        cell(t("col.role"), label("role", x.role)), cell(t("col.status"), label("status", x.status)))), { id: "enrolled" })
      : el("p", { class: "empty", text: t("enrol.enrolled.empty") }));
  view(...programmeHeader(p, "enrolment"),
    open ? null : el("p", { class: "notice", text: t("enrol.closed", { state: label("state", p.state) }) }),
    result,
    el("div", { class: "grid" }, uploadForm(p, result), directoryForm(p, result, byId)),
    enrolledList);
}

async function enrolDone(p, result, count) {
  await route();
  say(tn("enrol.done", count));
}

/** Enrol many at once (all or nothing). A refusal throws an Error with the API's message, `field`, `status`, and
 *  each row's error (`details`: row, CSV line, field, message; or `errors` for a malformed JSON list). */
async function enrolMany(p, type, body) {
  const url = `${await TandemAuth.base("pairing")}/programmes/${enc(p.programme_id)}/participants/bulk`;
  const res = await TandemAuth.api(url, { method: "POST", headers: { "content-type": type }, body });
  const data = await res.json().catch(() => ({}));
  if (res.ok) return data;
  const error = (data && data.error) || {};
  throw Object.assign(new Error(error.message || `${res.status}`), {
    field: error.field || null, status: res.status, details: error.details || [], errors: data.errors || [],
  });
}

function uploadForm(p, result) {
  const input = el("input", { type: "file", name: "file", accept: ".csv,.json,text/csv,application/json", required: true });
  const form = el("form", { id: "upload", novalidate: true },
    field(t("enrol.upload.file"), input),
    el("div", {}, el("button", { type: "submit", text: t("enrol.upload.submit") })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    TandemUI.clearErrors(form);
    result.replaceChildren();
    const file = input.files[0];
    if (!file) { TandemUI.showError(form, { message: t("enrol.upload.none"), field: "file" }); return; }
    const name = file.name.toLowerCase();
    const type = name.endsWith(".csv") ? "text/csv" : name.endsWith(".json") ? "application/json" : null;
    if (!type) { TandemUI.showError(form, { message: t("enrol.upload.type", { name: file.name }), field: "file" }); return; }
    try {
      const done = await enrolMany(p, type, await file.text());
      await enrolDone(p, result, done.length);
    } catch (err) {
      TandemUI.showError(form, { message: err.message, field: "file", status: err.status });
      const table = rowErrors(err);
      if (table) result.replaceChildren(table);
    }
  });
  return el("section", { class: "card", "aria-labelledby": "upload-title" },
    el("h2", { id: "upload-title", text: t("enrol.upload.title") }),
    el("p", { class: "muted", text: t("enrol.upload.lead") }), form);
}

const WEEKDAYS = { mon: 0, tue: 1, wed: 2, thu: 3, fri: 4, sat: 5, sun: 6, mo: 0, di: 1, mi: 2, do: 3, fr: 4, sa: 5, so: 6 };
/** "Mon 09:00-12:00; Wed 14:00-16:30" (as in the CSV file; German day names too) as the API's windows. */
function windows(text) {
  return text.split(/[;\n]+/).map((part) => part.trim()).filter(Boolean).map((part) => {
    const found = part.match(/^([A-Za-zÄÖÜäöü]+)\.?\s+(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})$/);
    const weekday = found && (WEEKDAYS[found[1].toLowerCase().slice(0, 3)] ?? WEEKDAYS[found[1].toLowerCase().slice(0, 2)]);
    if (!found || weekday === undefined) {
      throw Object.assign(new Error(t("enrol.dir.badWindow", { part })), { field: "availability" });
    }
    const pad = (x) => x.padStart(5, "0");
    return { weekday, start: pad(found[2]), end: pad(found[3]) };
  });
}

function directoryForm(p, result, byId) {
  const taken = new Set([...byId.values()].map((x) => x.employee_id));
  const status = el("select", { name: "status" },
    ["active", "on_leave", ""].map((s) => el("option", { value: s, text: s ? label("status", s) : t("status.any") })));
  const manager = el("input", { name: "manager_employee_id", autocomplete: "off" });
  const list = el("div", { id: "directory" });
  const filters = el("form", { id: "directory-filter", novalidate: true },
    el("div", { class: "grid tight" }, field(t("enrol.dir.status"), status), field(t("enrol.dir.manager"), manager)),
    el("div", {}, el("button", { type: "submit", class: "ghost", text: t("enrol.dir.search") })));
  const role = el("select", { name: "role" }, ["mentor", "mentee"].map((r) => el("option", { value: r, text: label("role", r) })));
  const level = el("select", { name: "level" }, [1, 2, 3].map((n) => el("option", { value: n, selected: n === 2, text: num(n, 0) })));
  const pick = el("form", { id: "directory-enrol", novalidate: true }, list,
    el("fieldset", {}, el("legend", { text: t("enrol.dir.what") }),
      field(t("enrol.dir.role"), role),
      el("fieldset", { "data-field": "topics" }, el("legend", { text: t("enrol.dir.topics") }),
        p.focus_topics.map((topic) => el("label", { class: "check" },
          el("input", { type: "checkbox", name: "topic", value: topic }), TandemReasons.topic(topic))),
        field(t("enrol.dir.level"), level)),
      el("div", { class: "grid tight" },
        field(t("enrol.dir.capacity"), number("capacity", 1, { min: 0, max: 10, step: 1 })),
        field(t("enrol.dir.availability"), el("input", { name: "availability", placeholder: "Mon 09:00-12:00; Wed 14:00-16:30" }),
          t("enrol.dir.availabilityHint"))),
      field(t("enrol.dir.goal"), el("textarea", { name: "goal", rows: 2, maxlength: 2000 }))),
    el("div", {}, el("button", { type: "submit", text: t("enrol.dir.submit") })));
  async function search() {
    TandemUI.clearErrors(filters);
    const params = new URLSearchParams({ limit: "200" });
    if (status.value) params.set("status", status.value);
    if (manager.value.trim()) params.set("manager_employee_id", manager.value.trim());
    try {
      const page = await pairing(`/directory/employees?${params}`);
      const rows = page.items.filter((e) => !taken.has(e.employee_id)).map((e) => el("tr", { "data-employee": e.employee_id },
        cell(t("col.select"), el("input", { type: "checkbox", name: "employee", value: e.employee_id,
          "aria-label": t("enrol.dir.pick", { name: e.display_name }) })),
        cell(t("col.name"), e.display_name), cell(t("col.department"), e.department || ""),
        cell(t("col.grade"), e.grade === null ? "" : num(e.grade, 0)), cell(t("col.status"), label("status", e.status))));
      list.replaceChildren(
        el("p", { class: "muted", text: t("enrol.dir.count", { shown: num(rows.length, 0), total: num(page.total, 0) }) }),
        rows.length ? table([t("col.select"), t("col.name"), t("col.department"), t("col.grade"), t("col.status")], rows)
          : el("p", { class: "empty", text: t("enrol.dir.empty") }));
    } catch (err) { TandemUI.showError(filters, err); }
  }
  filters.addEventListener("submit", (event) => { event.preventDefault(); search(); });
  pick.addEventListener("submit", async (event) => {
    event.preventDefault();
    TandemUI.clearErrors(pick);
    result.replaceChildren();
    const chosen = [...pick.querySelectorAll("input[name=employee]:checked")].map((x) => x.value);
    if (!chosen.length) { TandemUI.showError(pick, { message: t("enrol.dir.none") }); return; }
    const f = pick.elements;
    let availability;
    try { availability = windows(f.availability.value); } catch (err) { TandemUI.showError(pick, err); return; }
    const topics = Object.fromEntries([...pick.querySelectorAll("input[name=topic]:checked")].map((x) => [x.value, Number(level.value)]));
    const enrolment = { role: role.value, capacity: Number(f.capacity.value), availability, goal: f.goal.value.trim(),
      [role.value === "mentor" ? "teach_topics" : "learn_topics"]: topics };
    try {
      const rows = chosen.map((employee_id) => ({ employee_id, ...enrolment }));
      const done = await enrolMany(p, "application/json", JSON.stringify(rows));
      await enrolDone(p, result, done.length);
    } catch (err) {
      TandemUI.showError(pick, err);
      const rows = rowErrors(err);
      if (rows) result.replaceChildren(rows);
    }
  });
  search();
  return el("section", { class: "card", "aria-labelledby": "directory-title" },
    el("h2", { id: "directory-title", text: t("enrol.dir.title") }), filters, pick);
}

// ---- match runs -------------------------------------------------------------------------------------------

/** The programme's matching policy as a run uses it when nothing is changed (the defaults filled in). */
function programmePolicy(p) {
  const mp = p.matching_policy || {};
  return {
    objective: mp.objective || POLICY_DEFAULTS.objective,
    weights: { ...WEIGHTS, ...(mp.weights || {}) },
    reporting_line_levels: mp.reporting_line_levels ?? POLICY_DEFAULTS.reporting_line_levels,
    min_score: mp.min_score ?? POLICY_DEFAULTS.min_score,
    min_overlap_minutes: mp.min_overlap_minutes ?? POLICY_DEFAULTS.min_overlap_minutes,
    must_pair: mp.must_pair || [],
    never_pair: mp.never_pair || [],
  };
}
/** A run's numeric policy fields: [API name, label key, digits shown, hint key, input attributes]. */
const RUN_NUMBERS = [
  ["reporting_line_levels", "policy.reportingLevels", 0, "match.policy.hint.reportingLevels", { min: 0, max: 10, step: 1 }],
  ["min_score", "policy.minScore", 1, "match.policy.hint.minScore", { min: 0, max: 100 }],
  ["min_overlap_minutes", "policy.minOverlap", 0, "match.policy.hint.minOverlap", { min: 0, step: 1 }],
];
const RUN_PAIRS = [["must_pair", "policy.mustPair"], ["never_pair", "policy.neverPair"]];
const pairsText = (list) => (list && list.length ? list.map((x) => x.join(" – ")).join("; ") : t("policy.none"));
const pairsLines = (list) => (list || []).map((x) => x.join(", ")).join("\n");
const samePairs = (a, b) => JSON.stringify((a || []).map((x) => [...x])) === JSON.stringify((b || []).map((x) => [...x]));

/** Where a run's policy differs from the programme's: [label, the run's value, the programme's value]. */
function policyChanges(used, base) {
  const out = [];
  if ((used.objective || base.objective) !== base.objective) {
    out.push([t("policy.objective"), label("policy", used.objective), label("policy", base.objective)]);
  }
  for (const key of Object.keys(WEIGHTS)) {
    const value = used.weights && used.weights[key];
    if (value !== undefined && Number(value) !== Number(base.weights[key])) {
      out.push([t(`policy.weight.${key}`), num(value, 2), num(base.weights[key], 2)]);
    }
  }
  for (const [key, labelKey, digits] of RUN_NUMBERS) {
    if (used[key] !== undefined && Number(used[key]) !== Number(base[key])) {
      out.push([t(labelKey), num(used[key], digits), num(base[key], digits)]);
    }
  }
  for (const [key, labelKey] of RUN_PAIRS) {
    if (used[key] !== undefined && !samePairs(used[key], base[key])) out.push([t(labelKey), pairsText(used[key]), pairsText(base[key])]);
  }
  return out;
}

/** What a run's policy changed, for the runs list and the run's page; "the programme's" when nothing. */
function policyUsed(run, base, attrs = {}) {
  const changes = policyChanges(run.policy || {}, base);
  if (!changes.length) return el("span", { ...attrs, text: t("match.policy.same") });
  return el("ul", { class: "changes", ...attrs }, changes.map(([name, value, was]) =>
    el("li", {}, el("strong", { text: `${name}: ${value}` }), " ", el("span", { class: "muted", text: t("match.policy.was", { value: was }) }))));
}

/** The run's policy, prefilled with the programme's; only what HR changes is sent (`policy` of the request). */
function runForm(p, base) {
  const hint = (key, value) => [key ? t(key) : "", t("match.policy.programme", { value })].filter(Boolean).join(" ");
  const objective = el("select", { name: "policy.objective" },
    ["max_total_score", "max_matched"].map((o) => el("option", { value: o, text: t(`policy.${o}`), selected: base.objective === o })));
  const form = el("form", { id: "start-run", novalidate: true },
    el("fieldset", { "data-field": "policy" },
      el("legend", { text: t("match.policy.title") }),
      el("p", { class: "hint", text: t("match.policy.lead") }),
      field(t("policy.objective"), objective, hint(null, label("policy", base.objective))),
      el("fieldset", { "data-field": "policy.weights" }, el("legend", { text: t("policy.weights") }),
        el("p", { class: "hint", text: t("match.policy.hint.weights") }),
        el("div", { class: "grid tight" }, Object.keys(WEIGHTS).map((key) => field(t(`policy.weight.${key}`),
          number(`policy.weights.${key}`, base.weights[key], { min: 0 }), hint(null, num(base.weights[key], 2)))))),
      RUN_NUMBERS.map(([key, labelKey, digits, hintKey, attrs]) =>
        field(t(labelKey), number(`policy.${key}`, base[key], attrs), hint(hintKey, num(base[key], digits)))),
      RUN_PAIRS.map(([key, labelKey]) => field(t(labelKey),
        el("textarea", { name: `policy.${key}`, rows: 2, text: pairsLines(base[key]) }),
        hint("match.policy.hint.pairs", pairsText(base[key]))))),
    el("div", {}, el("button", { type: "submit", text: t("match.start") })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    TandemUI.clearErrors(form);
    const f = form.elements;
    /** A number field's value; an empty one is sent as null, and the API names it. */
    const value = (name) => (f[name].value.trim() === "" ? null : Number(f[name].value));
    const changes = {};
    if (f["policy.objective"].value !== base.objective) changes.objective = f["policy.objective"].value;
    for (const key of Object.keys(WEIGHTS)) {
      const v = value(`policy.weights.${key}`);
      if (v !== base.weights[key]) (changes.weights = changes.weights || {})[key] = v;
    }
    for (const [key] of RUN_NUMBERS) {
      const v = value(`policy.${key}`);
      if (v !== Number(base[key])) changes[key] = v;
    }
    for (const [key] of RUN_PAIRS) {
      const list = pairsOf(f[`policy.${key}`].value);
      if (!samePairs(list, base[key])) changes[key] = list;
    }
    try {
      const run = await pairing(`/programmes/${enc(p.programme_id)}/match-runs`,
        { method: "POST", body: Object.keys(changes).length ? { policy: changes } : {} });
      await go(`/console/programmes/${enc(p.programme_id)}/matching/${enc(run.match_run_id)}`);
      say(tn("match.started", run.proposals.length));
    } catch (err) { TandemUI.showError(form, err); }
  });
  return form;
}

async function matchingPage(p) {
  const runs = await pairing(`/programmes/${enc(p.programme_id)}/match-runs`);
  const base = programmePolicy(p);
  const sorted = [...runs].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  view(...programmeHeader(p, "matching"),
    el("div", { class: "grid" },
      el("section", { class: "card", "aria-labelledby": "start-title" },
        el("h2", { id: "start-title", text: t("match.start.title") }),
        el("p", { class: "muted", text: t("match.start.lead") }), runForm(p, base)),
      el("section", { class: "card", "aria-labelledby": "policy-title" },
        el("h2", { id: "policy-title", text: t("programme.policy") }), policyList(p.matching_policy))),
    el("section", { class: "card", "aria-labelledby": "runs-title" },
      el("h2", { id: "runs-title", text: t("match.runs") }),
      sorted.length ? table([t("match.col.when"), t("match.col.kind"), t("match.col.proposals"), t("match.col.unmatched"),
        t("match.col.total"), t("match.col.policy")], sorted.map((r) => el("tr", { "data-run": r.match_run_id },
        cell(t("match.col.when"), link(`/console/programmes/${enc(p.programme_id)}/matching/${enc(r.match_run_id)}`, when(r.created_at))),
        cell(t("match.col.kind"), label("kind", r.kind)),
        cell(t("match.col.proposals"), num(r.proposals.length, 0)),
        cell(t("match.col.unmatched"), num(r.unmatched.length, 0)),
        cell(t("match.col.total"), num(r.total_score)),
        cell(t("match.col.policy"), policyUsed(r, base, { "data-policy": "" }))))) : el("p", { class: "empty", text: t("match.runs.empty") })));
}

async function runPage(p, runId) {
  const [run, byId] = await Promise.all([pairing(`/match-runs/${enc(runId)}`), people(p.programme_id)]);
  const open = run.proposals.filter((x) => x.status === "open");
  const rows = run.proposals.map((x) => el("tr", { "data-proposal": x.proposal_id, "data-status": x.status },
    cell(t("col.select"), x.status === "open" ? el("input", { type: "checkbox", name: "proposal", value: x.proposal_id,
      "aria-label": t("run.pick", { mentor: nameOf(byId, x.mentor_id), mentee: nameOf(byId, x.mentee_id) }) }) : ""),
    cell(t("run.col.mentor"), nameOf(byId, x.mentor_id)),
    cell(t("run.col.mentee"), nameOf(byId, x.mentee_id)),
    cell(t("run.col.score"), num(x.score)),
    cell(t("run.col.why"), el("span", { class: "rationale", text: TandemReasons.render(x.reasons, x.rationale) }),
      x.forced ? el("span", { class: "badge", text: t("proposal.forced") }) : null),
    cell(t("run.col.state"), label("proposal", x.status))));
  const startedOn = el("input", { type: "date", name: "started_on" });
  const form = el("form", { id: "accept", novalidate: true },
    table([t("col.select"), t("run.col.mentor"), t("run.col.mentee"), t("run.col.score"), t("run.col.why"), t("run.col.state")],
      rows, { id: "proposals" }),
    open.length ? field(t("run.startedOn"), startedOn) : null,
    open.length ? el("div", { class: "row" },
      el("button", { type: "submit", name: "selected", text: t("run.acceptSelected") }),
      el("button", { type: "button", class: "ghost", id: "accept-all", text: t("run.acceptAll"),
        onclick: () => accept(null) })) : null);
  async function accept(ids) {
    TandemUI.clearErrors(form);
    const body = {};
    if (ids) body.proposal_ids = ids;
    if (startedOn.value) body.started_on = startedOn.value;
    try {
      const pairs = await pairing(`/match-runs/${enc(run.match_run_id)}/accept`, { method: "POST", body });
      await go(`/console/programmes/${enc(p.programme_id)}/pairs`);
      say(tn("run.accepted", pairs.length));
    } catch (err) { TandemUI.showError(form, err); }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const ids = [...form.querySelectorAll("input[name=proposal]:checked")].map((x) => x.value);
    if (!ids.length) { TandemUI.showError(form, { message: t("run.noneSelected"), field: "proposal" }); return; }
    accept(ids);
  });
  const unmatched = run.unmatched.map((u) => el("tr", { "data-unmatched": u.participant_id },
    cell(t("run.col.person"), nameOf(byId, u.participant_id)),
    cell(t("col.role"), label("role", u.role)),
    cell(t("run.col.reason"), TandemI18n.language() === "en" || t(`reason.${u.reason_code}`) === `reason.${u.reason_code}`
      ? el("span", { lang: TandemUI.API_LANGUAGE, text: u.reason }) : t(`reason.${u.reason_code}`))));
  view(...programmeHeader(p, "matching"),
    el("p", {}, link(`/console/programmes/${enc(p.programme_id)}/matching`, t("run.back"))),
    el("section", { class: "card", "aria-labelledby": "run-title" },
      el("h2", { id: "run-title", text: t("run.title", { when: when(run.created_at) }) }),
      el("p", { class: "muted", text: tn("run.summary", run.proposals.length, { score: num(run.total_score),
        objective: label("policy", run.objective) }) }),
      el("h3", { text: t("run.policy") }), policyUsed(run, programmePolicy(p), { id: "run-policy" }),
      el("h3", { text: t("run.proposals") }), form),
    el("section", { class: "card", "aria-labelledby": "unmatched-title" },
      el("h2", { id: "unmatched-title", text: t("run.unmatched") }),
      unmatched.length ? table([t("run.col.person"), t("col.role"), t("run.col.reason")], unmatched, { id: "unmatched" })
        : el("p", { class: "empty", text: t("run.unmatched.empty") })));
}

// ---- pairs ------------------------------------------------------------------------------------------------

async function allPairs(programmeId, extra = "") {
  const out = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await pairing(`/pairs?programme_id=${enc(programmeId)}&limit=1000&offset=${offset}${extra}`);
    out.push(...page.items);
    if (offset + page.items.length >= page.total || !page.items.length) return out;
  }
}

async function pairsPage(p) {
  const [pairs, byId] = await Promise.all([allPairs(p.programme_id), people(p.programme_id)]);
  const rows = pairs.map((x) => el("tr", { "data-pair": x.pair_id, "data-state": x.state },
    cell(t("run.col.mentor"), nameOf(byId, x.mentor_id)), cell(t("run.col.mentee"), nameOf(byId, x.mentee_id)),
    cell(t("run.col.state"), label("state", x.state)),
    cell(t("run.col.score"), x.score === null ? "" : num(x.score)),
    cell(t("run.col.why"), TandemReasons.render(x.reasons, x.rationale)),
    cell(t("pairs.col.origin"), label("origin", x.origin)),
    cell(t("pairs.col.warnings"), x.warnings.length ? el("span", { lang: TandemUI.API_LANGUAGE, text: x.warnings.join(" · ") }) : "")));
  view(...programmeHeader(p, "pairs"),
    el("section", { class: "card", "aria-labelledby": "pairs-title" },
      el("h2", { id: "pairs-title", text: `${t("pairs.title")} · ${tn("pairs.total", pairs.length)}` }),
      pairs.length ? table([t("run.col.mentor"), t("run.col.mentee"), t("run.col.state"), t("run.col.score"), t("run.col.why"),
        t("pairs.col.origin"), t("pairs.col.warnings")], rows, { id: "pairs" }) : el("p", { class: "empty", text: t("pairs.empty") })),
    manualPairForm(p, byId, pairs));
}

function manualPairForm(p, byId, pairs) {
  const busy = new Set(pairs.filter((x) => ["proposed", "active", "paused"].includes(x.state)).flatMap((x) => [x.mentor_id, x.mentee_id]));
  const options = (role) => [el("option", { value: "", text: t("pairs.choose") }),
    ...[...byId.values()].filter((x) => x.role === role && x.status === "enrolled")
      .sort((a, b) => Number(busy.has(a.participant_id)) - Number(busy.has(b.participant_id)))
      .map((x) => el("option", { value: x.participant_id, text: x.profile.display_name || x.participant_id }))];
  const out = el("div", { id: "manual-result" });
  const form = el("form", { id: "manual-pair", novalidate: true },
    el("div", { class: "grid tight" },
      field(t("pairs.manual.mentor"), el("select", { name: "mentor_id" }, options("mentor"))),
      field(t("pairs.manual.mentee"), el("select", { name: "mentee_id" }, options("mentee")))),
    el("div", {}, el("button", { type: "submit", text: t("pairs.manual.submit") })), out);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    TandemUI.clearErrors(form);
    const body = { programme_id: p.programme_id, mentor_id: form.elements.mentor_id.value, mentee_id: form.elements.mentee_id.value };
    try {
      const pair = await pairing("/pairs", { method: "POST", body });
      await route();
      if (pair.warnings.length) {
        say(`${t("pairs.manual.warnings")} ${pair.warnings.join(" · ")}`, "notice");
      } else say(t("pairs.manual.created"));
    } catch (err) { TandemUI.showError(form, err); }
  });
  return el("section", { class: "card", "aria-labelledby": "manual-title" },
    el("h2", { id: "manual-title", text: t("pairs.manual.title") }),
    el("p", { class: "muted", text: t("pairs.manual.lead") }), form);
}

async function flaggedPage(p) {
  const [pairs, byId] = await Promise.all([allPairs(p.programme_id, "&flagged=true"), people(p.programme_id)]);
  const cards = pairs.map((x) => {
    const form = el("form", { class: "resolve", "data-pair": x.pair_id, novalidate: true },
      el("fieldset", { "data-field": "decision" }, el("legend", { text: t("flagged.decision") }),
        ["keep", "end"].map((d, i) => el("label", { class: "check" },
          el("input", { type: "radio", name: "decision", value: d, checked: i === 0 }), t(`flagged.${d}`)))),
      field(t("flagged.reason"), el("textarea", { name: "reason", rows: 2, required: true })),
      el("div", {}, el("button", { type: "submit", text: t("flagged.submit") })));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      TandemUI.clearErrors(form);
      try {
        await pairing(`/pairs/${enc(x.pair_id)}/flag/resolve`, { method: "POST",
          body: { decision: form.elements.decision.value, reason: form.elements.reason.value } });
        await route();
        say(t("flagged.resolved"));
      } catch (err) { TandemUI.showError(form, err); }
    });
    const flag = x.flag || {};
    return el("article", { class: "card", "data-pair": x.pair_id },
      el("h2", { text: `${nameOf(byId, x.mentor_id)} · ${nameOf(byId, x.mentee_id)}` }),
      el("dl", { class: "facts" },
        el("dt", { text: t("flagged.rule") }), el("dd", { lang: TandemUI.API_LANGUAGE, text: [flag.rule, flag.detail].filter(Boolean).join(": ") }),
        el("dt", { text: t("flagged.since") }), el("dd", { text: flag.since ? when(flag.since) : "" }),
        el("dt", { text: t("run.col.state") }), el("dd", { text: label("state", x.state) })),
      form);
  });
  view(...programmeHeader(p, "flagged"), el("p", { class: "muted", text: t("flagged.lead") }),
    ...(cards.length ? cards : [el("p", { class: "empty", id: "no-flagged", text: t("flagged.empty") })]));
}

// ---- sessions: at risk, outcomes, exports -----------------------------------------------------------------

async function outcomesPage(p) {
  const sessionsBase = await TandemAuth.base("sessions");
  const [risk, active] = await Promise.all([
    TandemAuth.json("sessions", `/programmes/${enc(p.programme_id)}/at-risk`),
    pairing(`/pairs?programme_id=${enc(p.programme_id)}&state=active&limit=1`),
  ]);
  const dashboard = new URL(`${sessionsBase}/dashboard`);
  dashboard.searchParams.set("programme", p.programme_id);
  if (LANG) dashboard.searchParams.set("lang", LANG);
  const exportButton = (kind) => el("button", { type: "button", class: "ghost", "data-export": kind, text: t(`outcomes.${kind}`),
    onclick: async () => {
      try {
        const name = await TandemUI.download(`${sessionsBase}/programmes/${enc(p.programme_id)}/outcomes.${kind}`,
          `tandem-${p.programme_id}-outcomes.${kind}`);
        say(t("outcomes.saved", { name }));
      } catch (err) { sayError(err); }
    } });
  const riskBody = risk.length ? table([t("run.col.mentee"), t("run.col.mentor"), t("risk.col.last"), t("risk.col.days")],
    risk.map((r) => el("tr", { "data-pair": r.pair_id },
      cell(t("run.col.mentee"), r.mentee_name || r.mentee_id), cell(t("run.col.mentor"), r.mentor_name || r.mentor_id),
      cell(t("risk.col.last"), r.last_session_at ? day(r.last_session_at) : t("risk.never")),
      cell(t("risk.col.days"), num(r.days_without_session, 0)))), { id: "at-risk" })
    : el("p", { class: "empty", id: "at-risk-none", text: active.total ? t("risk.empty") : t("risk.noPairs") });
  view(...programmeHeader(p, "outcomes"),
    el("section", { class: "card", "aria-labelledby": "risk-title" },
      el("h2", { id: "risk-title", text: t("risk.title") }), el("p", { class: "muted", text: t("risk.lead") }), riskBody),
    el("section", { class: "card", "aria-labelledby": "exports-title" },
      el("h2", { id: "exports-title", text: t("outcomes.exports") }),
      el("div", { class: "row" },
        el("a", { class: "button", id: "dashboard-link", href: dashboard.toString(), text: t("outcomes.dashboard") }),
        exportButton("csv"), exportButton("json"))));
}

// ---- notifications ----------------------------------------------------------------------------------------

async function notificationsPage(p) {
  const byId = await people(p.programme_id);
  const wanted = new URLSearchParams(location.search).get("participant");
  const person = el("select", { name: "participant" }, [...byId.values()]
    .sort((a, b) => (a.profile.display_name || "").localeCompare(b.profile.display_name || ""))
    .map((x) => el("option", { value: x.participant_id, selected: x.participant_id === wanted,
      text: `${x.profile.display_name || x.participant_id} (${label("role", x.role)})` })));
  const out = el("div", { id: "history" });
  const form = el("form", { id: "notif-pick", novalidate: true },
    el("div", { class: "row" }, field(t("notif.person"), person), el("button", { type: "submit", text: t("notif.show") })));
  async function show() {
    TandemUI.clearErrors(form);
    if (!person.value) return;
    try {
      const list = await TandemAuth.json("notifications", `/recipients/${enc(person.value)}/notifications?limit=1000`);
      out.replaceChildren(list.length ? table([t("notif.col.rule"), t("col.status"), t("notif.col.channel"), t("notif.col.due"),
        t("notif.col.sent"), t("notif.col.attempts"), t("notif.col.error"), t("programmes.col.actions")], list.map((n) => el("tr", { "data-notification": n.notification_id },
        cell(t("notif.col.rule"), label("rule", n.rule)), cell(t("col.status"), label("notif.status", n.status)),
        cell(t("notif.col.channel"), n.channel || ""), cell(t("notif.col.due"), when(n.due_at)),
        cell(t("notif.col.sent"), n.sent_at ? when(n.sent_at) : ""), cell(t("notif.col.attempts"), num(n.attempts, 0)),
        cell(t("notif.col.error"), n.last_error || ""),
        el("td", {}, n.status === "failed" ? el("button", { type: "button", class: "ghost", text: t("notif.resend"),
          onclick: async () => {
            try {
              await TandemAuth.json("notifications", `/notifications/${enc(n.notification_id)}/resend`, { method: "POST" });
              await show();
              say(t("notif.resent"));
            } catch (err) { sayError(err); }
          } }) : "")))) : el("p", { class: "empty", text: t("notif.empty") }));
    } catch (err) { TandemUI.showError(form, err); }
  }
  form.addEventListener("submit", (event) => { event.preventDefault(); show(); });
  view(...programmeHeader(p, "notifications"),
    el("section", { class: "card", "aria-labelledby": "notif-title" },
      el("h2", { id: "notif-title", text: t("notif.title") }), form, out));
  if (wanted) await show();
}

// ---- subject access (GDPR art. 15) ------------------------------------------------------------------------

const SERVICES = ["pairing", "sessions", "notifications"];

/** Everything Tandem holds about one person: each service's GET /subjects/{employee_id} with HR's token, put into
 *  one JSON file of the shape `tandem subject export` writes. One service that does not answer: no file. */
async function subjectsPage() {
  const input = el("input", { name: "employee_id", id: "subject-employee", autocomplete: "off", required: true });
  const out = el("div", { id: "subject-result" });
  const form = el("form", { id: "subject-export", novalidate: true },
    el("div", { class: "row" }, field(t("subjects.employee"), input),
      el("button", { type: "submit", text: t("subjects.export") })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    TandemUI.clearErrors(form);
    out.replaceChildren();
    const id = input.value.trim();
    if (!id) { TandemUI.showError(form, { message: t("subjects.required"), field: "employee_id" }); return; }
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const answers = await Promise.all(SERVICES.map((service) => TandemAuth.json(service, `/subjects/${enc(id)}`)
        .catch((err) => {
          if (err.field === "employee_id") throw err;
          throw Object.assign(new Error(t("subjects.unanswered", { service, message: err.message })), { status: err.status });
        })));
      const document_ = { employee_id: id, tenant: answers[0].tenant, exported_at: new Date().toISOString(),
        services: Object.fromEntries(SERVICES.map((service, i) => [service, answers[i]])) };
      const name = `tandem-subject-${id}.json`;
      const href = URL.createObjectURL(new Blob([JSON.stringify(document_, null, 2)], { type: "application/json" }));
      const save = el("a", { href, download: name, hidden: true });
      document.body.append(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(href), 10_000);
      out.replaceChildren(table([t("subjects.col.service"), t("subjects.col.known"), t("subjects.col.records")],
        SERVICES.map((service, i) => el("tr", { "data-service": service },
          cell(t("subjects.col.service"), service),
          cell(t("subjects.col.known"), answers[i].known ? t("yes") : t("no")),
          cell(t("subjects.col.records"), Object.entries(answers[i].records).filter(([, rows]) => rows.length)
            .map(([section, rows]) => `${section}: ${num(rows.length, 0)}`).join(" · ") || t("subjects.none")))),
        { id: "subject-summary" }));
      say(t("subjects.saved", { name }));
    } catch (err) {
      TandemUI.showError(form, err);
    } finally {
      button.disabled = false;
    }
  });
  view(...heading(t("subjects.title"), t("subjects.lead")),
    el("section", { class: "card", "aria-labelledby": "subject-title" },
      el("h2", { id: "subject-title", class: "sr-only", text: t("subjects.title") }), form, out));
}

// ---- the router -------------------------------------------------------------------------------------------

const PAGES = { overview: overviewPage, enrolment: enrolmentPage, matching: matchingPage, pairs: pairsPage,
  flagged: flaggedPage, outcomes: outcomesPage, notifications: notificationsPage };

/** Show the section the address names. After a move within the console, focus goes to the new page's heading
 *  (keyboard and screen-reader users start reading there). */
async function route(moved = true) {
  document.body.removeAttribute("data-loaded");
  const parts = location.pathname.replace(/\/+$/, "").split("/").slice(2).map(decodeURIComponent);
  $("#announce").replaceChildren();
  try {
    if (!parts.length) {
      await programmesPage();
    } else if (parts[0] === "subjects" && parts.length === 1) {
      await subjectsPage();
    } else if (parts[0] === "programmes" && parts[1]) {
      const p = await programme(parts[1]);
      const section = parts[2] || "overview";
      if (section === "matching" && parts[3]) await runPage(p, parts[3]);
      else if (PAGES[section]) await PAGES[section](p);
      else view(el("h1", { id: "page-title", tabindex: "-1", text: t("notFound") }));
    } else {
      view(el("h1", { id: "page-title", tabindex: "-1", text: t("notFound") }));
    }
  } catch (err) {
    view(el("h1", { id: "page-title", tabindex: "-1", text: t("title") }),
      el("p", { class: "error", role: "alert", text: t("failed", { message: err.message }) }));
  }
  const title = $("#page-title");
  document.title = `${title ? title.textContent : ""} · ${t("title")}`;
  if (moved && title && !(document.activeElement && document.activeElement.closest("form"))) title.focus();
  $("#nav-programmes").setAttribute("aria-current", parts.length ? "false" : "page");
  $("#nav-subjects").setAttribute("aria-current", parts[0] === "subjects" ? "page" : "false");
  document.body.dataset.loaded = location.pathname;
}

async function main() {
  TandemI18n.apply();
  const session = TandemAuth.current();
  if (!session) { await TandemAuth.signIn(); return; }
  $("#who-name").textContent = session.name;
  $("#who").hidden = false;
  $("#sign-out").addEventListener("click", () => TandemAuth.signOut());
  $("#nav-programmes").setAttribute("href", `/console${LANG ? `?lang=${enc(LANG)}` : ""}`);
  $("#nav-subjects").setAttribute("href", `/console/subjects${LANG ? `?lang=${enc(LANG)}` : ""}`);
  await route(false);
}

main().catch((err) => { view(el("p", { class: "error", role: "alert", text: t("failed", { message: err.message }) })); });
