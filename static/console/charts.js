/* Console charts: each <canvas data-chart="ID"> is drawn from the JSON spec in <script id="ID">.
   The spec carries the engine's numbers unchanged; thresholds become dashed lines and chaos runs
   shaded bands (chartjs-plugin-annotation). Re-run after an htmx swap to redraw live charts. */
(function () {
  "use strict";
  // Colour-blind-safe palette (Okabe–Ito); lines are also told apart by dash pattern and legend text.
  var COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"];
  var DASHES = [[], [6, 3], [2, 2], [8, 3, 2, 3], [4, 4], [10, 2], [1, 3]];

  function annotations(spec) {
    var items = {};
    (spec.thresholds || []).forEach(function (t, i) {
      items["threshold" + i] = {
        type: "line", yMin: t.value, yMax: t.value, borderColor: "#8B0000", borderWidth: 1,
        borderDash: [4, 4],
        label: { display: true, content: t.label, position: ["end", "75%", "50%", "25%"][i % 4], backgroundColor: "rgba(139,0,0,0.8)",
                 font: { size: 10 } }
      };
    });
    (spec.bands || []).forEach(function (b, i) {
      items["band" + i] = {
        type: "box", xMin: b.x_min, xMax: b.x_max, backgroundColor: "rgba(230,159,0,0.18)",
        borderColor: "rgba(230,159,0,0.6)", borderWidth: 1,
        label: { display: true, content: b.label, position: "start", font: { size: 10 }, color: "#5a3d00" }
      };
    });
    return items;
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source || typeof Chart === "undefined") { return; }
    var spec = JSON.parse(source.textContent);
    var existing = Chart.getChart(canvas);
    if (existing) { existing.destroy(); }
    new Chart(canvas, {
      type: "line",
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (d, i) {
          return {
            label: d.label, data: d.data, hidden: !!d.hidden, stepped: spec.step ? "before" : false,
            borderColor: COLOURS[i % COLOURS.length], backgroundColor: COLOURS[i % COLOURS.length],
            borderDash: DASHES[i % DASHES.length], pointRadius: spec.labels.length > 40 ? 0 : 2,
            borderWidth: 1.5, spanGaps: false
          };
        })
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { ticks: { maxTicksLimit: 8, autoSkip: true } },
          y: { title: { display: true, text: spec.y_label } }
        },
        plugins: { legend: { position: "bottom" }, annotation: { annotations: annotations(spec) } }
      }
    });
  }

  function drawAll(root) {
    (root || document).querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  window.pimlabCharts = { draw: draw, drawAll: drawAll };
  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawAll(event.detail.elt); });
})();
