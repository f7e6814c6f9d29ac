"""Hub model-card templates (``pretrained.md``, ``finetuned.md``), rendered by ``modeling_randommask.hub.model_card``;
installed as ``modeling_randommask.model_cards``."""
