// The designers' modeler page (/desain/modeler): the running bundle's files in one editor —
// complaint.bpmn in bpmn-js, the DMN tables in dmn-js, the forms and statuses.json as JSON —
// checked and deployed by the server, which is the authority (bpmnlint only hints).
import { createBpmnModeler } from "./bpmn.js";

const root = document.getElementById("modeler");
const words = JSON.parse(document.getElementById("modeler-words").textContent);
const csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
const $ = (selector) => root.querySelector(selector);

function t(key, fallback) {
  return words[key] ?? fallback ?? key;
}

function format(key, values) {
  return t(key).replace(/{(\w+)}/g, (_, name) => String(values[name] ?? ""));
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== false && value != null) node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child != null) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// --- state ---------------------------------------------------------------------------------
const BPMN_FILE = "complaint.bpmn";
const state = {
  files: {}, // name → content as last loaded or saved from its editor
  bundleId: null,
  active: null,
  dmn: {}, // name → { viewer, container }
  baseline: {}, // name → the editor's own export of the file as loaded
  previewTimer: null,
};

const isBpmn = (name) => name.endsWith(".bpmn");
const isDmn = (name) => name.endsWith(".dmn");
const isForm = (name) => name.endsWith(".schema.json");
const baseName = (name) => name.split("/").pop();

function statusCodes() {
  const name = Object.keys(state.files).find((n) => baseName(n) === "statuses.json");
  try {
    const statuses = JSON.parse(currentContent(name));
    return Array.isArray(statuses) ? statuses.map((s) => s.code || s.id || s.name) : Object.keys(statuses);
  } catch {
    return [];
  }
}

const bpmn = createBpmnModeler({
  canvas: $("#bpmn-canvas"),
  panel: $("#bpmn-properties"),
  words: words.panel || {},
  ctx: {
    t: (key, fallback) => (words.laksa || {})[key] ?? fallback,
    statuses: statusCodes,
    forms: () => Object.keys(state.files).filter(isForm).map(baseName).sort(),
  },
});
const canvas = bpmn.get("canvas");
const elementRegistry = bpmn.get("elementRegistry");
const selection = bpmn.get("selection");

// --- loading and saving files --------------------------------------------------------------
async function api(url, options = {}) {
  const response = await fetch(url, {
    credentials: "same-origin",
    headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrf },
    ...options,
  });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return { status: response.status, ok: response.ok, body };
}

function currentContent(name) {
  if (name && name === state.active && !isBpmn(name) && !isDmn(name)) {
    return $("#json-editor").value;
  }
  return state.files[name];
}

// bpmn-js sets isMarkerVisible on every exclusive gateway's shape it imports (to draw the
// X); a shape that did not say so in the file is written back without it, so the file keeps
// its layout as written and the diff shows no gateway "moved".
const SHAPE = /<bpmndi:BPMNShape\b[^>]*>/g;
const MARKER = / isMarkerVisible="(?:true|false)"/;

function shapesWithMarker(xml) {
  const ids = new Set();
  for (const [shape] of xml.matchAll(SHAPE)) {
    const id = /\sid="([^"]*)"/.exec(shape);
    if (id && MARKER.test(shape)) ids.add(id[1]);
  }
  return ids;
}

function exportedBpmn(xml) {
  const kept = state.markerShapes || new Set();
  return xml.replace(SHAPE, (shape) => {
    const id = /\sid="([^"]*)"/.exec(shape);
    return id && kept.has(id[1]) ? shape : shape.replace(MARKER, "");
  });
}

// An editor's text, or the file as loaded if nothing was edited in it: a file only opened
// (or only re-serialised by the library) is sent back byte for byte and shows no change.
async function editedText(modeler, name, normalise = (xml) => xml) {
  const xml = normalise((await modeler.saveXML({ format: true })).xml);
  return xml === state.baseline[name] ? state.files[name] : xml;
}

// After a deploy, what was sent is the running version: later edits are compared with it.
async function rebase(files) {
  state.files = { ...files };
  if (state.bpmnImported) {
    state.baseline[BPMN_FILE] = exportedBpmn((await bpmn.saveXML({ format: true })).xml);
  }
  for (const [name, { viewer }] of Object.entries(state.dmn)) {
    state.baseline[name] = (await viewer.saveXML({ format: true })).xml;
  }
}

