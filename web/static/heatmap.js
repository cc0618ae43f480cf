// The heatmap of /audit/heatmap: the deployed diagram in the bpmn-js viewer, each element
// marked with its colour level and labelled with its numbers. The numbers and levels come from
// the server (the JSON block, the same as the table below); this only draws them.
(function () {
  "use strict";
  var node = document.getElementById("heatmap-data");
  var canvas = document.getElementById("heatmap-canvas");
  if (!node || !canvas || !window.BpmnJS) return;
  var data = JSON.parse(node.textContent);
  var words = data.words;
  var fallback = document.getElementById("heatmap-nojs");
  canvas.hidden = false;
  if (fallback) fallback.hidden = true;

  function line(text, className) {
    var span = document.createElement("span");
    span.className = className;
    span.textContent = text;
    return span;
  }

  function badge(e) {
    var div = document.createElement("div");
    div.className = "heat-badge";
    var summary = e.passed_text + "× " + words.passed;
    if (e.median) summary += " · " + words.median + " " + e.median_text;
    div.appendChild(line(summary, "heat-badge-main"));
    if (e.median) div.appendChild(line(words.p90 + " " + e.p90_text, "heat-badge-p90"));
    if (e.breaches) div.appendChild(line(e.breaches + " " + words.breaches, "heat-badge-breach"));
    div.title = div.textContent;
    return div;
  }

  var viewer = new window.BpmnJS({ container: canvas });
  viewer.importXML(data.xml).then(function () {
    var view = viewer.get("canvas");
    var overlays = viewer.get("overlays");
    var registry = viewer.get("elementRegistry");
    view.zoom("fit-viewport");
    Object.keys(data.elements).forEach(function (id) {
      var e = data.elements[id];
      var element = registry.get(id);
      if (!element || element.waypoints) return;
      view.addMarker(id, "heat-" + (e.level === null ? "none" : e.level));
      overlays.add(id, "heat", { position: { top: -6, left: 0 }, html: badge(e) });
    });
    canvas.dataset.ready = "true";
  }).catch(function () {
    canvas.hidden = true;
    if (fallback) fallback.hidden = false;
  });
})();
