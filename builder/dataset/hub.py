"""Publish a built dataset folder: to a Hugging Face Hub dataset repo, or to a local folder.

Hub uploads use ``huggingface_hub``: ``create_repo`` (exists_ok) then its resumable large-folder
upload (``upload_large_folder`` where the installed version has it; from huggingface_hub 1.x
``upload_folder`` is that resumable, multi-commit pipeline). The token comes from the usual
places (``HF_TOKEN``, ``hf auth login``) unless given. The folder is verified against its
manifest first, and the resumable window cache is never uploaded.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from biohuman10m.layout import CACHE_DIR, HUB_CACHE_DIR

from .manifest import verify

logger = logging.getLogger(__name__)

IGNORE_PATTERNS = [f"{CACHE_DIR}/**", f"{HUB_CACHE_DIR}/**", "**/.*.tmp*"]


def push_to_hub(folder: Path, repo_id: str, token: str | None = None, private: bool | None = None,
                endpoint: str | None = None, revision: str | None = None) -> str:
    """Upload ``folder`` to the dataset repo ``repo_id``; returns the commit URL."""
    from huggingface_hub import HfApi

    folder = Path(folder)
    verify(folder)
    api = HfApi(endpoint=endpoint, token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    upload = getattr(api, "upload_large_folder", None)
    if upload is not None:  # huggingface_hub < 1.0
        upload(repo_id=repo_id, folder_path=folder, repo_type="dataset", revision=revision,
               ignore_patterns=IGNORE_PATTERNS)
        return f"{api.endpoint}/datasets/{repo_id}"
    info = api.upload_folder(repo_id=repo_id, folder_path=folder, repo_type="dataset", revision=revision,
                             ignore_patterns=IGNORE_PATTERNS, commit_message="Upload BioHuman10M")
    logger.info("uploaded %s to %s", folder, info.commit_url)
    return info.commit_url


def copy_to_folder(folder: Path, target: Path) -> Path:
    """Publish ``folder`` to a local path (a mounted share, another disk): copy, then verify the copy."""
    folder, target = Path(folder), Path(target)
    verify(folder)
    shutil.copytree(folder, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(CACHE_DIR, HUB_CACHE_DIR, ".*.tmp*"))
    verify(target)
    return target


def publish(folder: Path, target: str, **hub_options) -> str:
    """Push to ``target``: a local path (absolute, ``./...`` or ``file://...``) or a Hub repo id."""
    if target.startswith("file://"):
        return str(copy_to_folder(folder, Path(target.removeprefix("file://"))))
    if target.startswith(("/", "./", "../", "~")):
        return str(copy_to_folder(folder, Path(target).expanduser()))
    return push_to_hub(folder, target, **hub_options)
