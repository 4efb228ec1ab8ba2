"""UniRL Studio reward for verl (written by `unirl export --format verl`).

verl loads this file as its custom reward function:

    custom_reward_function.path=unirl_reward.py custom_reward_function.name=compute_score
    # or, with the batch reward manager: reward_model.reward_manager=batch
    #   custom_reward_function.name=compute_score_batch

Each call sends the images with their prompts and ground truths to the app's reward service
(`unirl serve --reward-service`), which scores them with ShapeEval, the learned preference model
and, where people ranked that group in the app, the human rank. Settings come from the environment:

    UNIRL_REWARD_URL    the service, e.g. http://10.0.0.5:5175 (default http://127.0.0.1:5175)
    UNIRL_REWARD_TOKEN  the access token `unirl serve` printed (needed off loopback)
    UNIRL_REWARD_TIMEOUT  seconds per request (default 120)

`solution_str` is the image the rollout drew: a path to a PNG file, a `data:image/png;base64,...` URI,
or base64 PNG bytes. Standard library only.
"""

import base64
import json
import os
import urllib.error
import urllib.request

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _image_base64(solution_str):
    text = solution_str.strip()
    if text.startswith("data:"):
        return text.split(",", 1)[1]
    if os.path.isfile(text):
        with open(text, "rb") as f:
            return base64.b64encode(f.read()).decode("ascii")
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raw = b""
    if raw.startswith(_PNG_SIGNATURE):
        return text
    raise ValueError("unirl_reward: solution_str is neither an image file, a data: URI nor base64 PNG bytes: %r" % text[:80])


def _item(solution_str, ground_truth, extra_info):
    extra_info = extra_info or {}
    return {
        "prompt": extra_info.get("prompt", ""),
        "ground_truth": ground_truth or "",
        "image": _image_base64(solution_str),
    }


def _post(items):
    url = os.environ.get("UNIRL_REWARD_URL", "http://127.0.0.1:5175").rstrip("/") + "/reward/score"
    headers = {"Content-Type": "application/json"}
    token = os.environ.get("UNIRL_REWARD_TOKEN")
    if token:
        headers["Authorization"] = "Bearer " + token
    request = urllib.request.Request(url, data=json.dumps({"items": items}).encode("utf-8"), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=float(os.environ.get("UNIRL_REWARD_TIMEOUT", "120"))) as response:
            return json.loads(response.read().decode("utf-8"))["scores"]
    except urllib.error.HTTPError as err:
        raise RuntimeError("unirl_reward: %s answered %d: %s" % (url, err.code, err.read().decode("utf-8", "replace"))) from None


def _result(score):
    # verl logs every key of a returned dict; "score" is the reward it trains on.
    return {
        "score": score["reward"],
        "shapeeval": score["shapeeval"],
        "preference": score["preference"],
        "human_rank": score["human_rank"],
    }


def compute_score(data_source, solution_str, ground_truth, extra_info=None):
    return _result(_post([_item(solution_str, ground_truth, extra_info)])[0])


def compute_score_batch(data_sources, solution_strs, ground_truths, extra_infos):
    infos = extra_infos if extra_infos is not None else [None] * len(solution_strs)
    items = [_item(s, g, e) for s, g, e in zip(solution_strs, ground_truths, infos)]
    return [_result(score) for score in _post(items)]
