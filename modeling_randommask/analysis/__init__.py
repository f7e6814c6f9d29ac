"""Analysis: diagnostics of checkpoints, the GUE benchmark runner and the mini reproduction (they drive training)."""