// Every editor's content as text: what check and deploy send.
async function collectFiles() {
  const files = { ...state.files };
  if (files[BPMN_FILE] !== undefined && state.bpmnImported) {
    files[BPMN_FILE] = await editedText(bpmn, BPMN_FILE, exportedBpmn);
  }
  for (const [name, { viewer }] of Object.entries(state.dmn)) {
    files[name] = await editedText(viewer, name);
  }
  if (state.active && !isBpmn(state.active) && !isDmn(state.active)) {
    files[state.active] = $("#json-editor").value;
  }
  return files;
}

async function importBpmn(xml) {
  try {
    const { warnings } = await bpmn.importXML(xml);
    state.files[BPMN_FILE] = xml;
    state.markerShapes = shapesWithMarker(xml);
    state.baseline[BPMN_FILE] = exportedBpmn((await bpmn.saveXML({ format: true })).xml);
    state.bpmnImported = true;
    if (warnings.length) announce(format("import_warnings", { count: warnings.length }));
    showStart();
  } catch (error) {
    state.bpmnImported = false;
    announce(format("import_failed", { file: BPMN_FILE, message: error.message }), true);
  }
}

// The whole lifecycle fitted in the canvas is too small to read: show its start, readable.
function showStart() {
  const { inner, outer } = canvas.viewbox();
  if (!outer.width || !outer.height) return;
  const scale = 0.8;
  canvas.viewbox({
    x: inner.x - 20,
    y: inner.y - 20,
    width: outer.width / scale,
    height: outer.height / scale,
  });
}

async function loadBundle() {
  announce(t("loading"));
  const { ok, body } = await api(root.dataset.bundleUrl);
  if (!ok || !body) {
    announce(t("load_failed"), true);
    return;
  }
  state.bundleId = body.bundle_id;
  state.files = { ...body.files };
  $("#bundle-id").textContent = body.bundle_id;
  buildFileList();
  if (state.files[BPMN_FILE] !== undefined) await importBpmn(state.files[BPMN_FILE]);
  await openFile(BPMN_FILE in state.files ? BPMN_FILE : Object.keys(state.files)[0]);
  announce(format("loaded", { count: Object.keys(state.files).length }));
}

// --- the file list (a tab list: arrow keys move, Enter/Space open) --------------------------
function fileGroup(name) {
  if (isBpmn(name)) return "group.bpmn";
  if (isDmn(name)) return "group.dmn";
  if (isForm(name)) return "group.forms";
  return "group.other";
}

function buildFileList() {
  const list = $("#file-list");
  list.replaceChildren();
  const order = ["group.bpmn", "group.dmn", "group.forms", "group.other"];
  const names = Object.keys(state.files).sort(
    (a, b) => order.indexOf(fileGroup(a)) - order.indexOf(fileGroup(b)) || a.localeCompare(b),
  );
  for (const name of names) {
    list.append(
      el(
        "button",
        {
          type: "button",
          role: "tab",
          id: "tab-" + name.replace(/[^\w-]/g, "_"),
          "aria-selected": "false",
          "aria-controls": isBpmn(name) ? "pane-bpmn" : isDmn(name) ? "pane-dmn" : "pane-json",
          tabindex: "-1",
          "data-file": name,
          class: "file-tab",
          onclick: () => openFile(name),
        },
        el("span", { class: "file-kind" }, t(fileGroup(name))),
        " ",
        baseName(name),
      ),
    );
  }
}

$("#file-list").addEventListener("keydown", (event) => {
  const tabs = [...root.querySelectorAll(".file-tab")];
  const index = tabs.indexOf(document.activeElement);
  if (index < 0) return;
  const moves = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 };
  let next = null;
  if (event.key in moves) next = tabs[(index + moves[event.key] + tabs.length) % tabs.length];
  if (event.key === "Home") next = tabs[0];
  if (event.key === "End") next = tabs[tabs.length - 1];
  if (next) {
    event.preventDefault();
    next.focus();
    openFile(next.dataset.file);
  }
});

