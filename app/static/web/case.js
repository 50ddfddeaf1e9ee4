// The case page's timeline chart (Observable Plot, vendored). Data: #case-data.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("case-data").textContent);
  var at = function (d) { return new Date(d.at); };
  var pain = data.pain.map(function (d) { return { at: at(d), score: d.score, site: d.site }; });
  var maxOme = Math.max.apply(null, data.ome.map(function (d) { return d.ome; }).concat([1]));
  // OME drawn on the 0-10 axis, scaled to its maximum (the table gives the values)
  var ome = data.ome.map(function (d) { return { at: at(d), y: (10 * d.ome) / maxOme, ome: d.ome }; });
  var windows = data.windows.map(function (w) { return { from: new Date(w.from), to: new Date(w.to), day: w.day }; });
  var marks = [
    Plot.rectX(windows, { x1: "from", x2: "to", y1: 0, y2: 10, fill: "#dde7f3", fillOpacity: 0.6 }),
    Plot.ruleX(data.procedures.map(at), { stroke: "#12355b", strokeWidth: 2 }),
    Plot.ruleX(data.triggers.map(at), { stroke: "#a30000", strokeDasharray: "4,3" }),
    Plot.line(pain, { x: "at", y: "score", z: "site", stroke: "site" }),
    Plot.dot(pain, { x: "at", y: "score", fill: "site", r: 4, title: function (d) { return d.site + " pain " + d.score; }, className: "pain-point" }),
    Plot.line(ome, { x: "at", y: "y", stroke: "#6b4f00", strokeDasharray: "2,2" }),
    Plot.dot(ome, { x: "at", y: "y", symbol: "square", fill: "#6b4f00", r: 3, title: function (d) { return "OME " + d.ome + " mg/day"; }, className: "ome-point" })
  ];
  var chart = Plot.plot({
    width: 900, height: 320, marginLeft: 40,
    x: { type: "utc", label: "Date" },
    y: { domain: [0, 10], label: "Pain (0-10)", grid: true },
    color: { domain: ["back", "leg"], range: ["#1f5fa8", "#c2410c"], legend: true },
    marks: marks
  });
  // with its legend, the chart is a <figure> around the plot's <svg>
  var svg = chart.tagName.toLowerCase() === "svg" ? chart : chart.querySelector(":scope > svg");
  svg.setAttribute("data-pain-points", String(pain.length));
  // the container is role=img with a label; the tables on the page carry the figures
  chart.setAttribute("aria-hidden", "true");
  document.getElementById("case-chart").appendChild(chart);
})();
