"""Request bodies of the OpenAI-compatible endpoints, validated by the pipeline's parse
stage (after the API key check, so an anonymous caller learns nothing about the API).

Unknown fields are ignored rather than forwarded: only what is declared here reaches a
model server, so no parameter can make it return output the gateway does not review
(token log-probabilities, tool calls). `synthguard` is the extension field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ModelName = Annotated[str, Field(min_length=1, max_length=200)]
IMAGE_SIZES = ("256x256", "512x512", "1024x1024", "1536x1024", "1024x1536", "1792x1024",
               "1024x1792")


class SynthGuardExtension(BaseModel):
    """Declares a biometric edit (deep-synthesis rules Art. 14): editing a real person's
    face or voice needs that person's separate consent, given as a consent record id."""

    model_config = ConfigDict(extra="forbid")
    biometric_edit: Literal["face", "voice"] | None = None
    consent_id: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class TextPart(BaseModel):
    type: Literal["text"]
    text: Annotated[str, Field(max_length=1_000_000)]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Annotated[str, Field(max_length=1_000_000)] | list[TextPart] | None = None
    name: Annotated[str, Field(max_length=64)] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content)
        return self.content or ""


class StreamOptions(BaseModel):
    include_usage: bool | None = None


class GenerationBody(BaseModel):
    """What every generation request has: a model, reviewable input, the extension."""

    model_config = ConfigDict(extra="ignore")
    model: ModelName
    synthguard: SynthGuardExtension | None = None

    def input_text(self) -> str:
        """The text input review sees; every endpoint's body class overrides this (the
        base is never instantiated on its own)."""
        raise NotImplementedError


class ChatCompletionRequest(GenerationBody):
    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=2048)]
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    max_tokens: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    presence_penalty: Annotated[float, Field(ge=-2, le=2)] | None = None
    frequency_penalty: Annotated[float, Field(ge=-2, le=2)] | None = None
    stop: Annotated[str, Field(max_length=1000)] | Annotated[
        list[Annotated[str, Field(max_length=1000)]], Field(max_length=4)] | None = None
    seed: int | None = None
    n: Annotated[int, Field(ge=1, le=1)] | None = Field(
        None, description="Only 1: each choice would need its own review and record.")
    user: Annotated[str, Field(max_length=256)] | None = None

    def input_text(self) -> str:
        return "\n".join(m.text() for m in self.messages)


class ImageGenerationRequest(GenerationBody):
    prompt: Annotated[str, Field(min_length=1, max_length=32_000)]
    n: Annotated[int, Field(ge=1, le=4)] | None = 1
    size: Literal[IMAGE_SIZES] | None = "1024x1024"  # type: ignore[valid-type]
    response_format: Literal["b64_json", "url"] | None = Field(
        "b64_json", description="`url` gives a data: URL; the gateway keeps no image store.")
    quality: Annotated[str, Field(max_length=32)] | None = None
    style: Annotated[str, Field(max_length=32)] | None = None
    user: Annotated[str, Field(max_length=256)] | None = None

    def input_text(self) -> str:
        return self.prompt


class SpeechRequest(GenerationBody):
    input: Annotated[str, Field(min_length=1, max_length=4096)]
    voice: Annotated[str, Field(min_length=1, max_length=64)]
    instructions: Annotated[str, Field(max_length=4096)] | None = None
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] | None = Field(
        "mp3", description="aac (raw ADTS) and pcm (headerless) cannot carry the implicit "
        "label, so the gateway refuses them.")
    speed: Annotated[float, Field(ge=0.25, le=4.0)] | None = 1.0

    def input_text(self) -> str:
        return f"{self.instructions}\n{self.input}" if self.instructions else self.input


def upstream_payload(request: GenerationBody, upstream_model: str) -> dict[str, Any]:
    """The body a model server gets: declared fields only, our extension removed."""
    payload = request.model_dump(exclude_none=True, exclude={"synthguard", "stream",
                                                             "stream_options"})
    payload["model"] = upstream_model
    return payload
