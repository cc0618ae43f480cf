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
    if (canvas.clientWidth < 600) {
      // A phone: the whole diagram would be too small to read; start at its beginning at a
      // readable scale (drag to pan, pinch or scroll to zoom).
      var box = view.viewbox();
      var scale = 0.7;
      view.viewbox({
        x: box.inner.x + 20,
        y: box.inner.y - 30,
        width: canvas.clientWidth / scale,
        height: canvas.clientHeight / scale
      });
    }
    Object.keys(data.elements).forEach(function (id) {
      var e = data.elements[id];
      var element = registry.get(id);
      if (!element || element.waypoints) return;
      view.addMarker(id, "heat-" + (e.level === null ? "none" : e.level));
      // Where tickets wait (or deadlines pass) the numbers stay readable when the diagram is
      // zoomed out to fit; the passes of instant elements shrink with it.
      var waits = Boolean(e.median || e.breaches);
      overlays.add(id, "heat", {
        position: { top: -6, left: 0 },
        scale: waits ? { min: 1 } : true,
        html: badge(e)
      });
    });
    canvas.dataset.ready = "true";
  }).catch(function () {
    canvas.hidden = true;
    if (fallback) fallback.hidden = false;
  });
})();
