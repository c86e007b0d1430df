"""The run's pulse: a command that goes quiet is said to be quiet (the view learns since when), and
one whose last line looks like a prompt gets a hint that there is no stdin to answer it."""

from __future__ import annotations

import time
from typing import Any

from miosa_jupyter import Miosa
from miosa_jupyter._runner import PROMPT_AFTER, Run
from miosa_jupyter._view import Delta, Snapshot


class Pulses:
    def __init__(self) -> None:
        self.pulses: list[float | None] = []
        self.notes: list[str] = []
        self.texts: list[str] = []
        self.seen_at_pulse: list[str] = []  # what had arrived when each pulse came

    def begin(self, run: Any) -> None:
        pass

    def ready(self) -> bool:
        return True

    def update(self, delta: Delta) -> None:
        self.texts += [text for _, text in delta.texts]

    def note(self, words: str) -> None:
        self.notes.append(words)

    def pulse(self, quiet_since: float | None) -> None:
        self.pulses.append(quiet_since)
        self.seen_at_pulse.append("".join(self.texts))

    def end(self, final: Snapshot) -> None:
        pass


def test_a_prompt_that_waits_gets_a_hint_and_the_pulse_resumes_after(client: Miosa) -> None:
    view = Pulses()
    started = time.time()
    command = (
        f"echo start; printf 'Do you want to continue? [Y/n] '; sleep {PROMPT_AFTER + 1.5}; echo; echo done"
    )
    result = Run(client, "local", command, view=view).start().wait()
    assert result is not None and result.ok
    quiet = [p for p in view.pulses if p is not None]
    assert quiet and started <= quiet[0] <= started + 1.0  # quiet since the prompt, about
    assert None in view.pulses[view.pulses.index(quiet[0]) :]  # and not quiet once it printed again
    hints = [n for n in view.notes if n.startswith("waiting for input?")]
    assert hints == [
        "waiting for input? (Do you want to continue? [Y/n]) The command has no stdin here: answer ahead "
        "(`-y`, `yes |`, `DEBIAN_FRONTEND=noninteractive`), or Stop it"
    ]
    assert view.notes[-1] == "on local"  # the hint went when the output came


def test_a_quiet_command_is_quiet_but_no_prompt(client: Miosa) -> None:
    view = Pulses()
    result = (
        Run(client, "local", f"printf 'working'; sleep {PROMPT_AFTER + 1}; echo; echo done", view=view)
        .start()
        .wait()
    )
    assert result is not None and result.ok
    assert any(p is not None for p in view.pulses)
    assert not [n for n in view.notes if n.startswith("waiting for input?")]


def test_output_that_keeps_coming_never_goes_quiet(client: Miosa) -> None:
    view = Pulses()
    Run(
        client, "local", "for i in $(seq 1 40); do echo $i; sleep 0.02; done; sleep 0.5", view=view
    ).start().wait()
    quiet_at = [seen for p, seen in zip(view.pulses, view.seen_at_pulse, strict=True) if p is not None]
    assert quiet_at, "the half second after the last line is quiet"
    assert all(seen.endswith("40\n") for seen in quiet_at), "quiet while lines still came every 20 ms"
