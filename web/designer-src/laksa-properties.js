// The "LAKSA" group of the properties panel: the element properties LAKSA's engine reads
// (workflows/README.md), so that no one hand-edits XML. They live where SpiffWorkflow keeps
// them: <spiffworkflow:properties><spiffworkflow:property name=… value=…/>, the timer's
// timeDuration/timeDate/timeCycle, the script of a script task, a flow's condition, a
// business rule task's calledDecisionId and a task's postScript. A lane's name is its group.
import { h } from "@bpmn-io/properties-panel/preact";
import {
  Group,
  SelectEntry,
  TextAreaEntry,
  TextFieldEntry,
  isSelectEntryEdited,
  isTextAreaEntryEdited,
  isTextFieldEntryEdited,
} from "@bpmn-io/properties-panel";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject, is } from "bpmn-js/lib/util/ModelUtil";

// name → which elements carry it. `options` (a function of the page's files) makes a select.
export const PROPERTIES = [
  { name: "status", on: ["bpmn:FlowNode"], options: (ctx) => ctx.statuses() },
  { name: "formJsonSchemaFilename", on: ["bpmn:UserTask"], options: (ctx) => ctx.forms() },
  { name: "notify", on: ["bpmn:FlowNode"] },
  { name: "escalation_level", on: ["bpmn:FlowNode"] },
  { name: "outcome", on: ["bpmn:EndEvent"] },
  { name: "milestone", on: ["bpmn:FlowNode"] },
  { name: "clock", on: ["bpmn:FlowNode"] },
  { name: "clock_event", on: ["bpmn:FlowNode"] },
  { name: "deadline", on: ["bpmn:BoundaryEvent", "bpmn:IntermediateCatchEvent"] },
  { name: "incident", on: ["bpmn:FlowNode"] },
  { name: "links_to", on: ["bpmn:EndEvent"] },
];
const TIMER_KINDS = ["timeDuration", "timeDate", "timeCycle"];

function extensionOf(bo, type) {
  const values = (bo.extensionElements && bo.extensionElements.values) || [];
  return values.find((value) => is(value, type));
}

function propertyOf(bo, name) {
  const holder = extensionOf(bo, "spiffworkflow:Properties");
  return holder && (holder.properties || []).find((p) => p.name === name);
}

export function laksaProperty(element, name) {
  const property = propertyOf(getBusinessObject(element), name);
  return property ? property.value || "" : "";
}

// Adds, changes or (for an empty value) removes one extension element or property, creating
// the containers it needs; every step is a command, so undo works.
function ensureExtensions(element, bo, bpmnFactory, modeling) {
  let ext = bo.extensionElements;
  if (!ext) {
    ext = bpmnFactory.create("bpmn:ExtensionElements", { values: [] });
    modeling.updateModdleProperties(element, bo, { extensionElements: ext });
  }
  return ext;
}

function setLaksaProperty(element, name, value, { bpmnFactory, modeling }) {
  const bo = getBusinessObject(element);
  const existing = propertyOf(bo, name);
  if (existing) {
    const holder = extensionOf(bo, "spiffworkflow:Properties");
    if (value) {
      modeling.updateModdleProperties(element, existing, { value });
    } else {
      const rest = holder.properties.filter((p) => p !== existing);
      modeling.updateModdleProperties(element, holder, { properties: rest });
    }
    return;
  }
  if (!value) return;
  const ext = ensureExtensions(element, bo, bpmnFactory, modeling);
  let holder = extensionOf(bo, "spiffworkflow:Properties");
  if (!holder) {
    holder = bpmnFactory.create("spiffworkflow:Properties", { properties: [] });
    modeling.updateModdleProperties(element, ext, { values: [...(ext.values || []), holder] });
  }
  const property = bpmnFactory.create("spiffworkflow:Property", { name, value });
  modeling.updateModdleProperties(element, holder, {
    properties: [...(holder.properties || []), property],
  });
}

function setBodyExtension(element, type, value, { bpmnFactory, modeling }) {
  const bo = getBusinessObject(element);
  const existing = extensionOf(bo, type);
  if (existing) {
    if (value) {
      modeling.updateModdleProperties(element, existing, { value });
    } else {
      const ext = bo.extensionElements;
      modeling.updateModdleProperties(element, ext, {
        values: ext.values.filter((v) => v !== existing),
      });
    }
    return;
  }
  if (!value) return;
  const ext = ensureExtensions(element, bo, bpmnFactory, modeling);
  const created = bpmnFactory.create(type, { value });
  modeling.updateModdleProperties(element, ext, { values: [...(ext.values || []), created] });
}

