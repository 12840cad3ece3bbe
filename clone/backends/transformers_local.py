"""A local chat model, run with transformers on the CPU, from a folder on disk.

``CLONE_TRANSFORMERS_MODEL`` must be a folder (``save_pretrained`` output, or a model fetched
once with ``hf download ID --local-dir FOLDER``): a hub id is refused, so nothing is ever
downloaded at run time. The prompt goes through the tokenizer's own chat template; generation
runs in a thread and streams through ``TextIteratorStreamer``.

On a Space staged with ``deploy --backend transformers --model ID``, the launcher calls
:func:`download_model` once at start to fetch the model into a folder, then this backend loads that
folder as usual. With ``CLONE_ZERO_GPU=true`` (``--zero-gpu``) the model is put on the GPU and each
reply is generated inside the ``spaces`` package's ``GPU`` decorator, which attaches a ZeroGPU device
for the call; without that package (anywhere but a Space) the decorator is not applied and nothing changes.
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clone.backends.base import AnswerRequest
from clone.backends.chat import guarded, messages
from clone.config import Settings
from clone.errors import ConfigError

SETTING = "CLONE_TRANSFORMERS_MODEL"
#: What :func:`download_model` fetches: config, safetensors weights, tokenizer and chat template files.
MODEL_FILES = ("*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken")
#: Backends built in this process by id, so the ZeroGPU worker (a fork of this process, which gets only
#: picklable arguments) finds its model by a number.
_BACKENDS: weakref.WeakValueDictionary[int, TransformersBackend] = weakref.WeakValueDictionary()


class GenerationFailed(RuntimeError):
    """Generation could not run or stopped with an error (raised to the caller as BackendError)."""


@dataclass
class LocalChatModel:
    """A causal language model and its tokenizer, loaded from one folder."""

    model: Any
    tokenizer: Any


def model_folder(settings: Settings) -> Path:
    """The model folder named by ``CLONE_TRANSFORMERS_MODEL``; anything that is not a folder is refused."""
    value = settings.transformers_model.strip()
    if not value:
        raise ConfigError(
            f"Set {SETTING} to the folder of a local chat model (config.json, weights and a tokenizer with a "
            "chat template), e.g. one saved with `hf download Qwen/Qwen2.5-0.5B-Instruct --local-dir models/qwen`."
        )
    folder = Path(value).expanduser()
    if not folder.is_dir():
        raise ConfigError(
            f"{SETTING}={value!r} is not a folder. The transformers backend loads only local folders and never "
            "downloads: fetch the model once (hf download ID --local-dir FOLDER) and set the folder."
        )
    return folder.resolve()


def download_model(model_id: str, dest: Path, *, token: str | None = None, download=None) -> Path:
    """Fetch the chat model ``model_id`` from the Hub into ``dest/<slug>`` and return that folder.

    Run by a staged Space's launcher at start, never by ``deploy``: the weights go from the Hub to the
    Space. Only config, safetensors weights and tokenizer files are fetched. ``HF_TOKEN`` (a Space secret)
    is used for gated models. ``download`` replaces ``huggingface_hub.snapshot_download`` (tests).
    """
    import httpx

    if download is None:
        from huggingface_hub import snapshot_download as download
    slug = "".join(ch if ch.isalnum() or ch in "-_." else "--" for ch in model_id)
    folder = Path(dest) / slug
    try:
        download(repo_id=model_id, local_dir=str(folder), allow_patterns=list(MODEL_FILES), token=token)
    except (OSError, ValueError, httpx.HTTPError) as exc:  # the Hub's errors (HfHubHTTPError) and the network's
        raise ConfigError(
            f"Could not download the chat model {model_id} from the Hugging Face Hub ({type(exc).__name__}: {exc}). "
            "Check the model id; for a gated model accept its licence and add HF_TOKEN as a Space secret."
        ) from None
    if not list(folder.glob("*.safetensors")) or not (folder / "config.json").is_file():
        raise ConfigError(
            f"{model_id} has no config.json and safetensors weights on the Hub: pick a chat model published as "
            "safetensors (most instruct models are)."
        )
    return folder


def on_gpu(function, settings: Settings):
    """``spaces.GPU(function)`` when ``CLONE_ZERO_GPU`` is true and the ``spaces`` package is installed,
    else ``function`` unchanged (the decorator itself does nothing off ZeroGPU)."""
    if not settings.zero_gpu:
        return function
    try:
        import spaces
    except ImportError:
        return function
    return spaces.GPU(function)


def _device(settings: Settings) -> str:
    """``cuda`` on ZeroGPU (the ``spaces`` package makes it available at start), else ``cpu``."""
    if not settings.zero_gpu:
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def make_client(settings: Settings) -> LocalChatModel:
    """Load the model and tokenizer from the folder in ``settings`` for inference: on the CPU, or on the
    GPU with ``CLONE_ZERO_GPU=true`` where one is available."""
    folder = model_folder(settings)
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError:
        raise ConfigError(
            "The transformers backend needs torch and transformers: pip install -r requirements.txt."
        ) from None
    try:
        device = _device(settings)
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        # float32 on the CPU: bfloat16 matrix products are slow on most CPUs; bfloat16 on the GPU.
        dtype = torch.bfloat16 if device == "cuda" else torch.float32
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=dtype)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{SETTING}={str(folder)!r} holds no chat model transformers can load: {exc}") from None
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(
            f"{SETTING}={str(folder)!r}: the tokenizer has no chat template. Use an instruct/chat model, whose "
            "tokenizer_config.json (or chat_template.jinja) defines one."
        )
    model.to(device).eval()
    return LocalChatModel(model=model, tokenizer=tokenizer)


def context_length(config: Any) -> int | None:
    """The most positions the model can attend to, when its config says."""
    for attribute in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, attribute, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


class TransformersBackend:
    """Replies from a local chat model, generated on the CPU and streamed word by word."""

    name = "transformers"

    def __init__(self, settings: Settings, client: LocalChatModel | None = None):
        self.settings = settings
        self.client = client or make_client(settings)
        # One generation at a time: a CPU gains nothing from two, and fast tokenizers are not
        # safe to use from several threads at once.
        self._busy = threading.Lock()
        _BACKENDS[id(self)] = self
        # Decorated once, at start: ZeroGPU wants its GPU functions known before the app launches.
        self._on_gpu = on_gpu(_generate_on_gpu, settings)

    def prompt_ids(self, request: AnswerRequest) -> Any:
        """The request through the tokenizer's chat template: ``input_ids`` and ``attention_mask``.

        Control tokens inside messages (a passage containing ``<|im_start|>system``) are encoded
        as plain text, so only the template itself can start or end a turn.
        """
        import jinja2

        chat = messages(request)
        try:
            return self._apply_template(chat)
        except jinja2.TemplateError:
            # Some templates (Gemma, older Mistral) reject a system turn: fold it into the first
            # user turn instead, which is what those models are trained to expect.
            system, first, *rest = chat
            folded = {"role": "user", "content": f"{system['content']}\n\n{first['content']}"}
            try:
                return self._apply_template([folded, *rest])
            except (jinja2.TemplateError, ValueError) as exc:
                raise GenerationFailed(f"the model's chat template failed: {exc}") from exc
        except ValueError as exc:
            raise GenerationFailed(f"the model's chat template failed: {exc}") from exc

    def _apply_template(self, chat: list[dict[str, str]]) -> Any:
        return self.client.tokenizer.apply_chat_template(
            chat,
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
            sanitize_control_tokens=True,
        )

    def stream(self, request: AnswerRequest) -> Iterator[str]:
        """Yield the reply as it is generated; failures and stalls become ``BackendError``."""
        yield from guarded(
            lambda: self._pieces(request),
            lambda piece: piece,
            backend=self.name,
            errors=(GenerationFailed, queue.Empty, *_gpu_errors(self._on_gpu)),
        )

    def _pieces(self, request: AnswerRequest) -> Iterator[str]:
        # Through the GPU function (which may run in a ZeroGPU worker process and hands back only what
        # pickles): its failures come back as values and are raised here, as on the CPU.
        pieces = self._on_gpu(id(self), request)
        try:
            for kind, value in pieces:
                if kind == "error":
                    raise GenerationFailed(value)
                yield value
        finally:
            pieces.close()  # stops the generation when the reply is abandoned

    def _generate(self, request: AnswerRequest) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        model, tokenizer = self.client.model, self.client.tokenizer
        timeout = self.settings.backend_timeout
        limit = self.settings.max_new_tokens
        stop = threading.Event()
        failures: list[BaseException] = []

        class _Stop(StoppingCriteria):
            # Ends generation when the fan's reply is abandoned (timeout, closed connection).
            def __call__(self, input_ids, scores, **kwargs):
                return torch.full((input_ids.shape[0],), stop.is_set(), dtype=torch.bool, device=input_ids.device)

        if not self._busy.acquire(timeout=timeout):
            raise GenerationFailed(f"still busy with another reply after {timeout:g} s")
        started = False
        try:  # the lock is released here on any failure before the thread starts, else by the thread
            inputs = self.prompt_ids(request).to(model.device)
            length = int(inputs["input_ids"].shape[-1])
            context = context_length(model.config)
            if context is not None and length + limit > context:
                raise GenerationFailed(
                    f"the prompt ({length} tokens) plus CLONE_MAX_NEW_TOKENS ({limit}) exceeds the model's context "
                    f"of {context} tokens; lower CLONE_TOP_K, CLONE_CHUNK_SIZE or CLONE_MAX_NEW_TOKENS."
                )
            streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=timeout)
            pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

            def run() -> None:
                try:
                    model.generate(
                        **inputs,
                        streamer=streamer,
                        max_new_tokens=limit,
                        do_sample=False,  # greedy: the most likely wording of what the passages say
                        pad_token_id=pad,
                        stopping_criteria=StoppingCriteriaList([_Stop()]),
                    )
                except Exception as exc:  # noqa: BLE001 - not swallowed: handed to the consumer as BackendError
                    failures.append(exc)
                    streamer.end()
                finally:
                    self._busy.release()

            thread = threading.Thread(target=run, name="clone-transformers-generate", daemon=True)
            try:
                thread.start()
            except RuntimeError as exc:
                raise GenerationFailed(f"cannot start a generation thread: {exc}") from exc
            started = True
        finally:
            if not started:
                self._busy.release()
        try:
            yield from streamer
        finally:
            stop.set()
        if failures:
            raise GenerationFailed(f"{type(failures[0]).__name__}: {failures[0]}") from failures[0]


def _generate_on_gpu(backend_id: int, request: AnswerRequest) -> Iterator[tuple[str, str]]:
    """The reply of backend ``backend_id`` as ``("text", piece)`` items, then ``("error", why)`` if it failed.

    The function ``spaces.GPU`` wraps on ZeroGPU: its arguments and items must pickle, and an exception
    would reach the caller as an opaque worker error, so failures are handed back as an item instead.
    """
    try:
        for piece in _BACKENDS[backend_id]._generate(request):
            yield "text", piece
    except GenerationFailed as exc:
        yield "error", str(exc)
    except queue.Empty:
        yield "error", "no new text within CLONE_BACKEND_TIMEOUT"


def _gpu_errors(function) -> tuple[type[BaseException], ...]:
    """What a ZeroGPU-wrapped function may raise besides ours (no GPU quota left, a worker that died):
    gradio's Error, turned into a BackendError like any other failure."""
    if not hasattr(function, "zerogpu"):
        return ()
    import gradio

    return (gradio.Error,)
