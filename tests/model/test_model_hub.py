"""Hub round trip of the BioHuman model against the local Hub server (tests/local_hub.py): ``push_to_hub`` of
model, processor and model card, then ``from_pretrained(repo_id, trust_remote_code=True)`` in a fresh process
with an empty cache in which the ``modeling_biohuman`` package cannot be imported.

huggingface_hub reads ``HF_ENDPOINT`` when it is imported and transformers' ``push_to_hub`` takes no endpoint,
so the push and the load both run in child processes pointed at the server the way a user points them at a
mirror: ``HF_ENDPOINT``, ``HF_HOME`` and the token in the environment.
"""

from __future__ import annotations

import os
import subprocess
import sys

import torch
import yaml
from helpers.local_hub import TOKEN

import modeling_biohuman as mb
from builder.training.model_card import write_model_card

REPO = "lab/biohuman-tiny"

PUSH = """
import sys
from huggingface_hub import HfApi
import modeling_biohuman as mb
folder, repo, token = sys.argv[1:]
mb.BioHumanForMotionAndMuscle.from_pretrained(folder).push_to_hub(repo, token=token, private=True)
mb.BioHumanVideoProcessor.from_pretrained(folder).push_to_hub(repo, token=token)
HfApi().upload_file(path_or_fileobj=f"{folder}/README.md", path_in_repo="README.md", repo_id=repo, token=token)
"""

LOAD = """
import sys
from pathlib import Path
import torch
sys.modules["modeling_biohuman"] = None  # the package cannot be imported: the code must come from the Hub
from huggingface_hub import snapshot_download
from transformers import AutoImageProcessor, AutoModel
repo, inputs, outputs = sys.argv[1:]
torch.set_num_threads(1)  # as in the test process (tiny_biohuman_config): the same reduction order, equal bits
model = AutoModel.from_pretrained(repo, trust_remote_code=True).eval()
processor = AutoImageProcessor.from_pretrained(repo, trust_remote_code=True)
video, boxes = torch.load(inputs)
enc = processor(video, boxes)
with torch.no_grad():
    out = model(pixel_values=enc["pixel_values"], boxes=enc["boxes"], attention_mask=enc["attention_mask"])
snapshot = Path(snapshot_download(repo))
torch.save({"pixel_values": enc["pixel_values"], "pose": out.pose, "muscle_activations": out.muscle_activations,
            "classes": [type(model).__module__, type(processor).__module__],
            "snapshot": {p.relative_to(snapshot).as_posix(): p.read_bytes()
                         for p in snapshot.rglob("*") if p.is_file()}},
           outputs)
"""


def hub_env(hub_url: str, home) -> dict[str, str]:
    """This environment without Hugging Face settings, pointed at ``hub_url`` with an empty ``HF_HOME``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE", "TRANSFORMERS_"))}
    return {**env, "HF_ENDPOINT": hub_url, "HF_HOME": str(home), "HF_TOKEN": TOKEN,
            "HF_HUB_DISABLE_TELEMETRY": "1"}


def run(code: str, *args, env: dict[str, str], cwd) -> None:
    result = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=cwd, env=env, capture_output=True,
                            text=True, check=False, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]


def test_push_to_local_hub_and_load_by_repo_id_with_remote_code(tiny_biohuman_config, local_hub, tmp_path):
    torch.manual_seed(0)
    config = tiny_biohuman_config()
    model = mb.BioHumanForMotionAndMuscle(config).eval()
    processor = mb.BioHumanVideoProcessor(crop_size={"height": 32, "width": 24})
    folder = tmp_path / "trained"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    write_model_card(folder, config, model.num_parameters(), {"pcc": 0.71, "rmse": 0.065}, repo_id=REPO)

    run(PUSH, folder, REPO, TOKEN, env=hub_env(local_hub.url, tmp_path / "push_home"), cwd=tmp_path)
    remote = local_hub.root / "models" / REPO
    uploaded = {p.relative_to(remote).as_posix() for p in remote.rglob("*") if p.is_file()}
    assert {"model.safetensors", "config.json", "preprocessor_config.json", "README.md", "modeling_biohuman.py",
            "configuration_biohuman.py", "image_processing_biohuman.py"} <= uploaded
    assert local_hub.created[0]["visibility"] == "private" and len(local_hub.commits) == 3
    assert "model-index" in local_hub.validated[-1]   # our card went through the Hub's metadata check last
    front_matter = yaml.safe_load((remote / "README.md").read_text().split("---\n", 2)[1])
    results = front_matter["model-index"][0]["results"][0]["metrics"]
    assert {m["type"]: m["value"] for m in results} == {"pcc": 0.71, "rmse": 0.065}

    frames = 6
    video = torch.randint(0, 255, (frames, 40, 30, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    boxes = torch.tensor([[3.0, 4.0, 25.0, 38.0]] * frames)
    torch.save((video, boxes), tmp_path / "inputs.pt")
    home = tmp_path / "load_home"
    run(LOAD, REPO, tmp_path / "inputs.pt", tmp_path / "outputs.pt", env=hub_env(local_hub.url, home), cwd=tmp_path)
    loaded = torch.load(tmp_path / "outputs.pt")
    assert all(name.startswith("transformers_modules.") for name in loaded["classes"]), loaded["classes"]
    assert any(home.rglob("model.safetensors")), "the weights must have come through the Hub cache"
    # transformers probes optional files; the server's 404 EntryNotFound lets the client cache their absence
    assert any(home.rglob(".no_exist/*/processor_config.json"))
    assert loaded["snapshot"] == {name: (remote / name).read_bytes() for name in uploaded}   # snapshot_download

    enc = processor(video, boxes)
    with torch.no_grad():
        expected = model(pixel_values=enc["pixel_values"], boxes=enc["boxes"], attention_mask=enc["attention_mask"])
    assert torch.equal(loaded["pixel_values"], enc["pixel_values"])
    assert torch.equal(loaded["pose"], expected.pose)
    assert torch.equal(loaded["muscle_activations"], expected.muscle_activations)
