// The BPMN modeler of the page: bpmn-js with its properties panel, LAKSA's own properties
// (laksa-properties.js) and bpmnlint's recommended rules, compiled into the bundle.
import BpmnModeler from "bpmn-js/lib/Modeler";
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from "bpmn-js-properties-panel";
import lintModule from "bpmn-js-bpmnlint";
import lintConfig from "laksa:bpmnlint-config";

import spiffworkflowModdle from "./spiffworkflow-moddle.json";
import LaksaPropertiesProvider from "./laksa-properties.js";

const laksaPropertiesModule = {
  __init__: ["laksaPropertiesProvider"],
  laksaPropertiesProvider: ["type", LaksaPropertiesProvider],
};

// The panel's and the palette's own labels, in the page's language (English is their own).
function translateModule(words) {
  function translate(template, replacements) {
    const text = words[template] || template;
    return text.replace(/{([^}]+)}/g, (_, key) => (replacements || {})[key] ?? "{" + key + "}");
  }
  return { translate: ["value", translate] };
}

export function createBpmnModeler({ canvas, panel, ctx, words }) {
  return new BpmnModeler({
    container: canvas,
    propertiesPanel: {
      parent: panel,
      layout: { groups: { general: { open: true }, laksa: { open: true } } },
    },
    linting: { bpmnlint: lintConfig, active: true },
    laksa: ctx,
    additionalModules: [
      BpmnPropertiesPanelModule,
      BpmnPropertiesProviderModule,
      laksaPropertiesModule,
      lintModule,
      translateModule(words),
    ],
    moddleExtensions: { spiffworkflow: spiffworkflowModdle },
  });
}
