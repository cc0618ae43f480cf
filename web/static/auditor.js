// The auditor's ticket page: the ticket's BPMN in the bpmn-js viewer, with the elements it
// passed, where it waits now and the escalations that fired marked by CSS classes (see the
// legend). The data comes from the page's JSON block; the tables below say the same without
// this script.
(function () {
  "use strict";
  var box = document.getElementById("diagram");
  var source = document.getElementById("diagram-data");
  if (!box || !source || !window.BpmnJS) return;
  var data = JSON.parse(source.textContent);
  if (!data.bpmn) { box.hidden = true; return; }
  var viewer = new window.BpmnJS({ container: box });
  var MARKERS = { completed: "path-completed", waiting: "path-waiting", escalated: "path-escalated" };

  function failed() {
    box.classList.add("diagram-failed");
    box.textContent = box.dataset.error;
  }

  viewer.importXML(data.bpmn).then(function () {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    Object.keys(MARKERS).forEach(function (kind) {
      (data.markers[kind] || []).forEach(function (id) {
        var element = registry.get(id);
        if (!element) return;
        canvas.addMarker(id, MARKERS[kind]);
        // A waiting timer on a task's border: the task waits too (a receive task, say).
        if (kind === "waiting" && element.host) canvas.addMarker(element.host.id, MARKERS.waiting);
      });
    });
    // A flow between two elements the ticket passed is drawn as part of its path.
    var passed = {};
    (data.markers.completed || []).forEach(function (id) { passed[id] = true; });
    registry.filter(function (el) { return el.type === "bpmn:SequenceFlow"; }).forEach(function (flow) {
      if (flow.source && flow.target && passed[flow.source.id] && passed[flow.target.id]) {
        canvas.addMarker(flow.id, MARKERS.completed);
      }
    });
    canvas.zoom("fit-viewport");
  }).catch(failed);
})();
