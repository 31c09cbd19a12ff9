/* The control tower's forms beyond the hub: a form being saved is not sent twice (the buttons
   wait for the answer), and after htmx swaps a form back with problems, focus goes to the
   summary of problems so keyboard and screen-reader users hear them. No inline scripts (CSP). */
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    if (!submitter || !/^save:/.test(submitter.value || "")) return;
    // after the browser (or htmx) has read the button's value, hold the save buttons
    window.setTimeout(function () {
      event.target.querySelectorAll("button[value^='save:']").forEach(function (b) {
        b.disabled = true;
        b.setAttribute("aria-busy", "true");
      });
    }, 0);
  });

  // live search results (a list over the page) close on Escape or a click elsewhere
  function closeHits(except) {
    document.querySelectorAll(".hits-slot").forEach(function (slot) {
      if (slot !== except && slot.querySelector("ul.hits")) slot.innerHTML = "";
    });
  }
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var slot = event.target.closest && (event.target.closest(".hits-slot") ||
      document.getElementById(event.target.getAttribute("aria-controls") || ""));
    if (slot && slot.classList.contains("hits-slot")) {
      closeHits(null);
      var input = document.querySelector("[aria-controls='" + slot.id + "']");
      if (input) input.focus();
    }
  });
  document.addEventListener("click", function (event) {
    var inside = event.target.closest && event.target.closest(".hits-slot, input[aria-controls]");
    if (!inside) closeHits(null);
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var summary = document.querySelector(".error-summary[tabindex]");
    var wasSave = event.detail && event.detail.requestConfig && event.detail.requestConfig.triggeringEvent &&
      event.detail.requestConfig.triggeringEvent.submitter &&
      /^save:/.test(event.detail.requestConfig.triggeringEvent.submitter.value || "");
    if (summary && wasSave) summary.focus();
  });
})();
