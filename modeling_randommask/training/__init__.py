"""Training: the accelerate pretraining loop and its checkpoints and run log, and Trainer fine-tuning."""
