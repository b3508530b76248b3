// Tandem participant portal: one page for every /me/... address (it routes on location.pathname). It signs in
// through auth.js, reads the sessions API (GET /me, /pairs/..., /sessions/...) and the notifications API
// (preferences) with the person's token, and speaks German or English (TandemI18n: ?lang=, else the person's
// locale from GET /me). API data go into the page only as text (textContent), never as HTML.
"use strict";

const T = (key, values) => TandemI18n.t(key, values);
const $ = (sel, root = document) => root.querySelector(sel);

/** An element: el("p", {class: "muted", text: "..."}, child, ...). Attributes are set, text is text. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k === "on") for (const [name, fn] of Object.entries(v)) node.addEventListener(name, fn);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

let fieldCounter = 0;
/** A labelled field: <label>text <input> <span hint> <span error></label>; returns the label element. */
function field(labelText, control, hint) {
  const id = control.id || `f${++fieldCounter}`;
  control.id = id;
  const error = el("span", { class: "field-error", id: `${id}-error`, "data-error-for": control.name || "" });
  const hintNode = hint ? el("span", { class: "hint", id: `${id}-hint`, text: hint }) : null;
  control.setAttribute("aria-describedby", [hintNode && hintNode.id, error.id].filter(Boolean).join(" "));
  return el("label", { for: id }, labelText, hintNode, control, error);
}

function yesNo(name, legend) {
  return el("fieldset", { "data-field": name }, el("legend", { text: legend }),
    el("div", { class: "choices" },
      el("label", { class: "check" }, el("input", { type: "radio", name, value: "yes" }), T("common.yes")),
      el("label", { class: "check" }, el("input", { type: "radio", name, value: "no" }), T("common.no"))),
    el("span", { class: "field-error", "data-error-for": name }));
}

function say(message) { $("#alert").replaceChildren(); $("#status").replaceChildren(el("p", { class: "ok", text: message })); }
function fail(message) { $("#status").replaceChildren(); $("#alert").replaceChildren(el("p", { class: "error", text: message })); }

/** Clear a form's field errors, then show an API error next to the field it names (else above the form). */
function showError(form, err) {
  form.querySelectorAll("[data-error-for]").forEach((n) => { n.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
  if (!err) return;
  const name = err.field ? String(err.field).split(".").pop() : null;
  const slot = name && form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
  if (slot) {
    const control = form.elements[name];
    const target = control && (control.length && !control.tagName ? control[0] : control);
    // The API decided; a number out of the field's range is said in the page's language, anything else as the
    // API says it.
    const value = target && target.type === "number" && target.value !== "" ? Number(target.value) : null;
    const outOfRange = value !== null && target.min !== "" && target.max !== ""
      && (value < Number(target.min) || value > Number(target.max));
    slot.textContent = outOfRange
      ? T("error.range", { min: TandemI18n.number(Number(target.min)), max: TandemI18n.number(Number(target.max)) })
      : `${T("error.field")} ${String(err.message || "").replace(new RegExp(`^${name}: `), "")}`;
    if (target && target.setAttribute) { target.setAttribute("aria-invalid", "true"); target.focus(); }
    fail(T("error.checkField"));
  } else {
    fail(`${T("error.api")} ${err.message}`);
  }
}

/** Send a form's command; on success run `done`, on error show it by the field and change nothing. */
function submitter(form, send, done) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      const result = await send(new FormData(form));
      showError(form, null);
      await done(result);
    } catch (err) {
      showError(form, err);
    } finally {
      if (button) button.disabled = false;
    }
  });
}

const sessionsApi = (path, options) => TandemAuth.json("sessions", path, options);

