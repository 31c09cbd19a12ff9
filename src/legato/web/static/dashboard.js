/* Legato dashboard: draws the charts from the figures the page embeds as JSON
   (<script type="application/json" id="dashboard-data">), with the vendored Chart.js.
   Each bar or slice is a link to the order hub filtered to it; the tables beside the charts
   carry the same figures and links for keyboards and screen readers (the charts are aria-hidden). */
(function () {
  "use strict";
  var COLOURS = ["#1f4fb5", "#2e8540", "#b35c00", "#6b3fa0", "#00778a", "#b3261e", "#5c6b7a", "#8a6d00", "#1b2230", "#c2185b"];

  function draw(canvas, series) {
    var kind = canvas.dataset.kind;
    var doughnut = kind === "doughnut";
    var values = series.values.map(Number); // only scales the bars: the tables show the exact figures
    var config = {
      type: doughnut ? "doughnut" : "bar",
      data: {
        labels: series.labels,
        datasets: [{
          label: series.label,
          data: values,
          backgroundColor: doughnut ? COLOURS.slice(0, values.length) : COLOURS[0],
          borderWidth: doughnut ? 1 : 0
        }]
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        indexAxis: kind === "hbar" ? "y" : "x",
        plugins: { legend: { display: doughnut, position: "right" } },
        onClick: function (_event, elements) {
          if (elements.length && series.links[elements[0].index]) {
            window.location.href = series.links[elements[0].index];
          }
        },
        onHover: function (event, elements) {
          event.native.target.style.cursor = elements.length ? "pointer" : "default";
        }
      }
    };
    return new window.Chart(canvas.getContext("2d"), config);
  }

  function start() {
    var source = document.getElementById("dashboard-data");
    if (!source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var series = data[canvas.dataset.chart];
      if (series && series.values.length) {
        draw(canvas, series);
      } else {
        canvas.parentNode.classList.add("chart-empty");
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
