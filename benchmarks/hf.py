"""A tiny BERT on a keyword-sentiment task: ``nbtrain.train`` against a hand-written loop and against
``transformers.Trainer`` (issue 20 item 6).

All three train the same model (a 2-layer, 32-wide ``BertForSequenceClassification`` built from a
config, the same initial weights), on the same ``datasets.Dataset`` (token columns only, unpadded),
batched by the same ``DataCollatorWithPadding``, shuffled, batch 32, with ``torch.optim.AdamW``
(lr 1e-3, weight decay 0.01 on all but biases and norms: Trainer's two groups, which it makes by
itself; Trainer: ``optim="adamw_torch"``, a constant rate, no gradient clipping, ``report_to="none"``,
no evaluation or saving during training), no validation split, for
``--epochs`` epochs; trials alternate the three, and trial ``k`` shuffles each with seed ``k`` (the
padding of a batch follows its sentences, so one fixed order for one side would bias its epoch time).

Reported, medians over ``--repeats`` trials: the epoch time (epochs after the first) and the time to
the first batch (from the call to the end of the first step, checks included), each over the
hand-written loop.  The tokenizer is trained on the spot; nothing is downloaded.  ``--threads 1`` by
default: on a shared, oversubscribed machine torch's OpenMP threads spin and a tiny model's step can
take 5x longer with two threads than with one.  ``--own-code``: each side's own Python time per step
under cProfile (nbtrain's package, Trainer's modules and accelerate, the loop's function).

    python benchmarks/hf.py                       # 2,000 sentences, 3 epochs, 5 trials
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "hf"))

import torch  # noqa: E402
from hf_helpers import make_tokenizer, sentiment_dict, tiny_bert  # noqa: E402

BATCH, LR, WD = 32, 1e-3, 0.01
COLUMNS = ["input_ids", "attention_mask", "labels"]


def data(tokenizer, n: int):
    ds = sentiment_dict(tokenizer, n=n, pad=False)["train"].rename_column("label", "labels")
    return ds.select_columns(COLUMNS)


def fresh_model(tokenizer, state):
    model = tiny_bert(tokenizer)
    model.load_state_dict(state)
    return model


def groups(model) -> list:
    """Trainer's two parameter groups: weight decay on all but biases and norms (its own rule), so all
    three run the same AdamW."""
    from transformers import Trainer

    decay = set(Trainer.get_decay_parameter_names(None, model))
    named = list(model.named_parameters())
    return [
        {"params": [p for n, p in named if n in decay], "weight_decay": WD},
        {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0},
    ]


def loop(model, ds, collator, epochs: int, seed: int = 0):
    t0 = time.perf_counter()
    shuffle = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(
        ds.with_format("torch"), batch_size=BATCH, shuffle=True, collate_fn=collator, generator=shuffle
    )
    opt = torch.optim.AdamW(groups(model), lr=LR)
    model.train()
    first, ends = None, []
    for _ in range(epochs):
        for batch in loader:
            loss = model(**batch).loss
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            if first is None:
                first = time.perf_counter() - t0
        ends.append(time.perf_counter())
    return first, [b - a for a, b in zip(ends, ends[1:])]


def with_nbtrain(model, ds, collator, epochs: int, seed: int = 0):
    import nbtrain

    class Clock(nbtrain.Callback):
        first, ends = None, []

        def on_batch_end(self, run, epoch, batch, num_batches, **kw):
            if Clock.first is None:
                Clock.first = time.perf_counter() - t0

        def on_epoch_end(self, run, epoch, logs, **kw):
            Clock.ends.append(time.perf_counter())

    Clock.first, Clock.ends = None, []
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nbtrain.train(
            ds, model=model, optimizer=lambda p: torch.optim.AdamW(groups(model), lr=LR), collate=collator,
            batch_size=BATCH, epochs=epochs, val=0, test=0, callbacks=[Clock()], display="none", seed=seed,
        )  # fmt: skip
    return Clock.first, [b - a for a, b in zip(Clock.ends, Clock.ends[1:])]


def with_trainer(model, ds, collator, epochs: int, seed: int = 0):
    from transformers import Trainer, TrainerCallback, TrainingArguments

    class Clock(TrainerCallback):
        first, ends = None, []

        def on_step_end(self, args, state, control, **kw):
            if Clock.first is None:
                Clock.first = time.perf_counter() - t0

        def on_epoch_end(self, args, state, control, **kw):
            Clock.ends.append(time.perf_counter())

    Clock.first, Clock.ends = None, []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out, per_device_train_batch_size=BATCH, num_train_epochs=epochs, learning_rate=LR,
            weight_decay=WD, optim="adamw_torch", lr_scheduler_type="constant", max_grad_norm=0.0,
            report_to="none", eval_strategy="no", save_strategy="no", logging_strategy="no", disable_tqdm=True,
            use_cpu=True, dataloader_num_workers=0, seed=seed, data_seed=seed,
        )  # fmt: skip
        with contextlib.redirect_stdout(io.StringIO()):  # Trainer prints its final metrics
            Trainer(model=model, args=args, train_dataset=ds, data_collator=collator, callbacks=[Clock()]).train()
    return Clock.first, [b - a for a, b in zip(Clock.ends, Clock.ends[1:])]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steady on a shared machine)")
    parser.add_argument(
        "--own-code", action="store_true", help="also each side's own Python time per step, under cProfile"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from transformers import DataCollatorWithPadding
    from transformers.utils import logging

    logging.set_verbosity_error()
    tokenizer = make_tokenizer()
    ds = data(tokenizer, args.sentences)
    collator = DataCollatorWithPadding(tokenizer)
    torch.manual_seed(0)
    state = {k: v.clone() for k, v in tiny_bert(tokenizer).state_dict().items()}
    sides = {"loop": loop, "nbtrain": with_nbtrain, "trainer": with_trainer}
    first = {k: [] for k in sides}
    epoch = {k: [] for k in sides}
    for trial in range(args.repeats):
        order = list(sides)[trial % 3 :] + list(sides)[: trial % 3]
        for name in order:
            torch.manual_seed(trial)
            f, per_epoch = sides[name](fresh_model(tokenizer, state), ds, collator, args.epochs, seed=trial)
            first[name].append(f)
            epoch[name].append(statistics.median(per_epoch))
    med = {k: (statistics.median(first[k]), statistics.median(epoch[k])) for k in sides}
    result = {
        "rows": len(ds),
        "epochs": args.epochs,
        "repeats": args.repeats,
        "torch_threads": torch.get_num_threads(),
        "epoch_s": {k: round(v[1], 4) for k, v in med.items()},
        "first_batch_s": {k: round(v[0], 4) for k, v in med.items()},
        "epoch_ratio_nbtrain_over_loop": round(med["nbtrain"][1] / med["loop"][1], 3),
        "epoch_ratio_trainer_over_loop": round(med["trainer"][1] / med["loop"][1], 3),
        "epoch_ratio_nbtrain_over_trainer": round(med["nbtrain"][1] / med["trainer"][1], 3),
    }
    if args.own_code:
        steps = args.epochs * -(-len(ds) // BATCH)
        result["own_code_ms_per_step"] = {
            k: round(1000 * statistics.median(own_time(sides[k], k, tokenizer, state, ds, collator, args.epochs)
                                             for _ in range(3)) / steps, 3)
            for k in sides
        }  # fmt: skip
    print(json.dumps(result, indent=2))
    return result


#: where each side's own code lives (the rest is torch, the model, datasets and the collator: shared)
OWN = {
    "loop": ("benchmarks/hf.py",),
    "nbtrain": ("/nbtrain/",),  # the Clock callbacks of this file count for none
    "trainer": ("transformers/trainer", "transformers/training_args", "transformers/integrations", "/accelerate/"),
}


def own_time(side, name, tokenizer, state, ds, collator, epochs) -> float:
    """Seconds spent in the side's own functions (cProfile's tottime; the profiler inflates Python time
    for all three alike): the framework's cost beside the work they share."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    side(fresh_model(tokenizer, state), ds, collator, epochs)
    prof.disable()
    stats = pstats.Stats(prof).stats
    return sum(v[2] for k, v in stats.items() if any(m in k[0] for m in OWN[name]))


if __name__ == "__main__":
    main()
