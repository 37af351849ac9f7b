/* Charts of the financial dashboard, drawn from the same numbers as its tables. */
(function () {
  "use strict";
  var source = document.getElementById("financial-chart-data");
  if (!source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var blue = "#0d6efd", green = "#198754", amber = "#fd7e14", grey = "#6c757d";
  var palette = [blue, green, amber, "#6f42c1", "#d63384", "#20c997", grey];
  Chart.defaults.maintainAspectRatio = false;
  window.pimlabCharts = {
    perDay: new Chart(document.getElementById("chart-per-day"), {
      type: "bar",
      data: {
        labels: data.per_day.labels,
        datasets: [
          { type: "bar", label: "Claims", data: data.per_day.claims, backgroundColor: blue, yAxisID: "claims", maxBarThickness: 48 },
          { type: "line", label: "Amount (USD)", data: data.per_day.amounts, borderColor: green, backgroundColor: green, yAxisID: "amount", tension: 0.2 }
        ]
      },
      options: { scales: { claims: { position: "left", beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "claims" } },
                           amount: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: "USD" } } } }
    }),
    perPayer: new Chart(document.getElementById("chart-per-payer"), {
      type: "bar",
      data: { labels: data.per_payer.labels, datasets: [
        { label: "Amount (USD)", data: data.per_payer.amounts, backgroundColor: blue },
        { label: "Paid (USD)", data: data.per_payer.paid, backgroundColor: green }
      ] },
      options: { indexAxis: "y", scales: { x: { beginAtZero: true } } }
    }),
    perStatus: new Chart(document.getElementById("chart-per-status"), {
      type: "doughnut",
      data: { labels: data.per_status.labels, datasets: [{ label: "Claims", data: data.per_status.claims, backgroundColor: palette }] }
    })
  };
})();
