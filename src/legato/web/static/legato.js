/* Legato control tower: the little behaviour the pages need beyond htmx. No inline scripts
   (the Content-Security-Policy forbids them): pages mark elements with data-* attributes. */
(function () {
  "use strict";

  // Quick view: a button[data-quick="<url>"] in a row opens the row after it (tr.quick,
  // aria-controls) and loads the fragment once; pressing it again closes the row.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-quick]");
    if (!button) return;
    var row = document.getElementById(button.getAttribute("aria-controls"));
    if (!row) return;
    var open = button.getAttribute("aria-expanded") === "true";
    button.setAttribute("aria-expanded", open ? "false" : "true");
    row.hidden = open;
    if (!open && !row.dataset.loaded && window.htmx) {
      row.dataset.loaded = "1";
      window.htmx.ajax("GET", button.dataset.quick, { target: row.querySelector("td"), swap: "innerHTML" });
    }
  });

  // Filter menus (details.filter) and action forms close on Escape, focus back on their summary;
  // a filter menu also closes when a click lands outside it.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var open = event.target.closest("details[open]");
    if (open) {
      open.open = false;
      var summary = open.querySelector("summary");
      if (summary) summary.focus();
    }
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.filter[open]").forEach(function (d) {
      if (!d.contains(event.target)) d.open = false;
    });
  });

  // After htmx replaces the hub's results, tell screen readers how many rows there are now.
  document.addEventListener("htmx:afterSwap", function (event) {
    var status = document.getElementById("hub-status");
    var summary = event.target.querySelector && event.target.querySelector("[data-summary]");
    if (status && summary) status.textContent = summary.dataset.summary;
  });
})();