function showPane(id) {
  for (const pane of root.querySelectorAll(".editor-pane")) pane.hidden = pane.id !== id;
}

async function openFile(name) {
  if (!name) return;
  // Keep what was typed in the JSON editor before switching away from it.
  if (state.active && !isBpmn(state.active) && !isDmn(state.active)) {
    state.files[state.active] = $("#json-editor").value;
  }
  state.active = name;
  for (const tab of root.querySelectorAll(".file-tab")) {
    const selected = tab.dataset.file === name;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
  }
  if (isBpmn(name)) {
    showPane("pane-bpmn");
    canvas.resized();
  } else if (isDmn(name)) {
    showPane("pane-dmn");
    await openDmn(name);
  } else {
    showPane("pane-json");
    openJson(name);
  }
}

async function openDmn(name) {
  const host = $("#dmn-hosts");
  for (const { container } of Object.values(state.dmn)) container.hidden = true;
  let entry = state.dmn[name];
  if (!entry) {
    const container = el("div", { class: "dmn-host", "data-file": name });
    host.append(container);
    const viewer = new window.DmnJS({ container });
    entry = state.dmn[name] = { viewer, container };
    try {
      await viewer.importXML(state.files[name]);
      state.baseline[name] = (await viewer.saveXML({ format: true })).xml;
      // A file with one decision opens on its table, where the rules are.
      const table = viewer.getViews().find((view) => view.type === "decisionTable");
      if (table) await viewer.open(table);
    } catch (error) {
      announce(format("import_failed", { file: name, message: error.message }), true);
    }
  }
  entry.container.hidden = false;
  $("#dmn-title").textContent = baseName(name);
}

// --- JSON files: forms (with a live preview) and statuses.json ------------------------------
function openJson(name) {
  const editor = $("#json-editor");
  editor.value = state.files[name] ?? "";
  $("#json-label-file").textContent = baseName(name);
  $("#form-preview-section").hidden = !isForm(name);
  validateJson();
  if (isForm(name)) schedulePreview(0);
}

function validateJson() {
  const editor = $("#json-editor");
  const error = $("#json-error");
  try {
    JSON.parse(editor.value);
    editor.removeAttribute("aria-invalid");
    error.textContent = "";
    return true;
  } catch (problem) {
    editor.setAttribute("aria-invalid", "true");
    error.textContent = format("json_invalid", { message: problem.message });
    return false;
  }
}

function schedulePreview(delay = 600) {
  clearTimeout(state.previewTimer);
  state.previewTimer = setTimeout(renderPreview, delay);
}

async function renderPreview() {
  const target = $("#form-preview");
  if (!isForm(state.active || "") || !validateJson()) return;
  const { ok, body } = await api(root.dataset.previewUrl, {
    method: "POST",
    body: JSON.stringify({ schema: JSON.parse($("#json-editor").value) }),
  });
  if (ok && body && typeof body.html === "string") {
    // The server renders the preview with the officers' own form code; it escapes the schema.
    target.innerHTML = body.html;
    for (const control of target.querySelectorAll("input, select, textarea, button")) {
      control.disabled = true;
    }
    target.removeAttribute("aria-invalid");
  } else {
    target.replaceChildren(el("p", { class: "error" }, describeError(body)));
  }
}

$("#json-editor").addEventListener("input", () => {
  state.files[state.active] = $("#json-editor").value;
  if (validateJson() && isForm(state.active)) schedulePreview();
});

// The selected user task's form, one click away beside the diagram.
bpmn.get("eventBus").on("selection.changed", ({ newSelection }) => {
  const box = $("#task-form");
  const element = newSelection.length === 1 ? newSelection[0] : null;
  const values = element?.businessObject?.extensionElements?.values || [];
  const holder = values.find((v) => v.$type === "spiffworkflow:Properties");
  const form = holder?.properties?.find((p) => p.name === "formJsonSchemaFilename")?.value;
  const file = form && Object.keys(state.files).find((n) => baseName(n) === form);
  box.hidden = !file;
  if (file) {
    $("#task-form-name").textContent = form;
    $("#task-form-open").dataset.file = file;
  }
});
$("#task-form-open").addEventListener("click", (event) => {
  const file = event.currentTarget.dataset.file;
  openFile(file).then(() => $("#json-editor").focus());
});

