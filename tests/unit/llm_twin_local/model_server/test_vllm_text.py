"""Stop strings as vLLM treats them (`include_stop_str_in_output` false): cut from the output, and
held back while streaming, `max(len(stop)) - 1` characters (`output_text_buffer_length`)."""

from __future__ import annotations

from llm_twin_local.model_server.vllm_text import StopText


def test_without_stop_strings_nothing_is_held_back() -> None:
    text = StopText(())
    text.feed("Hello")
    assert text.take(finished=False) == "Hello"


def test_a_stop_string_never_reaches_the_client_half_written() -> None:
    text = StopText(("END",))
    sent = []
    for piece in ["The ", "cloud E", "N"]:
        text.feed(piece)
        sent.append(text.take(finished=False))
    text.feed("D and more")  # the token that completes the stop string ends the generation
    text.finish(stopped_by_string=True)
    sent.append(text.take(finished=True))
    assert "".join(sent) == "The cloud "
    assert all("E" not in piece for piece in sent)
    assert text.stop_reason == "END"


def test_the_first_stop_string_in_the_list_that_occurs_wins() -> None:
    text = StopText(("b", "a"))
    text.feed("xaxb")
    text.finish(stopped_by_string=True)
    assert (text.text, text.stop_reason) == ("xax", "b")


def test_an_end_by_length_keeps_the_held_back_text() -> None:
    text = StopText(("STOP",))
    text.feed("abc ST")
    assert text.take(finished=False) == "abc"  # " ST" may be the start of "STOP"
    text.finish(stopped_by_string=False)
    assert text.take(finished=True) == " ST" and text.stop_reason is None
