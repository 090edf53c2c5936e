"""Causal language models (issue 20 item 2): a tiny GPT-2 trains on its own loss with
DataCollatorForLanguageModeling(mlm=False); perplexity in the history and run.evaluate is exp of the
mean token loss over the labelled tokens of the whole split, checked against the model's logits and
torch's cross_entropy computed here, one unpadded sentence at a time."""

import math
import warnings

import pytest
import torch
from hf_helpers import lm_dict, tiny_gpt2

import nbtrain
from nbtrain.core import lm
from nbtrain.core.errors import ConfigError


def _perplexity(model, ds):
    """exp(mean token loss) over every labelled token of ``ds``: each sentence alone (no padding), the
    logits at t scored against the token at t+1, summed over the split, divided by the token count."""
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for row in ds:
            ids = torch.tensor([i for i, m in zip(row["input_ids"], row["attention_mask"]) if m])[None]
            logits = model(input_ids=ids).logits
            total += torch.nn.functional.cross_entropy(logits[0, :-1], ids[0, 1:], reduction="sum").item()
            count += ids.shape[1] - 1
    return math.exp(total / count)


@pytest.fixture(scope="module")
def collated(tokenizer):
    from transformers import DataCollatorForLanguageModeling

    dd = lm_dict(tokenizer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = nbtrain.train(
            dd, model=tiny_gpt2(tokenizer), epochs=3, lr=3e-3, batch_size=16, display="none", name="lm",
            collate=DataCollatorForLanguageModeling(tokenizer, mlm=False),
        )  # fmt: skip
    return run, dd


def test_a_gpt2_trains_on_its_own_loss_and_its_perplexity_is_the_token_weighted_one(collated):
    run, dd = collated
    assert run.status == "completed" and run.config["loss"] == "model's own" and run.config["lm"]
    assert run.config["metrics"] == ["perplexity"]
    h = run.history
    assert h["val_perplexity"][-1] < h["val_perplexity"][0]  # it learns
    # the last epoch's validation (the weights the model ends with), against the independent computation
    assert h["val_perplexity"][-1] == pytest.approx(_perplexity(run.model, dd["validation"]), rel=1e-4)
    assert h["val_perplexity"][-1] == pytest.approx(math.exp(h["val_loss"][-1]), rel=1e-9)
    values = run.evaluate("test")
    assert list(values) == ["perplexity"]
    assert values["perplexity"] == pytest.approx(_perplexity(run.model, dd["test"]), rel=1e-4)
    both = run.evaluate("test", metrics="perplexity,loss")
    assert both["loss"] == pytest.approx(math.log(values["perplexity"]), rel=1e-9)


def test_the_mean_is_over_tokens_not_over_batches(collated, monkeypatch):
    run, dd = collated
    # a few sentences per chunk: chunks of different token counts, whose mean of means would differ
    monkeypatch.setattr(lm, "MAX_LOGITS", 3 * 12 * run.model.config.vocab_size)
    got = run.evaluate("test")["perplexity"]
    assert got == pytest.approx(_perplexity(run.model, dd["test"]), rel=1e-4)


def test_equal_length_blocks_need_no_collator(tokenizer):
    dd = lm_dict(tokenizer, n=200, pad=True)  # padded to 12: labels are the ids, -100 on the padding
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = nbtrain.train(dd, model=tiny_gpt2(tokenizer), epochs=2, lr=3e-3, display="none")
    assert run.evaluate()["perplexity"] == pytest.approx(_perplexity(run.model, dd["test"]), rel=1e-4)


def test_accuracy_is_not_offered_and_predict_says_what_to_use(collated, tokenizer):
    run, dd = collated
    before = list(nbtrain.runs)
    with pytest.raises(ConfigError, match="does not fit a causal language model"):
        nbtrain.train(lm_dict(tokenizer, n=60, pad=True), model=tiny_gpt2(tokenizer), metrics="accuracy", epochs=1)
    assert list(nbtrain.runs) == before
    with pytest.raises(ConfigError, match="does not fit a causal language model"):
        run.evaluate(metrics="accuracy")
    with pytest.raises(ConfigError, match="causal language model"):
        run.predictions("test")
    with pytest.raises(ConfigError, match="causal language model"):
        run.predict(torch.zeros(2, 5, dtype=torch.long))


def test_the_metric_table_and_evaluate_show_perplexity(collated):
    from nbtrain.display.evaluation import evaluate
    from nbtrain.display.table import MetricTable

    run, _ = collated
    table = repr(MetricTable.from_run(run))
    assert "val_perplexity" in table.splitlines()[1]
    res = evaluate(run)
    assert "perplexity" in repr(res.table) and res.classes is None
    with pytest.raises(ConfigError, match="causal language model"):
        evaluate(run, plot="confusion")


def test_an_lm_run_saves_and_loads(collated, tmp_path):
    run, _ = collated
    back = nbtrain.load(run.save(tmp_path / "lm.nbtrain"))
    ids = torch.tensor([[2, 5, 7, 9]])
    with torch.no_grad():
        assert torch.allclose(back.model.eval()(input_ids=ids).logits, run.model.eval()(input_ids=ids).logits)
