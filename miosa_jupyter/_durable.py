"""Durable runs: a command that runs detached on the computer and is followed across stream execs.

One exec of the API lasts at most 300 s and its stream dies with the connection; a run must not. So
the command runs in its own session on the computer (``setsid``), writing a run directory:

    $MIOSA_RUNS (default ~/.miosa/runs), mode 700, one directory per run:
      cmd       the command, run by the chosen shell as a script file
      started   when it started (Unix seconds)
      pid       the wrapper that waits for it; pgid: the command's process group (what cancel kills)
      out, err  its stdout and stderr, each a file
      reason    "timeout" or "cancelled" when something other than the command ended it
      status    "CODE REASON ENDED" once it has ended (written last, by rename)

The command, and everything it starts, has ``MIOSA_RUN=<id>`` in its environment (its own id, and
how a local computer that keeps runs tells them from its other commands).

and every exec *follows* it: ``tail --pid=WRAPPER -n +LINE -f`` of each file, from the lines the
client already has, then one marker line with the status. Only POSIX tools plus ``setsid`` and GNU
``tail --pid``, so it works with the API as the page documents it; a computer without them gets a
clear message and an attached run. Nothing secret is written (no key, no ticket: the command
and its output only, as the user's own files).

The first exec both starts and follows (the first line as fast as an attached run); when one ends
(the exec's cap, a lost connection) the next one picks up at the exact line, and a line cut mid-way
is completed, not repeated (``Offsets``).
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import shlex
from typing import TYPE_CHECKING

from ._errors import MiosaError

if TYPE_CHECKING:
    from ._client import Miosa

__all__ = ["Follow", "RunInfo", "Status", "list_runs", "list_script", "parse_runs", "valid_run_id"]

RUNS_DIR = '"${MIOSA_RUNS:-$HOME/.miosa/runs}"'
_MAX_QUOTED = 32768  # characters of the command quoted as one shell word; longer: a here-document
KEEP_DAYS = 7  # runs untouched for longer (finished, or lost: no wrapper) are removed as a run ends
KEEP_COUNT = 50  # and all but the newest this many finished runs
_MARK = "\x1emiosa-run "  # starts the follower's marker line (RS: never in ordinary output)
_ID = re.compile(r"r[0-9a-f]{8}\Z")

# The wrapper, in its own session: runs the command in a session of its own (the group cancel and
# the timeout kill), waits, ends what the command left behind, writes the status, then cleans up
# old runs. Arguments: the run directory, the shell, the time limit (0: none), the runs directory,
# the command ("": it is in the cmd file).
_WRAPPER = f"""\
R=$1; B=$4; echo $$ > "$R/pid"
if [ -n "$5" ]; then
  setsid "$2" -c "$5" >> "$R/out" 2>> "$R/err" < /dev/null &
  c=$!; printf '%s\\n' "$5" > "$R/cmd"
else
  setsid "$2" "$R/cmd" >> "$R/out" 2>> "$R/err" < /dev/null &
  c=$!
fi
echo "$c" > "$R/pgid"; date +%s.%N > "$R/started"; t=
if [ "$3" -gt 0 ]; then
  setsid /bin/sh -c 'sleep "$1"; echo timeout > "$2/reason"; kill -TERM -"$3"; sleep 2; kill -KILL -"$3"' \\
    miosa-timer "$3" "$R" "$c" < /dev/null > /dev/null 2>&1 &
  t=$!
fi
wait "$c"; code=$?
[ -n "$t" ] && kill -TERM -"$t" 2> /dev/null
kill -KILL -"$c" 2> /dev/null
reason=$(cat "$R/reason" 2> /dev/null); [ -n "$reason" ] || reason=exit
printf '%s %s %s\\n' "$code" "$reason" "$(date +%s.%N)" > "$R/status.tmp" && mv "$R/status.tmp" "$R/status"
find "$B" -mindepth 1 -maxdepth 1 -type d -name 'r*' -mtime +{KEEP_DAYS} 2> /dev/null | while read -r d; do
  p=$(cat "$d/pid" 2> /dev/null); {{ [ -n "$p" ] && kill -0 "$p" 2> /dev/null; }} || rm -rf "$d"
done
ls -1t "$B"/r*/status 2> /dev/null | tail -n +{KEEP_COUNT + 1} \\
  | while read -r f; do rm -rf "${{f%/status}}"; done
