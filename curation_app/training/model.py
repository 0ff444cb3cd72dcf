"""Loading a base model, its tokenizer and an adapter; the LoRA configuration.

``--base-model`` is a local folder or a Hub id (resolved by transformers, so ``HF_HUB_OFFLINE=1``
keeps it to the local cache). 4-bit loading (QLoRA) needs bitsandbytes and a CUDA GPU; bf16 is
used where the GPU supports it unless told otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from curation_app.training.errors import TrainingSetupError


def _torch() -> Any:
    import torch

    return torch


def set_threads() -> None:
    """``CURATION_TRAIN_THREADS`` caps torch's CPU threads (tests run single-threaded)."""
    threads = os.environ.get("CURATION_TRAIN_THREADS")
    if threads:
        _torch().set_num_threads(int(threads))


def has_cuda() -> bool:
    return bool(_torch().cuda.is_available())


def bf16_available() -> bool:
    torch = _torch()
    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def resolve_bf16(choice: bool | None) -> bool:
    if choice is None:
        return bf16_available()
    if choice and not bf16_available():
        raise TrainingSetupError("--bf16 needs a GPU with bfloat16 support; none was found")
    return choice


def load_tokenizer(source: str | Path) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(source))
    except (OSError, ValueError) as exc:
        raise TrainingSetupError(f"cannot load a tokenizer from {source}: {exc}") from exc
    if tokenizer.pad_token is None:
        # Padding positions are masked out of attention and loss, so any token will do.
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base(source: str | Path, *, load_in_4bit: bool = False, bf16: bool = False) -> Any:
    """The causal LM at ``source`` in float32 (bf16 when asked), or 4-bit for QLoRA."""
    from transformers import AutoModelForCausalLM

    torch = _torch()
    kwargs: dict[str, Any] = {"dtype": torch.bfloat16 if bf16 else torch.float32}
    if load_in_4bit:
        if not torch.cuda.is_available():
            raise TrainingSetupError("--load-in-4bit (QLoRA) needs a CUDA GPU; none was found")
        try:
            from transformers import BitsAndBytesConfig
        except ImportError as exc:  # pragma: no cover - transformers always has it
            raise TrainingSetupError("this transformers lacks BitsAndBytesConfig") from exc
        compute = torch.bfloat16 if bf16_available() else torch.float16
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute)
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0"))}
    try:
        return AutoModelForCausalLM.from_pretrained(str(source), **kwargs)
    except (OSError, ValueError, ImportError) as exc:
        raise TrainingSetupError(f"cannot load a causal language model from {source}: "
                                 f"{exc}") from exc


def lora_config(r: int, alpha: int, dropout: float, target_modules: str) -> Any:
    from peft import LoraConfig

    targets: str | list[str] = target_modules
    if target_modules != "all-linear":
        targets = [t.strip() for t in target_modules.split(",") if t.strip()]
    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets,
                      task_type="CAUSAL_LM", bias="none")


def with_adapter(model: Any, adapter: str | Path | None) -> Any:
    """``model`` with the LoRA adapter in ``adapter`` applied (frozen, for inference)."""
    if adapter is None:
        return model
    from peft import PeftModel

    if not (Path(adapter) / "adapter_config.json").is_file():
        raise TrainingSetupError(f"{adapter} holds no adapter (adapter_config.json is missing)")
    return PeftModel.from_pretrained(model, str(adapter), is_trainable=False)


def device_of(model: Any) -> Any:
    return next(model.parameters()).device


def move_for_inference(model: Any) -> Any:
    torch = _torch()
    if torch.cuda.is_available() and device_of(model).type == "cpu":
        model = model.to("cuda")
    model.eval()
    return model
