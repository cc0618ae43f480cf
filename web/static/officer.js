// The task form: fields that apply to one choice show only when it is chosen (and are
// required then, as the schema says); "use this number" fills a likely original. The server
// checks everything again; without this script every field shows, marked with its choice.
(function () {
  "use strict";
  var form = document.querySelector(".task-form");
  if (!form) return;
  var conditional = Array.prototype.slice.call(form.querySelectorAll("[data-when]"));

  function chosen(name) {
    var checked = form.querySelector('input[name="' + name + '"]:checked');
    return checked ? checked.value : "";
  }
  function matches(rule) {
    return Object.keys(rule).every(function (prop) { return rule[prop].indexOf(chosen(prop)) >= 0; });
  }
  function update() {
    conditional.forEach(function (box) {
      var show = matches(JSON.parse(box.dataset.when));
      var needed = JSON.parse(box.dataset.requiredWhen || "{}");
      var must = Object.keys(needed).length > 0 && matches(needed);
      box.hidden = !show;
      box.querySelectorAll("input, textarea, select").forEach(function (el) {
        el.disabled = !show;
        if (el.type !== "radio" && el.type !== "checkbox") el.required = show && must;
      });
      box.querySelectorAll(".when").forEach(function (hint) { hint.hidden = true; });
    });
  }
  form.addEventListener("change", update);
  update();

  document.querySelectorAll(".use-number").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var target = form.querySelector('input[name="duplicate_of"]');
      var duplicate = form.querySelector('input[name="decision"][value="duplicate"]');
      if (duplicate) { duplicate.checked = true; update(); }
      if (target) { target.value = button.dataset.number; target.focus(); }
    });
  });
})();