function timerOf(element) {
  const bo = getBusinessObject(element);
  return (bo.eventDefinitions || []).find((d) => is(d, "bpmn:TimerEventDefinition"));
}

export function timerKind(timer) {
  return TIMER_KINDS.find((kind) => timer[kind]) || "timeDuration";
}

function services() {
  return {
    bpmnFactory: useService("bpmnFactory"),
    modeling: useService("modeling"),
    debounce: useService("debounceInput"),
  };
}

function PropertyEntry(props) {
  const { element, id, spec, ctx } = props;
  const s = services();
  const getValue = () => laksaProperty(element, spec.name);
  const setValue = (value) => setLaksaProperty(element, spec.name, (value || "").trim(), s);
  const label = ctx.t("prop." + spec.name, spec.name);
  const description = ctx.t("hint." + spec.name, "");
  if (spec.options) {
    const getOptions = () => {
      const values = spec.options(ctx);
      const current = getValue();
      const all = current && !values.includes(current) ? [...values, current] : values;
      return [{ value: "", label: "—" }, ...all.map((v) => ({ value: v, label: v }))];
    };
    return h(SelectEntry, { element, id, label, description, getValue, setValue, getOptions });
  }
  return h(TextFieldEntry, {
    element,
    id,
    label,
    description,
    getValue,
    setValue,
    debounce: s.debounce,
  });
}

function TimerKindEntry(props) {
  const { element, id, ctx } = props;
  const s = services();
  const timer = timerOf(element);
  const getValue = () => timerKind(timer);
  const setValue = (kind) => {
    const old = timerKind(timer);
    if (kind === old) return;
    const expression = timer[old];
    s.modeling.updateModdleProperties(element, timer, { [old]: undefined, [kind]: expression });
  };
  const getOptions = () =>
    TIMER_KINDS.map((kind) => ({ value: kind, label: ctx.t("timer." + kind, kind) }));
  return h(SelectEntry, {
    element,
    id,
    label: ctx.t("timer.kind", "Timer kind"),
    getValue,
    setValue,
    getOptions,
  });
}

function TimerExpressionEntry(props) {
  const { element, id, ctx } = props;
  const s = services();
  const timer = timerOf(element);
  const getValue = () => {
    const expression = timer[timerKind(timer)];
    return (expression && expression.body) || "";
  };
  const setValue = (value) => {
    const kind = timerKind(timer);
    const expression = timer[kind];
    if (expression) {
      s.modeling.updateModdleProperties(element, expression, { body: value });
    } else {
      const created = s.bpmnFactory.create("bpmn:FormalExpression", { body: value });
      s.modeling.updateModdleProperties(element, timer, { [kind]: created });
    }
  };
  return h(TextFieldEntry, {
    element,
    id,
    label: ctx.t("timer.expression", "Timer expression"),
    description: ctx.t("hint.timer", ""),
    getValue,
    setValue,
    debounce: s.debounce,
  });
}

function ScriptEntry(props) {
  const { element, id, ctx } = props;
  const s = services();
  const bo = getBusinessObject(element);
  return h(TextAreaEntry, {
    element,
    id,
    label: ctx.t("script", "Script"),
    description: ctx.t("hint.script", ""),
    getValue: () => bo.script || "",
    setValue: (value) => s.modeling.updateModdleProperties(element, bo, { script: value }),
    debounce: s.debounce,
    rows: 6,
    monospace: true,
  });
}

function BodyExtensionEntry(props) {
  const { element, id, ctx, type, labelKey } = props;
  const s = services();
  const getValue = () => {
    const found = extensionOf(getBusinessObject(element), type);
    return (found && found.value) || "";
  };
  return h(TextAreaEntry, {
    element,
    id,
    label: ctx.t(labelKey, labelKey),
    description: ctx.t("hint." + labelKey, ""),
    getValue,
    setValue: (value) => setBodyExtension(element, type, value, s),
    debounce: s.debounce,
    rows: type === "spiffworkflow:CalledDecisionId" ? 1 : 5,
    monospace: true,
  });
}

