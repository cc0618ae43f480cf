// The trend chart of /petugas/pengawasan/tren, from the page's own JSON block (the same
// numbers as the monthly table below it).
(function () {
  "use strict";
  var canvas = document.getElementById("grafik-tren");
  var source = document.getElementById("tren-data");
  if (!canvas || !source || !window.Chart) return;
  var data = JSON.parse(source.textContent);
  if (!data.labels.length) return;
  canvas.closest("figure").hidden = false;
  new window.Chart(canvas, {
    data: {
      labels: data.labels,
      datasets: [
        { type: "bar", label: data.names.received, data: data.received, backgroundColor: "#0b5394", yAxisID: "y" },
        { type: "bar", label: data.names.fixed, data: data.fixed, backgroundColor: "#1e6b34", yAxisID: "y" },
        { type: "line", label: data.names.on_time, data: data.on_time, borderColor: "#b45309", backgroundColor: "#b45309", spanGaps: true, yAxisID: "percent" }
      ]
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,  // the figure's height (laksa.css), also on a phone
      animation: false,
      scales: {
        y: { beginAtZero: true, ticks: { precision: 0 } },
        percent: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false } }
      }
    }
  });
})();
