// The outcomes dashboard's charts (Observable Plot, vendored) and CSV downloads of the tables.
(function () {
  "use strict";
  var view = JSON.parse(document.getElementById("dashboard-data").textContent);
  // each container is role=img with a label; its table view carries the figures
  function place(id, chart) {
    chart.setAttribute("aria-hidden", "true");
    document.getElementById(id).appendChild(chart);
  }
  var traj = view.trajectory.filter(function (d) { return d.mean !== null; });
  place("trajectory-chart", Plot.plot({
    width: 800, height: 280, y: { domain: [0, 10], label: "Pain (0-10)", grid: true },
    x: { label: "Days since the procedure (weekly)" },
    marks: [
      Plot.areaY(traj.filter(function (d) { return d.lower !== null && d.upper !== null; }),
        { x: "start_day", y1: "lower", y2: "upper", fill: "#dde7f3" }),
      Plot.line(traj, { x: "start_day", y: "mean", stroke: "#1f5fa8" }),
      Plot.dot(traj, { x: "start_day", y: "mean", fill: "#1f5fa8" })
    ]
  }));
  function steps(rows, curve) {
    // every curve starts at 1 on day 0
    return [{ day: 0, survival: 1, curve: curve, at_risk: null }].concat(
      rows.filter(function (d) { return d.survival !== null; })
        .map(function (d) { return { day: d.day, survival: d.survival, curve: curve, at_risk: d.at_risk }; }));
  }
  var km = steps(view.survival, "survival").concat(steps(view.recurrence, "freedom from recurrence"));
  var kmChart = Plot.plot({
    width: 800, height: 300, y: { domain: [0, 1], label: "Probability", grid: true }, x: { label: "Day" },
    color: { legend: true, range: ["#1f5fa8", "#c2410c"] },
    marks: [
      Plot.line(km, { x: "day", y: "survival", z: "curve", stroke: "curve", curve: "step-after", className: "km-line" }),
      Plot.text(km.filter(function (d) { return d.at_risk !== null; }), { x: "day", y: function (d) { return d.curve === "survival" ? 0.09 : 0.03; }, text: "at_risk", fill: "curve" })
    ]
  });
  var kmSvg = kmChart.tagName.toLowerCase() === "svg" ? kmChart : kmChart.querySelector(":scope > svg");
  kmSvg.setAttribute("data-km-points", String(km.length));
  place("km-chart", kmChart);
  place("complications-chart", Plot.plot({
    width: 500, height: 220, x: { label: "SIR 2017 grade" }, y: { label: "Complications", grid: true },
    marks: [Plot.barY(view.complications.filter(function (d) { return d.count !== null; }), { x: "grade", y: "count", fill: "#12355b" })]
  }));
  function csv(table) {
    return Array.prototype.map.call(table.rows, function (row) {
      return Array.prototype.map.call(row.cells, function (cell) {
        var text = cell.textContent.trim();
        return /[",\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
      }).join(",");
    }).join("\n") + "\n";
  }
  Array.prototype.forEach.call(document.querySelectorAll("button.csv"), function (button) {
    button.addEventListener("click", function () {
      var table = document.getElementById(button.getAttribute("data-table"));
      var link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([csv(table)], { type: "text/csv" }));
      link.download = button.getAttribute("data-file");
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
  });
})();