// What the page last read of the pair or session it shows: after a command, the read model catches up through
// the event log, so `reload` waits (briefly) until the answer changed before drawing the page again.
let shown = null;
async function read(path) {
  const data = await sessionsApi(path);
  shown = { path, text: JSON.stringify(data) };
  return data;
}
async function caughtUp() {
  if (!shown) return;
  for (let i = 0; i < 40; i++) {
    const now = JSON.stringify(await sessionsApi(shown.path));
    if (now !== shown.text) return;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}
const asBool = (v) => (v === "yes" ? true : v === "no" ? false : null);
const asInt = (v) => (v === null || v === "" ? null : Number(v));
const iso = (local) => (local ? new Date(local).toISOString() : null);
function localInput(value) {
  const d = value ? new Date(value) : new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
const topicLabel = (id) => {
  const named = TandemReasons.topic(id);
  return named && named !== id ? named : T(`topic.${id}`) !== `topic.${id}` ? T(`topic.${id}`) : id;
};
const stateLabel = (state) => T(`state.${state}`);
const roleLabel = (role) => T(`role.${role}`);

/** The .ics of a session, fetched with the token (a plain link would carry none) and saved from a blob. */
async function downloadIcs(sessionId) {
  const base = await TandemAuth.base("sessions");
  const res = await TandemAuth.api(`${base}/sessions/${encodeURIComponent(sessionId)}.ics`);
  if (!res.ok) throw new Error(`${T("error.api")} ${res.status}`);
  const url = URL.createObjectURL(await res.blob());
  const link = el("a", { href: url, download: `tandem-${sessionId}.ics` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function icsButton(sessionId) {
  return el("button", { type: "button", class: "ghost", "data-ics": sessionId, text: T("session.ics"),
    on: { click: () => downloadIcs(sessionId).catch((e) => fail(e.message)) } });
}

// ---------------------------------------------------------------------------------------------------------
// Pages

function heading(text, sub) {
  document.title = `${text} · Tandem`;
  return [el("h1", { text }), sub ? el("p", { class: "muted", text: sub }) : null];
}

function renderHome(me) {
  const view = [...heading(T("home.title", { name: me.name || "" }), T("home.intro"))];
  if (!me.pairs.length) {
    view.push(el("p", { class: "notice", text: me.participants.length ? T("home.noPairYet") : T("home.notEnrolled") }));
  }
  for (const pair of me.pairs) {
    const next = pair.next_session;
    view.push(el("section", { class: "card pair-card", "data-pair": pair.pair_id },
      el("h2", {}, el("a", { href: `/me/pairs/${encodeURIComponent(pair.pair_id)}`,
        text: T("home.pairWith", { partner: pair.partner.display_name || "?" }) })),
      el("dl", { class: "facts" },
        el("dt", { text: T("pair.partner") }), el("dd", { text: `${pair.partner.display_name} (${roleLabel(pair.partner.role)})` }),
        el("dt", { text: T("pair.myRole") }), el("dd", { text: roleLabel(pair.my_role) }),
        el("dt", { text: T("pair.programme") }), el("dd", { text: pair.programme_name || pair.programme_id }),
        el("dt", { text: T("pair.state") }), el("dd", {}, el("span", { class: `badge ${pair.state === "active" || pair.state === "resumed" ? "good" : ""}`, text: stateLabel(pair.state) })),
        el("dt", { text: T("pair.nextSession") }),
        el("dd", { text: next ? TandemI18n.dateTime(next.starts_at) : T("pair.noNextSession") })),
      el("p", { class: "row" }, el("a", { class: "button", href: `/me/pairs/${encodeURIComponent(pair.pair_id)}`, text: T("home.openPair") }))));
  }
  return view;
}

function agreementSection(pair, detail, mine, reload) {
  const section = el("section", { class: "card", id: "agreement", "aria-labelledby": "agreement-h" },
    el("h2", { id: "agreement-h", text: T("agreement.title") }),
    el("ul", {}, ...["one", "two", "three"].map((k) => el("li", { text: T(`agreement.point.${k}`) }))));
  const confirmed = detail.agreement[pair.my_role];
  const theirs = detail.agreement[pair.partner.role];
  section.append(el("p", { class: "muted", text: theirs
    ? T("agreement.partnerConfirmed", { partner: pair.partner.display_name, date: TandemI18n.date(theirs.confirmed_at) })
    : T("agreement.partnerPending", { partner: pair.partner.display_name }) }));
  if (confirmed) {
    section.append(el("p", { class: "ok", "data-agreement": "confirmed",
      text: T("agreement.confirmed", { date: TandemI18n.date(confirmed.confirmed_at), rhythm: confirmed.meeting_rhythm }) }));
    return section;
  }
  const form = el("form", { class: "inline-form", novalidate: true },
    field(T("agreement.rhythm"), el("input", { name: "meeting_rhythm", required: true, maxlength: 200, value: T("agreement.rhythmDefault") })),
    field(T("agreement.focus"), el("textarea", { name: "learning_focus", maxlength: 2000 })),
    el("label", { class: "check" }, el("input", { type: "checkbox", name: "confidentiality", checked: true }), T("agreement.confidentiality")),
    el("span", { class: "field-error", "data-error-for": "confidentiality" }),
    el("div", { class: "row" }, el("button", { type: "submit", text: T("agreement.confirm") })));
  submitter(form, (data) => sessionsApi(`/pairs/${pair.pair_id}/agreement`, { method: "POST", body: {
    participant_id: mine, meeting_rhythm: data.get("meeting_rhythm"), learning_focus: data.get("learning_focus") || "",
    confidentiality: data.get("confidentiality") === "on" } }), () => reload(T("agreement.thanks")));
  section.append(form);
  return section;
}

function goalsSection(pair, detail, reload) {
  const goals = detail.goals;
  const achieved = goals.filter((g) => g.achieved_at).length;
  const share = goals.length ? achieved / goals.length : 0;
  const section = el("section", { class: "card", id: "goals", "aria-labelledby": "goals-h" },
    el("h2", { id: "goals-h", text: T("goals.title") }),
    el("p", { class: "muted", text: T("goals.progress", { achieved, total: goals.length }) }),
    el("div", { class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": goals.length,
      "aria-valuenow": achieved, "aria-label": T("goals.title") }, el("span", { style: `width:${Math.round(share * 100)}%` })));
  if (!goals.length) section.append(el("p", { class: "empty", text: T("goals.none") }));
  for (const g of goals) {
    section.append(el("div", { class: "goal", "data-goal": g.goal_id },
      el("div", {}, el("strong", { text: topicLabel(g.topic) }), " · ", g.description),
      g.achieved_at
        ? el("span", { class: "badge good", text: T("goals.achievedOn", { date: TandemI18n.date(g.achieved_at) }) })
        : el("div", {}, el("button", { type: "button", class: "ghost", text: T("goals.markAchieved"), on: { click: async (e) => {
          e.target.disabled = true;
          try { await sessionsApi(`/pairs/${pair.pair_id}/goals/${encodeURIComponent(g.goal_id)}/achieve`, { method: "POST" }); await reload(T("goals.achievedSaved")); }
          catch (err) { fail(err.message); e.target.disabled = false; }
        } } }))));
  }
  const topics = pair.focus_topics.length ? pair.focus_topics : ["prompt-writing", "office-copilots", "data-analysis", "ai-agents", "ai-risk-policy"];
  const form = el("form", { class: "inline-form", novalidate: true },
    el("h3", { text: T("goals.add") }),
    field(T("goals.topic"), el("select", { name: "topic" }, ...topics.map((t) => el("option", { value: t, text: topicLabel(t) })))),
    field(T("goals.description"), el("input", { name: "description", maxlength: 2000 })),
    el("div", { class: "row" }, el("button", { type: "submit", text: T("goals.save") })));
  submitter(form, (data) => sessionsApi(`/pairs/${pair.pair_id}/goals`, { method: "POST",
    body: { topic: data.get("topic"), description: data.get("description") } }), () => reload(T("goals.saved")));
  section.append(form);
  return section;
}

function sessionRow(pair, s) {
  const at = `/me/pairs/${encodeURIComponent(pair.pair_id)}/sessions/${encodeURIComponent(s.session_id)}`;
  const feedback = `/me/pairs/${encodeURIComponent(pair.pair_id)}/feedback?session=${encodeURIComponent(s.session_id)}`;
  return el("tr", { "data-session": s.session_id },
    el("td", { "data-label": T("session.when") }, el("a", { href: at, text: TandemI18n.dateTime(s.starts_at) })),
    el("td", { "data-label": T("session.duration"), text: T("session.minutes", { n: s.held_at ? s.minutes : s.duration_minutes }) }),
    el("td", { "data-label": T("session.status") }, el("span", { class: `badge ${s.status === "held" ? "good" : s.status === "cancelled" ? "bad" : ""}`, text: T(`status.${s.status}`) })),
    el("td", { "data-label": T("session.actions") }, el("div", { class: "row" },
      el("a", { class: "button ghost", href: at, text: T("session.open") }),
      s.status === "scheduled" ? icsButton(s.session_id) : null,
      s.status === "held" ? el("a", { class: "button ghost", href: feedback, text: T("session.giveFeedback") }) : null)));
}

function sessionsSection(pair, detail, reload) {
  const section = el("section", { class: "card", id: "sessions", "aria-labelledby": "sessions-h" },
    el("h2", { id: "sessions-h", text: T("sessions.title") }));
  if (detail.sessions.length) {
    section.append(el("table", { class: "table stack" },
      el("thead", {}, el("tr", {}, ...["session.when", "session.duration", "session.status", "session.actions"].map((k) => el("th", { scope: "col", text: T(k) })))),
      el("tbody", {}, ...detail.sessions.map((s) => sessionRow(pair, s)))));
  } else {
    section.append(el("p", { class: "empty", text: T("sessions.none") }));
  }
  if (!detail.agreement_complete) {
    section.append(el("p", { class: "notice", text: T("sessions.agreementFirst") }));
    return section;
  }
  const soon = new Date(Date.now() + 7 * 86400_000); soon.setHours(14, 0, 0, 0);
  const form = el("form", { class: "inline-form", novalidate: true },
    el("h3", { text: T("sessions.schedule") }),
    field(T("session.startsAt"), el("input", { type: "datetime-local", name: "starts_at", value: localInput(soon) })),
    field(T("session.durationMinutes"), el("input", { type: "number", name: "duration_minutes", value: 45, min: 5, max: 480, inputmode: "numeric" })),
    field(T("session.agenda"), el("input", { name: "agenda", maxlength: 2000 })),
    el("div", { class: "row" }, el("button", { type: "submit", text: T("sessions.scheduleButton") })));
  submitter(form, (data) => sessionsApi(`/pairs/${pair.pair_id}/sessions`, { method: "POST", body: {
    starts_at: iso(data.get("starts_at")), duration_minutes: asInt(data.get("duration_minutes")), agenda: data.get("agenda") || "" } }),
  () => reload(T("sessions.scheduled")));
  section.append(form);
  return section;
}

function confidenceSection(pair, mine, reload) {
  if (pair.my_role !== "mentee") return null;
  const topics = pair.focus_topics.length ? pair.focus_topics : ["prompt-writing"];
  const form = el("form", { novalidate: true },
    field(T("confidence.phase"), el("select", { name: "phase" },
      el("option", { value: "start", text: T("confidence.start") }), el("option", { value: "end", text: T("confidence.end") }))),
    ...topics.map((t) => field(T("confidence.topic", { topic: topicLabel(t) }),
      el("select", { name: `rating:${t}` }, ...[1, 2, 3, 4, 5].map((n) => el("option", { value: n, text: T(`confidence.level${n}`), selected: n === 3 }))))),
    el("span", { class: "field-error", "data-error-for": "ratings" }),
    el("div", { class: "row" }, el("button", { type: "submit", text: T("confidence.save") })));
  submitter(form, (data) => sessionsApi(`/pairs/${pair.pair_id}/confidence`, { method: "POST", body: {
    participant_id: mine, phase: data.get("phase"),
    ratings: Object.fromEntries(topics.map((t) => [t, Number(data.get(`rating:${t}`))])) } }),
  () => reload(T("confidence.saved")));
  return el("section", { class: "card", id: "confidence", "aria-labelledby": "confidence-h" },
    el("h2", { id: "confidence-h", text: T("confidence.title") }), el("p", { class: "muted", text: T("confidence.intro") }), form);
}

async function renderPair(me, pairId, reload) {
  const pair = me.pairs.find((p) => p.pair_id === pairId);
  if (!pair) return notFound();
  const detail = await read(`/pairs/${encodeURIComponent(pairId)}`);
  const mine = pair.my_participant_id;
  return [
    ...heading(T("pair.title", { partner: pair.partner.display_name }), `${pair.programme_name || ""} · ${stateLabel(pair.state)}`),
    el("section", { class: "card", id: "partner", "aria-labelledby": "partner-h" },
      el("h2", { id: "partner-h", text: T("pair.whyTogether") }),
      el("dl", { class: "facts" },
        el("dt", { text: T("pair.partner") }), el("dd", { text: `${pair.partner.display_name} (${roleLabel(pair.partner.role)})` }),
        el("dt", { text: T("pair.myRole") }), el("dd", { text: roleLabel(pair.my_role) })),
      el("p", { class: "rationale", "data-rationale": true, text: TandemReasons.render(pair.reasons, pair.rationale) || T("pair.noRationale") })),
    agreementSection(pair, detail, mine, reload),
    goalsSection(pair, detail, reload),
    sessionsSection(pair, detail, reload),
    confidenceSection(pair, mine, reload),
    el("p", {}, el("a", { href: `/me/pairs/${encodeURIComponent(pairId)}/feedback`, text: T("feedback.endLink") })),
  ];
}

async function renderSession(me, pairId, sessionId, reload) {
  const pair = me.pairs.find((p) => p.pair_id === pairId);
  if (!pair) return notFound();
  const s = await read(`/sessions/${encodeURIComponent(sessionId)}`);
  if (s.pair_id !== pairId) return notFound();
  const base = `/pairs/${encodeURIComponent(pairId)}/sessions/${encodeURIComponent(sessionId)}`;
  const view = [
    ...heading(T("session.title", { date: TandemI18n.dateTime(s.starts_at) }), T("pair.title", { partner: pair.partner.display_name })),
    el("section", { class: "card", "data-session": s.session_id },
      el("dl", { class: "facts" },
        el("dt", { text: T("session.status") }), el("dd", { text: T(`status.${s.status}`) }),
        el("dt", { text: T("session.startsAt") }), el("dd", { text: TandemI18n.dateTime(s.starts_at) }),
        el("dt", { text: T("session.durationMinutes") }), el("dd", { text: TandemI18n.number(s.duration_minutes) }),
        s.agenda ? [el("dt", { text: T("session.agenda") }), el("dd", { text: s.agenda })] : null,
        s.held_at ? [el("dt", { text: T("session.heldAt") }), el("dd", { text: TandemI18n.dateTime(s.held_at) }),
          el("dt", { text: T("session.minutesHeld") }), el("dd", { text: TandemI18n.number(s.minutes) }),
          el("dt", { text: T("session.topics") }), el("dd", { text: s.topics.map(topicLabel).join(", ") || "–" }),
          el("dt", { text: T("session.tools") }), el("dd", { text: s.tools.join(", ") || "–" }),
          el("dt", { text: T("session.actionItems") }), el("dd", { text: s.action_items.join("; ") || "–" })] : null,
        s.cancel_reason ? [el("dt", { text: T("session.cancelReason") }), el("dd", { text: s.cancel_reason })] : null),
      el("div", { class: "row" }, s.status === "scheduled" ? icsButton(s.session_id) : null,
        s.status === "held" ? el("a", { class: "button", href: `/me/pairs/${encodeURIComponent(pairId)}/feedback?session=${encodeURIComponent(sessionId)}`, text: T("session.giveFeedback") }) : null,
        el("a", { class: "button ghost", href: `/me/pairs/${encodeURIComponent(pairId)}`, text: T("session.backToPair") }))),
  ];
  if (s.status !== "scheduled") return view;
  const reschedule = el("form", { novalidate: true },
    field(T("session.newStart"), el("input", { type: "datetime-local", name: "starts_at", value: localInput(s.starts_at) })),
    field(T("session.durationMinutes"), el("input", { type: "number", name: "duration_minutes", value: s.duration_minutes, min: 5, max: 480 })),
    el("div", { class: "row" }, el("button", { type: "submit", text: T("session.reschedule") })));
  submitter(reschedule, (d) => sessionsApi(`${base}/reschedule`, { method: "POST", body: { starts_at: iso(d.get("starts_at")), duration_minutes: asInt(d.get("duration_minutes")) } }),
    () => reload(T("session.rescheduled")));
  const cancel = el("form", { novalidate: true },
    field(T("session.cancelReason"), el("input", { name: "reason", maxlength: 2000 })),
    el("div", { class: "row" }, el("button", { type: "submit", class: "danger", text: T("session.cancel") })));
  submitter(cancel, (d) => sessionsApi(`${base}/cancel`, { method: "POST", body: { reason: d.get("reason") || "" } }),
    () => reload(T("session.cancelled")));
  const topics = pair.focus_topics.length ? pair.focus_topics : ["prompt-writing"];
  const log = el("form", { novalidate: true },
    field(T("session.heldAt"), el("input", { type: "datetime-local", name: "held_at", value: localInput(s.starts_at) })),
    field(T("session.minutesHeld"), el("input", { type: "number", name: "minutes", value: s.duration_minutes, min: 1, max: 600 })),
    el("fieldset", { "data-field": "topics" }, el("legend", { text: T("session.topics") }),
      el("div", { class: "choices" }, ...topics.map((t) => el("label", { class: "check" }, el("input", { type: "checkbox", name: "topics", value: t }), topicLabel(t)))),
      el("span", { class: "field-error", "data-error-for": "topics" })),
    field(T("session.tools"), el("input", { name: "tools" }), T("session.toolsHint")),
    field(T("session.actionItems"), el("textarea", { name: "action_items" }), T("session.actionItemsHint")),
    el("div", { class: "row" }, el("button", { type: "submit", text: T("session.log") })));
  const lines = (v, sep) => String(v || "").split(sep).map((x) => x.trim()).filter(Boolean);
  submitter(log, (d) => sessionsApi(`${base}/log`, { method: "POST", body: { held_at: iso(d.get("held_at")), minutes: asInt(d.get("minutes")),
    topics: d.getAll("topics"), tools: lines(d.get("tools"), ","), action_items: lines(d.get("action_items"), "\n") } }),
  () => reload(T("session.logged")));
  view.push(
    el("section", { class: "card" }, el("h2", { text: T("session.rescheduleTitle") }), reschedule),
    el("section", { class: "card" }, el("h2", { text: T("session.logTitle") }), log),
    el("section", { class: "card" }, el("h2", { text: T("session.cancelTitle") }), cancel));
  return view;
}

async function renderFeedback(me, pairId) {
  const pair = me.pairs.find((p) => p.pair_id === pairId);
  if (!pair) return notFound();
  const sessionId = new URLSearchParams(location.search).get("session") || null;
  const mine = pair.my_participant_id;
  const given = await sessionsApi(`/pairs/${encodeURIComponent(pairId)}/feedback`);
  const title = sessionId ? T("feedback.titleSession") : T("feedback.titleEnd");
  const view = [...heading(title, T("pair.title", { partner: pair.partner.display_name }))];
  if (sessionId) {
    const s = await sessionsApi(`/sessions/${encodeURIComponent(sessionId)}`).catch(() => null);
    if (s) view.push(el("p", { class: "muted", text: T("feedback.forSession", { date: TandemI18n.dateTime(s.held_at || s.starts_at) }) }));
  }
  if (!sessionId) {
    // An old mail's link names no session: offer the held sessions this person has not answered yet.
    const detail = await sessionsApi(`/pairs/${encodeURIComponent(pairId)}`);
    const open = detail.sessions.filter((s) => s.status === "held"
      && !given.some((f) => f.author_id === mine && f.session_id === s.session_id));
    if (open.length) {
      view.push(el("section", { class: "card", id: "open-sessions", "aria-labelledby": "open-h" },
        el("h2", { id: "open-h", text: T("feedback.openSessions") }),
        el("ul", {}, ...open.map((s) => el("li", {}, el("a", { "data-session": s.session_id,
          href: `/me/pairs/${encodeURIComponent(pairId)}/feedback?session=${encodeURIComponent(s.session_id)}`,
          text: T("feedback.forSession", { date: TandemI18n.dateTime(s.held_at || s.starts_at) }) }))))));
    }
  }
  const already = given.find((f) => f.author_id === mine && (f.session_id || null) === sessionId);
  if (already) {
    view.push(el("p", { class: "notice", "data-feedback": "already", text: T("feedback.already", { date: TandemI18n.dateTime(already.submitted_at) }) }),
      el("p", {}, el("a", { href: `/me/pairs/${encodeURIComponent(pairId)}`, text: T("session.backToPair") })));
    return view;
  }
  const rating = el("fieldset", { "data-field": "rating" }, el("legend", { text: T("feedback.rating") }),
    el("div", { class: "choices" }, ...[1, 2, 3, 4, 5].map((n) => el("label", { class: "check" },
      el("input", { type: "radio", name: "rating", value: n, required: true }), T(`feedback.rating${n}`)))),
    el("span", { class: "field-error", "data-error-for": "rating" }));
  const questions = pair.my_role === "mentee" ? [
    yesNo("productivity_gain", T("feedback.productivityGain")),
    field(T("feedback.minutesSaved"), el("input", { type: "number", name: "minutes_saved_per_day", min: 0, max: 480, inputmode: "numeric" }), T("feedback.minutesSavedHint")),
    yesNo("new_business_opportunity", T("feedback.opportunity")),
    field(T("feedback.opportunityText"), el("textarea", { name: "opportunity_text", maxlength: 2000 })),
  ] : [
    yesNo("team_productivity_gain", T("feedback.teamProductivity")),
    yesNo("career_benefit", T("feedback.careerBenefit")),
  ];
  const form = el("form", { class: "card", id: "feedback-form", novalidate: true }, rating, ...questions,
    el("div", { class: "confidential" },
      field(T("feedback.confidential"), el("textarea", { name: "confidential_comment", maxlength: 4000 }), T("feedback.confidentialWho"))),
    el("div", { class: "row" }, el("button", { type: "submit", text: T("feedback.submit") })));
  submitter(form, (d) => {
    const body = { author_id: mine, session_id: sessionId, rating: asInt(d.get("rating")) };
    if (pair.my_role === "mentee") {
      body.productivity_gain = asBool(d.get("productivity_gain"));
      body.minutes_saved_per_day = asInt(d.get("minutes_saved_per_day"));
      body.new_business_opportunity = asBool(d.get("new_business_opportunity"));
      body.opportunity_text = d.get("opportunity_text") || null;
    } else {
      body.team_productivity_gain = asBool(d.get("team_productivity_gain"));
      body.career_benefit = asBool(d.get("career_benefit"));
    }
    body.confidential_comment = d.get("confidential_comment") || null;
    return sessionsApi(`/pairs/${encodeURIComponent(pairId)}/feedback`, { method: "POST", body });
  }, () => {
    form.replaceWith(el("p", { class: "ok", "data-feedback": "sent", text: T("feedback.thanks") }));
    say(T("feedback.thanks"));
  });
  view.push(el("p", { class: "muted", text: T("feedback.intro") }), form);
  return view;
}

async function renderPreferences(me) {
  const view = [...heading(T("prefs.title"), T("prefs.intro"))];
  if (!me.participants.length) { view.push(el("p", { class: "notice", text: T("home.notEnrolled") })); return view; }
  for (const person of me.participants) {
    const path = `/recipients/${encodeURIComponent(person.participant_id)}/preferences`;
    let prefs;
    try { prefs = await TandemAuth.json("notifications", path); }
    catch (err) { view.push(el("p", { class: "error", text: `${T("error.api")} ${err.message}` })); continue; }
    const quietOn = prefs.quiet_start !== null;
    const form = el("form", { class: "card", novalidate: true, "data-recipient": person.participant_id },
      el("h2", { text: person.programme_name || person.programme_id }),
      field(T("prefs.channel"), el("select", { name: "channel" },
        el("option", { value: "email", text: T("prefs.email"), selected: prefs.channel === "email" }),
        el("option", { value: "chat", text: T("prefs.chat"), selected: prefs.channel === "chat" }))),
      field(T("prefs.chatUrl"), el("input", { type: "url", name: "chat_webhook_url", value: prefs.chat_webhook_url || "" }), T("prefs.chatUrlHint")),
      field(T("prefs.locale"), el("select", { name: "locale" },
        el("option", { value: "de", text: "Deutsch", lang: "de", selected: prefs.locale === "de" }),
        el("option", { value: "en", text: "English", lang: "en", selected: prefs.locale === "en" }))),
      el("label", { class: "check" }, el("input", { type: "checkbox", name: "quiet", checked: quietOn }), T("prefs.quiet")),
      el("div", { class: "row" },
        field(T("prefs.quietStart"), el("input", { type: "time", name: "quiet_start", value: (prefs.quiet_start || "20:00").slice(0, 5) })),
        field(T("prefs.quietEnd"), el("input", { type: "time", name: "quiet_end", value: (prefs.quiet_end || "08:00").slice(0, 5) }))),
      el("label", { class: "check" }, el("input", { type: "checkbox", name: "opted_out", checked: prefs.opted_out }), T("prefs.optedOut")),
      el("div", { class: "row" }, el("button", { type: "submit", text: T("prefs.save") })));
    const quiet = form.elements.quiet;
    const hours = () => { form.elements.quiet_start.disabled = form.elements.quiet_end.disabled = !quiet.checked; };
    quiet.addEventListener("change", hours);
    hours();
    submitter(form, (d) => TandemAuth.json("notifications", path, { method: "PUT", body: {
      channel: d.get("channel"), locale: d.get("locale"), opted_out: d.get("opted_out") === "on",
      quiet_start: d.get("quiet") === "on" ? d.get("quiet_start") : null, quiet_end: d.get("quiet") === "on" ? d.get("quiet_end") : null,
      chat_webhook_url: d.get("chat_webhook_url") || null } }), () => say(T("prefs.saved")));
    view.push(form);
  }
  return view;
}

function notFound() {
  return [...heading(T("notFound.title")), el("p", {}, el("a", { href: "/me", text: T("nav.home") }))];
}

// ---------------------------------------------------------------------------------------------------------
// Routing on location.pathname

const ROUTES = [
  [/^\/me\/?$/, "home", (me) => renderHome(me)],
  [/^\/me\/preferences\/?$/, "preferences", (me) => renderPreferences(me)],
  [/^\/me\/pairs\/([^/]+)\/?$/, "home", (me, m, reload) => renderPair(me, decodeURIComponent(m[1]), reload)],
  [/^\/me\/pairs\/([^/]+)\/sessions\/([^/]+)\/?$/, "home", (me, m, reload) => renderSession(me, decodeURIComponent(m[1]), decodeURIComponent(m[2]), reload)],
  [/^\/me\/pairs\/([^/]+)\/feedback\/?$/, "home", (me, m) => renderFeedback(me, decodeURIComponent(m[1]))],
];

async function show(me, message) {
  const found = ROUTES.map(([re, nav, render]) => [location.pathname.match(re), nav, render]).find(([m]) => m);
  document.querySelectorAll("[data-nav]").forEach((a) => a.removeAttribute("aria-current"));
  const reload = async (note) => { await caughtUp(); await show(me, note); };
  shown = null;
  let nodes;
  if (!found) nodes = notFound();
  else {
    const [m, nav, render] = found;
    document.querySelector(`[data-nav="${nav}"]`)?.setAttribute("aria-current", "page");
    nodes = await render(me, m, reload);
  }
  $("#view").replaceChildren(...nodes.filter(Boolean));
  if (message) say(message);
  document.body.dataset.view = found ? found[1] : "not-found";
  document.body.dataset.loaded = location.pathname;
}

async function main() {
  TandemI18n.apply();
  const session = TandemAuth.current();
  if (!session) { await TandemAuth.signIn(); return; }
  $("#who-name").textContent = session.name;
  $("#who").hidden = false;
  $("#sign-out").addEventListener("click", () => TandemAuth.signOut());
  let me;
  try {
    me = await sessionsApi("/me");
  } catch (err) {
    $("#loading").remove();
    TandemI18n.apply();
    fail(err.status === 403 ? T("error.notParticipant") : `${T("error.api")} ${err.message}`);
    document.body.dataset.loaded = "error";
    return;
  }
  TandemI18n.use(me.locale);
  TandemI18n.apply();
  $("#loading").remove();
  try {
    await show(me);
  } catch (err) {
    fail(err.status === 404 ? T("notFound.title") : `${T("error.api")} ${err.message}`);
    document.body.dataset.loaded = "error";
  }
}

main().catch((err) => fail(err.message));
