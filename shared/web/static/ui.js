// Small DOM helpers for Tandem's pages (every service serves it at /web/static/ui.js). Text from an API goes in
// with textContent only (el() never parses HTML); a form shows the API's error next to the field it names.
"use strict";

const TandemUI = (() => {
  /** The language of the APIs' own messages (errors, reasons given as text). */
  const API_LANGUAGE = "en";

  /** An element: el("td", {class: "x", text: "..."}, child, "text", ...). Attributes are set, never parsed. */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = String(value);
      else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
      else if (value === true) node.setAttribute(key, "");
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false || child === "") continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** Remove the errors a form shows. */
  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach((node) => node.remove());
    form.querySelectorAll("[aria-invalid]").forEach((node) => {
      node.removeAttribute("aria-invalid");
      const described = (node.getAttribute("aria-describedby") || "").split(" ").filter((id) => !id.startsWith("err-"));
      if (described.length) node.setAttribute("aria-describedby", described.join(" "));
      else node.removeAttribute("aria-describedby");
    });
    const summary = form.querySelector(".form-error");
    if (summary) { summary.hidden = true; summary.textContent = ""; }
  }

  /** Show an API error (TandemAuth.json's Error: message, field) at the top of the form (role=alert) and next to
   *  the field it names (the control whose name or data-field is that field, or the nearest enclosing field, or its
   *  last dotted part). */
  function showError(form, err) {
    clearErrors(form);
    let summary = form.querySelector(".form-error");
    if (!summary) {
      summary = el("div", { class: "error form-error", role: "alert" });
      form.prepend(summary);
    }
    summary.textContent = err.message || String(err);
    summary.hidden = false;
    // The APIs write their messages in English: say so (screen readers pronounce them right on a German page)
    if (err.status) summary.lang = API_LANGUAGE; else summary.removeAttribute("lang");
    const field = err.field || "";
    // "policy.must_pair.0.1": the control named so, else the nearest enclosing one ("policy.must_pair"), else the
    // last part ("1"), else the first ("policy")
    const parts = field.split(".");
    const enclosing = parts.slice(1, -1).map((_, i) => parts.slice(0, parts.length - 1 - i).join("."));
    const names = [field, ...enclosing, parts[parts.length - 1], parts[0]].filter(Boolean);
    let control = null;
    for (const name of names) {
      control = form.querySelector(`[name="${CSS.escape(name)}"], [data-field="${CSS.escape(name)}"]`);
      if (control) break;
    }
    if (control) {
      const id = `err-${Math.random().toString(36).slice(2, 9)}`;
      const note = el("span", { class: "field-error", id, lang: err.status ? API_LANGUAGE : null, text: err.message || String(err) });
      (control.closest("label, fieldset") || control).append(note);
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("aria-describedby", [control.getAttribute("aria-describedby"), id].filter(Boolean).join(" "));
    }
    return control;
  }

  /** Download `url` with the token (a plain link would carry none): fetch, then save the blob under the name the
   *  answer gives (Content-Disposition), else `fallback`. */
  async function download(url, fallback) {
    const res = await TandemAuth.api(url);
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      throw new Error((body.error && body.error.message) || `${url}: ${res.status}`);
    }
    const disposition = res.headers.get("content-disposition") || "";
    const name = (disposition.match(/filename="([^"]+)"/) || [])[1] || fallback || url.split("/").pop();
    const href = URL.createObjectURL(await res.blob());
    const link = el("a", { href, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(href), 10_000);
    return name;
  }

  return { el, clearErrors, showError, download, API_LANGUAGE };
})();
