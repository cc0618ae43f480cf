// The monthly chart of /statistik, drawn from /statistik.json (the same numbers as the table).
(function () {
  "use strict";
  var canvas = document.getElementById("grafik-bulan");
  if (!canvas || !window.Chart) return;
  fetch(canvas.dataset.source).then(function (r) { return r.json(); }).then(function (data) {
    var months = data.by.month.slice().reverse();
    if (!months.length) return;
    canvas.closest("figure").hidden = false;
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: months.map(function (m) { return m.label; }),
        datasets: [
          { label: canvas.dataset.received, data: months.map(function (m) { return m.received; }), backgroundColor: "#0b5394" },
          { label: canvas.dataset.fixed, data: months.map(function (m) { return m.fixed; }), backgroundColor: "#1e6b34" }
        ]
      },
      options: { responsive: true, animation: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
  });
})();