// --- files from the designer's computer -----------------------------------------------------
$("#file-upload").addEventListener("change", async (event) => {
  for (const file of event.target.files) {
    const text = await file.text();
    const known = Object.keys(state.files).find((n) => baseName(n) === file.name);
    const name = known || (file.name.endsWith(".schema.json") ? "forms/" + file.name : file.name);
    state.files[name] = text;
    if (isBpmn(name)) await importBpmn(text);
    if (isDmn(name) && state.dmn[name]) {
      const { viewer } = state.dmn[name];
      await viewer.importXML(text);
      state.baseline[name] = (await viewer.saveXML({ format: true })).xml;
    }
    if (!known) buildFileList();
    if (name === state.active && !isBpmn(name) && !isDmn(name)) openJson(name);
    announce(format("file_loaded", { file: name }));
  }
  event.target.value = "";
});

// --- results: problems and the diff, in lists and on the diagram ----------------------------
const MARKERS = ["laksa-problem", "laksa-added", "laksa-changed"];
let marked = [];

function clearMarkers() {
  for (const [id, marker] of marked) {
    if (elementRegistry.get(id)) canvas.removeMarker(id, marker);
  }
  marked = [];
}

function mark(id, marker) {
  if (id && elementRegistry.get(id) && MARKERS.includes(marker)) {
    canvas.addMarker(id, marker);
    marked.push([id, marker]);
    return true;
  }
  return false;
}

function elementLabel(id) {
  const element = id && elementRegistry.get(id);
  const name = element?.businessObject?.name;
  return name ? `${name} (${id})` : id;
}

async function showElement(file, id, line) {
  if (isBpmn(file || "") || (!file && id && elementRegistry.get(id))) {
    await openFile(BPMN_FILE);
    const element = id && elementRegistry.get(id);
    if (element) {
      selection.select(element);
      canvas.scrollToElement(element);
      $("#bpmn-canvas").querySelector("svg")?.focus();
    }
  } else if (file && file in state.files) {
    await openFile(file);
    if (!isDmn(file) && line) {
      const editor = $("#json-editor");
      const lines = editor.value.split("\n");
      const start = lines.slice(0, line - 1).join("\n").length + (line > 1 ? 1 : 0);
      editor.focus();
      editor.setSelectionRange(start, start + (lines[line - 1] || "").length);
    }
  }
}

function renderProblems(problems) {
  const list = $("#problem-list");
  list.replaceChildren();
  $("#problems").hidden = !problems.length;
  for (const problem of problems) {
    const where = [problem.file, problem.line ? format("line", { line: problem.line }) : null]
      .filter(Boolean)
      .join(" · ");
    const onDiagram = mark(problem.element_id, "laksa-problem");
    const button = el(
      "button",
      {
        type: "button",
        class: "problem-link link",
        onclick: () => showElement(problem.file, problem.element_id, problem.line),
      },
      el("span", { class: "problem-where" }, where || t("bundle")),
      problem.element_id ? el("code", {}, elementLabel(problem.element_id)) : null,
      el("span", { class: "problem-message" }, problem.message),
    );
    list.append(
      el("li", { class: "problem", "data-element": problem.element_id || "" }, button,
        onDiagram ? el("span", { class: "marked-note" }, t("marked_on_diagram")) : null),
    );
  }
}

