"""A peft ``PeftModel`` made without a ``task_type`` has ``forward(*args, **kwargs)``: nbtrain reads its
base model's signature instead, so the base model gets ``labels=`` and trains on its own loss, and
columns the base model does not take are left out of the batches."""

import warnings

import numpy as np
import pytest
import torch
from hf_helpers import sentiment_dict, tiny_bert

import nbtrain
from nbtrain.core.batch import accepts, takes_labels

peft = pytest.importorskip("peft", reason="the LoRA tests need peft (pip install 'nbtrain[hf]')")


def _lora(base):
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value"], modules_to_save=["classifier"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return peft.get_peft_model(base, config)


def test_a_peft_model_without_task_type_trains_on_its_base_models_own_loss(tokenizer):
    dd = sentiment_dict(tokenizer, n=200)
    dd = dd.map(lambda b: {"extra": [1.0] * len(b["label"])}, batched=True)  # BERT's forward takes no "extra"
    torch.manual_seed(0)
    model = _lora(tiny_bert(tokenizer))
    assert type(model).__name__ == "PeftModel"  # forward(*args, **kwargs)
    assert takes_labels(model) and accepts(model, "attention_mask")
    seen = []
    model.get_base_model().register_forward_pre_hook(lambda m, a, kw: seen.append(set(kw)), with_kwargs=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = nbtrain.train(dd, model=model, epochs=2, lr=1e-2, display="none")
    assert run.status == "completed" and run.config["loss"] == "model's own"
    assert seen and all("labels" in kw and "extra" not in kw for kw in seen)
    # the history's val_loss is the base model's own loss on the validation split (rows-weighted)
    val = dd["validation"].with_format("torch", columns=["input_ids", "attention_mask", "label"])
    model.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(val), 16):
            b = val[i : i + 16]
            x = {k: b[k] for k in ("input_ids", "attention_mask")}
            total += model.get_base_model()(**x, labels=b["label"]).loss.item() * len(b["label"])
    assert run.history.last["val_loss"] == pytest.approx(total / len(val), rel=1e-4)
    assert np.isfinite(run.history["train_loss"]).all()
