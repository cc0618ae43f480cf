// Copy the front-end packages installed from package-lock.json into web/static/vendor.
// No bundler: each library ships a ready browser build. Run by `make assets` (make run, make test).
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const out = join(here, "static", "vendor");

const files = {
  "pico.min.css": "@picocss/pico/css/pico.min.css",
  "leaflet/leaflet.js": "leaflet/dist/leaflet.js",
  "leaflet/leaflet.css": "leaflet/dist/leaflet.css",
  "leaflet/images": "leaflet/dist/images",
  "chart.umd.min.js": "chart.js/dist/chart.umd.min.js",
  "axe.min.js": "axe-core/axe.min.js",
  "bpmn-js/bpmn-navigated-viewer.js": "bpmn-js/dist/bpmn-navigated-viewer.production.min.js",
  "bpmn-js/bpmn-modeler.js": "bpmn-js/dist/bpmn-modeler.production.min.js",
  "bpmn-js/assets": "bpmn-js/dist/assets",
  "dmn-js/dmn-modeler.js": "dmn-js/dist/dmn-modeler.production.min.js",
  "dmn-js/assets": "dmn-js/dist/assets",
};

rmSync(out, { recursive: true, force: true });
for (const [target, source] of Object.entries(files)) {
  const dest = join(out, target);
  mkdirSync(dirname(dest), { recursive: true });
  cpSync(join(modules, source), dest, { recursive: true });
}
writeFileSync(join(out, ".built"), new Date().toISOString() + "\n");
console.log(`assets: ${Object.keys(files).length} copied into ${out}`);