function renderDiff(diff) {
  const section = $("#diff");
  const lists = {
    added: $("#diff-added"),
    changed: $("#diff-changed"),
    removed: $("#diff-removed"),
    moved: $("#diff-moved"),
  };
  for (const list of Object.values(lists)) list.replaceChildren();
  let total = 0;
  for (const [file, change] of Object.entries(diff || {})) {
    for (const kind of Object.keys(lists)) {
      for (const id of change[kind] || []) {
        if (kind !== "moved") total += 1;
        if (isBpmn(file) && kind !== "removed") mark(id, "laksa-" + kind);
        const item = el("li", { "data-element": id, "data-kind": kind });
        const label = `${baseName(file)}: ${kind === "removed" ? id : elementLabel(id)}`;
        if (kind === "removed") item.append(label);
        else item.append(el("button", { type: "button", class: "link", onclick: () => showElement(file, id) }, label));
        lists[kind].append(item);
      }
    }
  }
  for (const [kind, list] of Object.entries(lists)) {
    list.closest(".diff-kind").hidden = !list.children.length;
  }
  section.hidden = false;
  $("#diff-empty").hidden = total > 0;
  return total;
}

function describeError(body) {
  const error = body && body.error;
  if (error && typeof error === "object") return error.message || JSON.stringify(error);
  if (typeof error === "string") return error;
  return t("request_failed");
}

function announce(message, isError = false) {
  const status = $("#modeler-status");
  status.textContent = message;
  status.classList.toggle("error", isError);
}

function setBusy(busy) {
  for (const button of root.querySelectorAll("[data-busy]")) button.disabled = busy;
  root.setAttribute("aria-busy", String(busy));
}

async function check() {
  setBusy(true);
  try {
    const files = await collectFiles();
    const { ok, body } = await api(root.dataset.checkUrl, { method: "POST", body: JSON.stringify({ files }) });
    clearMarkers();
    if (!ok || !body) {
      renderProblems(body?.problems || []);
      announce(describeError(body), true);
      return;
    }
    renderProblems(body.problems || []);
    const changes = renderDiff(body.diff);
    if (body.ok) announce(format("check_ok", { changes }));
    else announce(format("check_problems", { count: (body.problems || []).length }), true);
  } finally {
    setBusy(false);
  }
}

async function deploy(event) {
  event.preventDefault();
  const note = $("#deploy-note");
  if (!note.value.trim()) {
    note.setAttribute("aria-invalid", "true");
    $("#deploy-note-error").textContent = t("note_required");
    note.focus();
    return;
  }
  note.removeAttribute("aria-invalid");
  $("#deploy-note-error").textContent = "";
  setBusy(true);
  try {
    const files = await collectFiles();
    const { status, body } = await api(root.dataset.deployUrl, {
      method: "POST",
      // The bundle this edit started from: if someone else deployed since, the server says 409.
      body: JSON.stringify({ files, note: note.value.trim(), base_bundle_id: state.bundleId }),
    });
    const result = $("#deploy-result");
    clearMarkers();
    if (status === 201 && body) {
      await rebase(files);
      state.bundleId = body.bundle_id;
      $("#bundle-id").textContent = body.bundle_id;
      renderProblems([]);
      $("#diff").hidden = true; // what was deployed is now the running version
      const versions = Object.entries(body.versions || {})
        .map(([name, version]) => `${name} v${version}`)
        .join(", ");
      result.textContent = format(body.created === false ? "deploy_same" : "deployed", {
        bundle: body.bundle_id,
        versions,
      });
      result.className = "deploy-result notice";
      note.value = "";
      announce(result.textContent);
    } else {
      renderProblems(body?.problems || []);
      result.textContent = format("deploy_refused", { message: describeError(body) });
      result.className = "deploy-result error";
      announce(result.textContent, true);
    }
  } finally {
    setBusy(false);
  }
}

// --- the toolbar: one tab stop, arrow keys between its buttons -----------------------------
const toolbar = $("#modeler-toolbar");
toolbar.addEventListener("keydown", (event) => {
  const items = [...toolbar.querySelectorAll("button, label.button")];
  const index = items.indexOf(document.activeElement);
  const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
  if (index < 0 || !step) return;
  event.preventDefault();
  const next = items[(index + step + items.length) % items.length];
  for (const item of items) item.tabIndex = item === next ? 0 : -1;
  next.focus();
});
$("#file-upload-label").addEventListener("keydown", (event) => {
  if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    $("#file-upload").click();
  }
});
$("#check-button").addEventListener("click", check);
$("#fit-button").addEventListener("click", () => canvas.zoom("fit-viewport"));
$("#deploy-form").addEventListener("submit", deploy);

loadBundle();
