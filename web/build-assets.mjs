// Copy the front-end packages installed from package-lock.json into web/static/vendor, and
// bundle the designers' modeler (web/designer-src: bpmn-js, its properties panel, bpmnlint's
// recommended rules) with esbuild into web/static/designer. Libraries with a ready browser
// build are copied as they are. Run by `make assets` (make run, make test).
import { cpSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const out = join(here, "static", "vendor");
const designerOut = join(here, "static", "designer");

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
  "swagger-ui/swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
  "swagger-ui/swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
  "swagger-ui/LICENSE": "swagger-ui-dist/LICENSE",
};

rmSync(out, { recursive: true, force: true });
for (const [target, source] of Object.entries(files)) {
  const dest = join(out, target);
  mkdirSync(dirname(dest), { recursive: true });
  cpSync(join(modules, source), dest, { recursive: true });
}

// bpmnlint's recommended rules, compiled into the bundle (as bpmnlint-loader would do).
const require = createRequire(join(here, "package.json"));
const compileConfig = require("bpmnlint/lib/support/compile-config.js");
const NodeResolver = require("bpmnlint/lib/resolver/node-resolver.js");
const lintConfig = await compileConfig(
  { extends: "bpmnlint:recommended" },
  new NodeResolver({ require }),
);
const lintPlugin = {
  name: "bpmnlint-config",
  setup(esbuild) {
    esbuild.onResolve({ filter: /^laksa:bpmnlint-config$/ }, (args) => ({
      path: args.path,
      namespace: "bpmnlint",
    }));
    esbuild.onLoad({ filter: /.*/, namespace: "bpmnlint" }, () => ({
      contents: lintConfig,
      resolveDir: here,
      loader: "js",
    }));
  },
};

rmSync(designerOut, { recursive: true, force: true });
await build({
  entryPoints: {
    modeler: join(here, "designer-src", "modeler.js"),
    "modeler-style": join(here, "designer-src", "modeler.css"),
  },
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  outdir: designerOut,
  legalComments: "linked",
  define: { "process.env.NODE_ENV": '"production"' },
  loader: { ".woff": "file", ".woff2": "file", ".ttf": "file", ".eot": "file", ".svg": "file" },
  assetNames: "fonts/[name]-[hash]",
  logLevel: "warning",
  plugins: [lintPlugin],
});
const kib = (name) => Math.round(statSync(join(designerOut, name)).size / 1024);

writeFileSync(join(out, ".built"), new Date().toISOString() + "\n");
console.log(`assets: ${Object.keys(files).length} copied into ${out}`);
console.log(
  `assets: modeler bundled into ${designerOut} ` +
    `(modeler.js ${kib("modeler.js")} KiB, modeler-style.css ${kib("modeler-style.css")} KiB)`,
);
