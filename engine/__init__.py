"""LAKSA's BPMN runtime plugin: runs each complaint ticket as a SpiffWorkflow process instance."""

__version__ = "0.1.0"
