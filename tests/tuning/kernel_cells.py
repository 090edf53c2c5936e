"""Run one cell in a real kernel and collect its iopub messages (the tuning magics' kernel tests)."""

import queue
import time


def run_cell(kc, code, timeout=180) -> list:
    """``[(msg_type, content), ...]`` of the cell's iopub messages, up to its idle status."""
    msg_id = kc.execute(code)
    msgs, end = [], time.monotonic() + timeout
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=max(0.01, end - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"cell timed out; last messages {msgs[-3:]}") from None
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return msgs
        msgs.append((msg["msg_type"], msg["content"]))