"""


# Whether a pid is a live process: kill -0 also succeeds for a zombie, which a wrapper is until its
# new parent (init, after the exec that started it ended) reaps it; /proc says which, where there is one.
_ALIVE = """\
alive() {
  [ -n "$1" ] && kill -0 "$1" 2> /dev/null || return 1
  st=; read -r st 2> /dev/null < "/proc/$1/stat"
  case "$st" in *") Z "*) return 1 ;; esac
}"""


def valid_run_id(run_id: str) -> bool:
    return bool(_ID.match(run_id))


@dataclasses.dataclass(frozen=True)
class Status:
    """How a durable run ended, as its status file says: ``reason`` is exit, timeout or cancelled."""

    exit_code: int
    reason: str
    ended: float  # Unix seconds


@dataclasses.dataclass
class Offsets:
    """What the client has of one stream: whole lines, and the characters of a line cut mid-way."""

    lines: int = 0
    partial: int = 0
    skip: int = 0  # characters to drop from what comes next: the cut line, resent whole


class Follow:
    """The scripts of one durable run and the reading of what its followers send.

    ``feed(stream, text)`` is called with the output of each exec in order; it returns the text to
    show (a resent line's known part dropped, the marker taken out) and sets ``status`` (or
    ``missing``/``unsupported``) when the marker says how the run ended.
    """

    def __init__(self, run_id: str | None = None) -> None:
        self.run_id = run_id or "r" + secrets.token_hex(4)
        self.nonce = secrets.token_hex(6)
        self.offsets = {"stdout": Offsets(), "stderr": Offsets()}
        self.status: Status | None = None
        self.started: float | None = None
        self.unsupported = ""  # what the computer lacks for a durable run
        self.missing = False  # the run directory is gone (cleaned up, or another computer)
        self.lost = False  # the run has no status and its wrapper is gone (the computer restarted)
        self._marker = _MARK + self.nonce + " "

    # -- scripts ------------------------------------------------------------------------------

    def start_script(self, command: str, shell: str, timeout: int | None) -> str:
        """Check the tools, make the run directory, start the command detached, then follow it.

        Every process here is on the way to the first line: the command reaches the wrapper as an
        argument (a file only when quoting would make it too long), and the wrapper writes what
        the listing needs after the command has started.
        """
        say = f"printf '{_MARK}{self.nonce} %s\\n'"
        quoted = shlex.quote(command)
        if len(quoted) <= _MAX_QUOTED:
            text, keep = quoted, ""
        else:  # many quotes in a long command: a here-document keeps it exact and its size
            end = "MIOSA_END_" + self.nonce
            text, keep = '""', f"cat > \"$R/cmd\" <<'{end}'\n{command}\n{end}\n"
        return f"""\
miss=
command -v setsid > /dev/null 2>&1 || miss=setsid
tail -s 0.02 --pid=$$ -n 0 /dev/null > /dev/null 2>&1 || miss="${{miss:+$miss, }}tail --pid (GNU coreutils)"
if [ -n "$miss" ]; then {say} "unsupported $miss"; exit 0; fi
B={RUNS_DIR}; R="$B/{self.run_id}"
umask 077
[ ! -e "$R" ] && mkdir -p "$R" || {{ {say} "unsupported a new run directory in $B"; exit 0; }}
{keep}: > "$R/out"; : > "$R/err"
MIOSA_RUN={self.run_id} setsid /bin/sh -c {shlex.quote(_WRAPPER)} miosa-run \\
  "$R" {shlex.quote(shell)} {int(timeout or 0)} "$B" {text} < /dev/null > /dev/null 2>&1 &
w=$!
{self._follow_body(wrapper_known=True)}"""

    def follow_script(self) -> str:
        """Follow the run from the lines the client has."""
        say = f"printf '{_MARK}{self.nonce} %s\\n'"
        return f"""\
B={RUNS_DIR}; R="$B/{self.run_id}"
[ -d "$R" ] || {{ {say} missing; exit 0; }}
{self._follow_body()}"""

    def _follow_body(self, *, wrapper_known: bool = False) -> str:
        out, err = self.offsets["stdout"], self.offsets["stderr"]
        say = f"printf '{_MARK}{self.nonce} %s\\n'"
        # The wrapper's pid: just started (setsid from a child that is no group leader doesn't
        # fork, so $! is it), or as it wrote it.
        find = "" if wrapper_known else 'w=$(cat "$R/pid" 2> /dev/null); [ -n "$w" ] || w=$$\n'
        return f"""\
{find}tail -s 0.02 --pid="$w" -n +{out.lines + 1} -f "$R/out" & a=$!
tail -s 0.02 --pid="$w" -n +{err.lines + 1} -f "$R/err" >&2 & b=$!
wait $a; wait $b
s=; st=; read -r s 2> /dev/null < "$R/started"; read -r st 2> /dev/null < "$R/status"
{say} "started $s status $st"
"""

    def cancel_script(self, grace: float = 2.0) -> str:
        """Kill the run's process group: SIGTERM now, SIGKILL after ``grace`` (from a session of
        its own, so it outlives this exec)."""
        return f"""\
R={RUNS_DIR}/{self.run_id}
[ -e "$R/status" ] && exit 0
c=$(cat "$R/pgid" 2> /dev/null) || exit 3
echo cancelled > "$R/reason"
kill -TERM -"$c" 2> /dev/null
setsid /bin/sh -c 'sleep "$1"; kill -KILL -"$2" 2> /dev/null' miosa-kill {grace:g} "$c" \\
  < /dev/null > /dev/null 2>&1 &
