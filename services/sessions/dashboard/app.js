// Tandem HR dashboard: reads the sessions service's JSON API; no external resources. Signed in through
// auth.js (TandemAuth): every API call carries the token of the person signed in. Every word comes from
// messages.js through TandemI18n (German or English: ?lang=, the sign-in's locale, the browser's languages);
// figures and reference texts by their stable keys, the API's English text only where no message exists.
"use strict";

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
};
const svg = (tag, attrs = {}) => {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
};

const t = (key, values) => TandemI18n.t(key, values);
/** A message that counts: `key.one` or `key.other` (the language's plural rule), with {count} in local digits. */
const tn = (key, count, values = {}) => t(`${key}.${new Intl.PluralRules(TandemI18n.current()).select(count) === "one" ? "one" : "other"}`,
  { ...values, count: formatNumber(count) });
/** The message for `key`, or `fallback` (the API's English text) when there is none: [text, translated?]. */
function known(key, fallback) {
  const text = t(key);
  return text === key ? [fallback, false] : [text, true];
}
/** A text element; marked lang="en" when it shows the API's English because no message exists for it. */
function worded(tag, attrs, key, fallback) {
  const [text, translated] = known(key, fallback);
  return el(tag, translated ? { ...attrs, text } : { ...attrs, text, lang: "en" });
}
const topicLabel = (topic) => known(`topic.${topic}`, topic.replace(/-/g, " "))[0];

// Dates and numbers in the viewer's locale, the same one the words are in.
const LOCALE = TandemI18n.current();
const numbers = (options = {}) => new Intl.NumberFormat(LOCALE, options);
const formatNumber = (value, digits = 0) => numbers({ maximumFractionDigits: digits }).format(value);
// A calendar date ("2026-12-07") as the viewer writes it (7.12.2026, 12/7/2026), the same day everywhere.
const formatDay = (iso) => new Intl.DateTimeFormat(LOCALE, { timeZone: "UTC" }).format(new Date(`${iso.slice(0, 10)}T00:00:00Z`));
const formatMoment = (iso) => new Intl.DateTimeFormat(LOCALE, { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));

// One formatting rule, shared with the browser test: shares as whole percent, minutes as whole minutes,
// confidence change with a sign and one decimal; in the viewer's locale.
function formatFigure(f) {
  if (f.value === null || f.value === undefined) return t("figure.notEnough");
  if (f.kind === "share") return numbers({ style: "percent", maximumFractionDigits: 0 }).format(f.value);
  if (f.kind === "median") return t("figure.minutes", { value: formatNumber(Math.round(f.value)) });
  return numbers({ minimumFractionDigits: 1, maximumFractionDigits: 1, signDisplay: "exceptZero" }).format(f.value);
}
function formatReference(r) {
  if (!r) return "";
  return r.unit === "share"
    ? numbers({ style: "percent", maximumFractionDigits: 0 }).format(r.value)
    : t("figure.minutes", { value: formatNumber(Math.round(r.value)) });
}

async function getJSON(url) {
  const res = await TandemAuth.api(url);
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    throw new Error(`${url}: ${(body.error && body.error.message) || res.status}`);
  }
  return res.json();
}

