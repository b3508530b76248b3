// The provider sent the browser back here with ?code=…&state=…: finish the sign-in, then back to the dashboard.
"use strict";

TandemAuth.complete().catch((err) => {
  document.querySelector("h1").textContent = "Sign-in failed";
  document.querySelector("#status").textContent = err.message;
  document.querySelector("#again").hidden = false;
  document.body.dataset.error = "true";
});