exit 0
"""

    def count_script(self) -> str:
        """Print the lines of stdout and stderr so far (``--tail N`` starts N lines from the end)."""
        return f'R={RUNS_DIR}/{self.run_id}; [ -d "$R" ] || exit 3; wc -l < "$R/out"; wc -l < "$R/err"'

    def start_from_end(self, counts: tuple[int, int], tail: int) -> None:
        """Follow only the last ``tail`` lines of each stream (what ``count_script`` printed)."""
        for name, count in zip(("stdout", "stderr"), counts, strict=True):
            self.offsets[name] = Offsets(max(0, count - tail))

    # -- reading ------------------------------------------------------------------------------

    def feed(self, stream: str, text: str) -> str:
        """Account for ``text`` of ``stream``; return what to show of it."""
        o = self.offsets.get(stream)
        if o is None:
            return text
        if o.skip:
            n = min(o.skip, len(text))
            o.skip -= n
            text = text[n:]
        if stream == "stdout" and "\x1e" in text:
            text = self._take_marker(text)
        if not text:
            return text
        newlines = text.count("\n")
        if newlines:
            o.lines += newlines
            o.partial = len(text) - text.rfind("\n") - 1
        else:
            o.partial += len(text)
        return text

    def resumed(self) -> None:
        """A new follower starts: each stream's cut line comes again whole; drop its known part."""
        for o in self.offsets.values():
            o.skip = o.partial

    def _take_marker(self, text: str) -> str:
        at = text.rfind(self._marker)
        if at < 0:
            return text
        line, _, rest = text[at + len(self._marker) :].partition("\n")
        self._read_marker(line.split())
        return text[:at] + rest

    def _read_marker(self, words: list[str]) -> None:
        if not words:
            return
        kind = words[0]
        if kind == "unsupported":
            self.unsupported = " ".join(words[1:])
        elif kind == "missing":
            self.missing = True
        elif kind == "started":
            # started S status CODE REASON ENDED (or nothing after "status": the run was lost)
            if len(words) > 1:
                self.started = _seconds(words[1])
            rest = words[words.index("status") + 1 :] if "status" in words else []
            ended = _seconds(rest[2]) if len(rest) == 3 else None
            if ended is not None and rest[0].lstrip("-").isdigit():
                self.status = Status(int(rest[0]), rest[1], ended)
            else:
                self.lost = True


# -- listing ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """One durable run on a computer, as ``%miosa runs`` lists it."""

    id: str
    command: str  # its first line
    status: str  # running, success, failure, timeout, cancelled, lost
    started: float | None  # Unix seconds
    ended: float | None
    exit_code: int | None

    @property
    def duration(self) -> float | None:
        """Seconds it ran (None while it runs, or when the computer's clock gave no time)."""
        if self.started is None or self.ended is None:
            return None
        return max(0, self.ended - self.started)


def list_script() -> str:
    """One tab-separated line per run: id, started, status line (or running / lost), command."""
    return f"""\
B={RUNS_DIR}
{_ALIVE}
for d in "$B"/r*/; do
  [ -d "$d" ] || continue
  st=$(cat "$d/status" 2> /dev/null)
  if [ -z "$st" ]; then
    w=$(cat "$d/pid" 2> /dev/null)
    if alive "$w"; then st=running; else st=lost; fi
  fi
  printf '%s\\t%s\\t%s\\t' "$(basename "$d")" "$(cat "$d/started" 2> /dev/null)" "$st"
  head -c 300 "$d/cmd" 2> /dev/null | tr '\\n\\t' '\\036 ' | cut -c 1-200
done
"""


def parse_runs(text: str) -> list[RunInfo]:
    """The runs ``list_script`` printed, newest first."""
    runs = []
    for row in text.splitlines():
        parts = row.split("\t", 3)
        if len(parts) != 4 or not valid_run_id(parts[0]):
            continue
        run_id, started, state, command = parts
        words = state.split()
        code: int | None = None
        ended: float | None = None
        if len(words) == 3 and words[0].lstrip("-").isdigit():
            code, reason, ended = int(words[0]), words[1], _seconds(words[2])
            status = {"timeout": "timeout", "cancelled": "cancelled"}.get(
                reason, "success" if code == 0 else "failure"
            )
        else:
            status = words[0] if words else "lost"
        first = command.strip("\x1e ").split("\x1e")[0]
        runs.append(RunInfo(run_id, first, status, _seconds(started), ended, code))
    runs.sort(key=lambda r: r.started or 0, reverse=True)
    return runs


def _seconds(word: str) -> float | None:
    """A time as ``date +%s.%N`` wrote it (``%N`` stays literal where date has no nanoseconds)."""
    whole, _, frac = word.partition(".")
    if not whole.isdigit():
        return None
    return int(whole) + (float("0." + frac) if frac.isdigit() else 0.0)


def list_runs(client: Miosa, computer_id: str, *, timeout: int = 10) -> list[RunInfo]:
    """The durable runs on a computer, newest first (one ``/exec`` of ``list_script``)."""
    answer = client.exec.run(computer_id, command=list_script(), timeout=timeout, shell="/bin/sh")
    if answer.exit_code != 0:
        raise MiosaError(
            f"Could not list the runs on {computer_id}: exit {answer.exit_code}: "
            f"{(answer.stderr or answer.stdout).strip()[:200]}"
        )
    return parse_runs(answer.stdout)