function ConditionEntry(props) {
  const { element, id, ctx } = props;
  const s = services();
  const bo = getBusinessObject(element);
  const getValue = () => (bo.conditionExpression && bo.conditionExpression.body) || "";
  const setValue = (value) => {
    if (!value) {
      s.modeling.updateProperties(element, { conditionExpression: undefined });
    } else if (bo.conditionExpression) {
      s.modeling.updateModdleProperties(element, bo.conditionExpression, { body: value });
    } else {
      const created = s.bpmnFactory.create("bpmn:FormalExpression", { body: value });
      s.modeling.updateProperties(element, { conditionExpression: created });
    }
  };
  return h(TextAreaEntry, {
    element,
    id,
    label: ctx.t("condition", "Condition"),
    description: ctx.t("hint.condition", ""),
    getValue,
    setValue,
    debounce: s.debounce,
    rows: 2,
    monospace: true,
  });
}

function LaneGroupEntry(props) {
  const { element, id, ctx } = props;
  const s = services();
  const bo = getBusinessObject(element);
  return h(TextFieldEntry, {
    element,
    id,
    label: ctx.t("lane.group", "Group"),
    description: ctx.t("hint.lane", ""),
    getValue: () => bo.name || "",
    setValue: (value) => s.modeling.updateLabel(element, value),
    debounce: s.debounce,
  });
}

function isOn(element, types) {
  return types.some((type) => is(element, type));
}

// The entries of the LAKSA group for one element (an empty list hides the group).
export function laksaEntries(element, ctx) {
  const entries = [];
  const bo = getBusinessObject(element);
  if (is(element, "bpmn:Lane")) {
    entries.push({ id: "laksa-lane-group", component: LaneGroupEntry, isEdited: isTextFieldEntryEdited });
  }
  if (timerOf(element)) {
    entries.push(
      { id: "laksa-timer-kind", component: TimerKindEntry, isEdited: isSelectEntryEdited },
      { id: "laksa-timer-expression", component: TimerExpressionEntry, isEdited: isTextFieldEntryEdited },
    );
  }
  if (is(element, "bpmn:ScriptTask")) {
    entries.push({ id: "laksa-script", component: ScriptEntry, isEdited: isTextAreaEntryEdited });
  }
  if (is(element, "bpmn:BusinessRuleTask")) {
    entries.push({
      id: "laksa-decision",
      component: BodyExtensionEntry,
      type: "spiffworkflow:CalledDecisionId",
      labelKey: "decision",
      isEdited: isTextAreaEntryEdited,
    });
  }
  if (is(element, "bpmn:SequenceFlow") && bo.sourceRef && is(bo.sourceRef, "bpmn:Gateway")) {
    entries.push({ id: "laksa-condition", component: ConditionEntry, isEdited: isTextAreaEntryEdited });
  }
  for (const spec of PROPERTIES) {
    if (isOn(element, spec.on)) {
      entries.push({
        id: "laksa-" + spec.name,
        component: PropertyEntry,
        spec,
        isEdited: spec.options ? isSelectEntryEdited : isTextFieldEntryEdited,
      });
    }
  }
  if (is(element, "bpmn:Activity")) {
    entries.push({
      id: "laksa-post-script",
      component: BodyExtensionEntry,
      type: "spiffworkflow:PostScript",
      labelKey: "postScript",
      isEdited: isTextAreaEntryEdited,
    });
  }
  return entries.map((entry) => ({ ...entry, element, ctx }));
}

// Registered after bpmn-js-properties-panel's own provider: adds "LAKSA" second (after
// "General") and drops the generic timer group, whose value the LAKSA group edits with
// LAKSA's own help text.
export default function LaksaPropertiesProvider(propertiesPanel, config) {
  const ctx = config;
  this.getGroups = (element) => (groups) => {
    const kept = groups.filter((group) => group.id !== "timer");
    const entries = laksaEntries(element, ctx);
    if (entries.length) {
      const group = { id: "laksa", label: "LAKSA", component: Group, entries };
      kept.splice(Math.min(1, kept.length), 0, group);
    }
    return kept;
  };
  propertiesPanel.registerProvider(400, this);
}
LaksaPropertiesProvider.$inject = ["propertiesPanel", "config.laksa"];
