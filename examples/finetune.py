"""Fine-tune a RandomMask checkpoint on one task folder (GUE layout), over one or more seeds, with the Trainer.

    python examples/finetune.py --model outputs/randommask-tiny --task ../shared/data/gue/prom/prom_core_tata \
        --output_dir outputs/ft-tata --seeds 1 2 3
    python examples/finetune.py ... --tokenization non_overlapping          # the paper's Table 2 switch
    python examples/finetune.py ... --lora_r 8                              # LoRA (pip install 'randommask[peft]')
    python examples/finetune.py ... --bf16 --gradient_accumulation_steps 2 --push_to_hub --hub_model_id me/tata
    accelerate launch examples/finetune.py ...                              # several GPUs: same global batch
    python examples/finetune.py --help                                      # every option, the Trainer's too

Every transformers ``TrainingArguments`` option works; those not given come from the paper's recipe for the task
family (batch = the global batch, learning rate, epochs, weight decay), then from this package's defaults.
"""

from modeling_randommask.cli.finetune import main

if __name__ == "__main__":
    main()