// The export links name the files; a click fetches them with the token (a plain link would carry none).
async function download(link) {
  const res = await TandemAuth.api(link.getAttribute("href"));
  if (!res.ok) throw new Error(`${link.getAttribute("href")}: ${res.status}`);
  const disposition = res.headers.get("content-disposition") || "";
  const name = (disposition.match(/filename="([^"]+)"/) || [])[1] || link.getAttribute("href").split("/").pop();
  const url = URL.createObjectURL(await res.blob());
  const save = el("a", { href: url, download: name });
  document.body.append(save);
  save.click();
  save.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function showWho(session) {
  $("#who-name").textContent = session.name;
  $("#who-roles").textContent = session.roles.length ? `(${session.roles.join(", ")})` : "";
  $("#who").hidden = false;
  document.body.dataset.signedIn = session.name;
}

function renderTotals(totals) {
  // data-total keeps the English name in every language: a stable handle for tests and scripts
  const items = [
    ["Pairs", "totals.pairs", totals.pairs], ["Active now", "totals.active", totals.pairs_active],
    ["Sessions held", "totals.sessions", totals.sessions_held],
    ["Hours of mentoring", "totals.hours", Math.round(totals.minutes / 6) / 10],
    ["Goals achieved", "totals.goals", totals.goals_achieved],
  ];
  $("#totals").replaceChildren(...items.map(([name, key, value]) =>
    el("div", { class: "kpi" }, el("div", { class: "label", text: t(key) }),
      el("div", { class: "value", "data-total": name, text: formatNumber(value, 1) }))));
}

function renderFigures(figures, minGroup) {
  $("#min-group").textContent = String(minGroup);
  $("#figures").replaceChildren(...figures.map((f) => {
    const shown = f.value !== null && f.value !== undefined;
    const card = el("div", { class: "figure", "data-key": f.key },
      worded("div", { class: "label" }, `figure.${f.key}`, f.label),
      el("div", { class: shown ? "value" : "value hidden", "data-figure": f.key, text: formatFigure(f) }));
    if (f.reference) {
      const scale = f.reference.unit === "share" ? 1 : Math.max(120, (f.value || 0) * 1.2, f.reference.value * 1.5);
      const meter = el("div", { class: "meter" });
      if (shown) meter.append(el("div", { class: "fill", style: `width:${Math.min(100, 100 * f.value / scale)}%` }));
      // the reference's label is an element of its own, above the meter, clear of the figure (or its absence)
      meter.append(el("div", { class: "ref", style: `left:${100 * f.reference.value / scale}%` },
        el("span", { class: "ref-label", text: t("figure.reference", { value: formatReference(f.reference) }) })));
      const [text, textKnown] = known(`reference.${f.key}`, f.reference.text);
      const [source, sourceKnown] = known(`source.${f.reference.source}`, f.reference.source);
      const refText = el("div", { class: "ref-text", text: t("figure.referenceText", { text, source }) });
      if (!textKnown || !sourceKnown) refText.lang = "en";
      card.append(meter, refText);
    } else {
      card.append(worded("div", { class: "ref-text" }, `figure.${f.key}.note`, ""));
    }
    card.append(el("div", { class: "n", text: shown
      ? tn("figure.answers", f.n) : tn("figure.needed", f.min_group_size, { n: formatNumber(f.n) }) }));
    return card;
  }));
}

function renderWeeks(weeks) {
  const box = $("#weeks-chart");
  if (!weeks.length) { box.replaceChildren(el("div", { class: "empty", text: t("weeks.none") })); return; }
  const W = 640, H = 240, pad = { l: 34, r: 10, t: 12, b: 34 };
  const peak = Math.max(1, ...weeks.map((w) => Math.max(w.sessions_held, w.pairs_active)));
  const tick = Math.max(1, Math.ceil(peak / 4));
  const max = tick * 4;
  const step = (W - pad.l - pad.r) / weeks.length, bw = Math.max(6, step * 0.6);
  const y = (v) => H - pad.b - (H - pad.t - pad.b) * v / max;
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": t("weeks.chart") });
  for (let i = 0; i <= 4; i++) {
    const v = tick * i, yy = y(v);
    chart.append(svg("line", { x1: pad.l, x2: W - pad.r, y1: yy, y2: yy, stroke: "#eef2f7" }));
    const t = svg("text", { x: pad.l - 6, y: yy + 4, "text-anchor": "end", "font-size": 10, fill: "#64748b" });
    t.textContent = formatNumber(v); chart.append(t);
  }
  const line = [];
  weeks.forEach((w, i) => {
    const x = pad.l + i * step + (step - bw) / 2;
    const rect = svg("rect", { x, y: y(w.sessions_held), width: bw, height: H - pad.b - y(w.sessions_held), rx: 3,
                               fill: "url(#g)", "data-week": w.week, "data-sessions": w.sessions_held });
    const tip = svg("title"); tip.textContent = `${w.week}: ${tn("weeks.sessions", w.sessions_held)}, ${tn("weeks.pairs", w.pairs_active)}`;
    rect.append(tip); chart.append(rect);
    line.push(`${x + bw / 2},${y(w.pairs_active)}`);
    if (weeks.length <= 16 || i % 2 === 0) {
      const t = svg("text", { x: x + bw / 2, y: H - 14, "text-anchor": "middle", "font-size": 10, fill: "#64748b" });
      t.textContent = w.week.slice(5); chart.append(t);
    }
  });
  const defs = svg("defs"), g = svg("linearGradient", { id: "g", x1: 0, x2: 0, y1: 0, y2: 1 });
  g.append(svg("stop", { offset: "0", "stop-color": "#4f46e5" }), svg("stop", { offset: "1", "stop-color": "#06b6d4" }));
  defs.append(g); chart.prepend(defs);
  chart.append(svg("polyline", { points: line.join(" "), fill: "none", stroke: "#f59e0b", "stroke-width": 2 }));
  const legend = el("div", { class: "muted" }, `■ ${t("weeks.legendSessions")}   `,
    el("span", { style: "color:#f59e0b", text: `— ${t("weeks.legendPairs")}` }));
  box.replaceChildren(chart, legend);
}

function renderTopics(topics) {
  const box = $("#topics-chart");
  if (!topics.length) { box.replaceChildren(el("div", { class: "empty", text: t("topics.none") })); return; }
  const max = Math.max(...topics.map((x) => x.goals_achieved));
  box.replaceChildren(...topics.map((x) => el("div", { class: "row", "data-topic": x.topic },
    el("span", { text: topicLabel(x.topic) }),
    el("div", { class: "track" }, el("div", { class: "bar", style: `width:${100 * x.goals_achieved / max}%` })),
    el("strong", { text: formatNumber(x.goals_achieved) }))));
}

function renderAtRisk(pairs, totalPairs) {
  $("#at-risk-count").textContent = formatNumber(pairs.length);
  const body = $("#at-risk tbody");
  if (!pairs.length) {
    const text = totalPairs ? t("risk.allMeeting") : t("risk.noPairs");
    body.replaceChildren(el("tr", {}, el("td", { colspan: 4, class: "empty", text })));
    return;
  }
  body.replaceChildren(...pairs.map((p) => el("tr", { "data-pair": p.pair_id },
    el("td", { text: p.mentee_name || p.mentee_id }), el("td", { text: p.mentor_name || p.mentor_id }),
    el("td", { text: p.last_session_at ? new Intl.DateTimeFormat(LOCALE).format(new Date(p.last_session_at)) : t("risk.noneYet") }),
    el("td", {}, el("span", { class: "pill", text: tn("risk.daysCount", p.days_without_session) })))));
}

async function load(programmeId) {
  const data = await getJSON(`/programmes/${encodeURIComponent(programmeId)}/outcomes`);
  $("#programme-name").textContent = data.programme.name || programmeId;
  $("#programme-dates").textContent = data.programme.starts_on
    ? `${t("programme.dates", { from: formatDay(data.programme.starts_on), to: formatDay(data.programme.ends_on) })} · ${tn("programme.cadence", data.cadence_days)}`
    : "";
  $("#export-csv").href = `/programmes/${encodeURIComponent(programmeId)}/outcomes.csv`;
  $("#export-json").href = `/programmes/${encodeURIComponent(programmeId)}/outcomes.json`;
  renderTotals(data.totals);
  renderFigures(data.figures, data.min_group_size);
  renderWeeks(data.weeks);
  renderTopics(data.goals_by_topic);
  renderAtRisk(data.at_risk, data.totals.pairs);
  $("#as-of").textContent = formatMoment(data.as_of);
  document.body.dataset.loaded = programmeId;
}

// The programme the dashboard opens on without ?programme=: the running one (started, not ended, not closed) with
// the most pairs, else the one with the most pairs; on a tie the newest (the list comes newest first).
function opening(programmes) {
  const today = new Date().toISOString().slice(0, 10);
  const running = programmes.filter((p) => !p.closed && String(p.starts_on) <= today && (!p.ends_on || String(p.ends_on) >= today));
  return (running.length ? running : programmes).reduce((best, p) => (p.pairs > best.pairs ? p : best));
}

async function main() {
  TandemI18n.apply();
  const session = TandemAuth.current();
  if (!session) { await TandemAuth.signIn(); return; }
  showWho(session);
  $("#sign-out").addEventListener("click", () => TandemAuth.signOut());
  for (const link of [$("#export-csv"), $("#export-json")]) {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      download(link).catch((err) => { $("#programme-dates").textContent = t("error.export", { message: err.message }); });
    });
  }
  const programmes = await getJSON("/programmes?limit=1000");
  const select = $("#programme");
  if (!programmes.length) { $("#programme-name").textContent = t("programme.none"); document.body.dataset.loaded = "none"; return; }
  select.replaceChildren(...programmes.map((p) => el("option", { value: p.programme_id, text: tn("picker.option", p.pairs, { name: p.name }) })));
  const wanted = new URLSearchParams(location.search).get("programme");
  select.value = wanted && programmes.some((p) => p.programme_id === wanted) ? wanted : opening(programmes).programme_id;
  select.addEventListener("change", () => load(select.value));
  await load(select.value);
}

main().catch((err) => { $("#programme-name").textContent = t("error.load", { message: err.message }); });
