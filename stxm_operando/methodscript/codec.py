"""MethodSCRIPT's wire format (PalmSens MethodSCRIPT manual v1.6+, chapters 4, 5 and
appendix A): numeric literals in scripts, data packages in replies, and error codes.

A package line is ``P`` and ``;``-separated variables. Each variable is its 2-character type
(``ab`` WE potential, ``ba`` WE current, ``eb`` time, ...), a value of 7 hexadecimal digits
offset by 2^27 with an SI prefix character (``     nan`` for NaN), then optional metadata
after commas: ``1`` + a hex status mask, ``2`` + the hex range index (0x80 set: high speed).

Examples
--------
>>> potential, current = parse_package("Pda7F85F3Fu;ba48D503Dp,10,288")
>>> round(potential.value, 4), round(current.value * 1e6, 2), current.current_range, current.flags
(-0.4999, -57.85, 136, [])
>>> format_literal(-0.5), format_literal(2.5e-6), format_literal(3600)
('-500m', '2500n', '3600')
"""

import math
from dataclasses import dataclass

OFFSET = 1 << 27
SI_PREFIXES = {
    "a": 1e-18,
    "f": 1e-15,
    "p": 1e-12,
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    " ": 1.0,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "i": 1.0,  # an integer
}
VAR_TYPES = {  # type -> (quantity, unit), manual appendix C (the ones this suite uses)
    "aa": ("unknown", ""),
    "ab": ("WE vs RE potential", "V"),
    "ba": ("WE current", "A"),
    "da": ("applied potential", "V"),
    "db": ("applied current", "A"),
    "eb": ("time", "s"),
    "ja": ("miscellaneous generic 1", ""),
    "jb": ("miscellaneous generic 2", ""),
}
STATUS_FLAGS = {0x1: "timing error", 0x2: "overload", 0x4: "underload", 0x8: "overload warning"}
ERROR_CODES = {  # manual appendix A (those a step script or the protocol can meet)
    0x0001: "an unspecified error occurred",
    0x0002: "an invalid VarType was used",
    0x0003: "the command is not recognised",
    0x0006: "invalid communication mode (no script is running)",
    0x0007: "an argument has an unexpected value",
    0x000C: "cannot run a script without loading one first",
    0x000F: "the given potential is not valid",
    0x0010: "a variable became NaN or inf",
    0x0014: "cannot measure OCP with the cell on",
    0x0032: "critical cell overload, measurement aborted to prevent damage",
    0x4001: "the script command is unknown",
    0x4004: "an unexpected character was encountered",
    0x4007: "a command has a wrong number of arguments",
    0x400B: "measurement loops cannot be nested",
    0x4018: "the script ended unexpectedly",
    0x401B: "the pck sequence is called wrongly",
    0x4026: "the variable already exists",
    0x4027: "this command needs the cell on (cell_on)",
    0x4028: "this command needs the cell off (cell_off)",
    0x4039: "the literal argument is not correctly formed",
    0x4204: "the argument must be positive",
    0x4205: "the argument is outside the allowed bounds",
    0x420B: "the argument variable is not declared",
}


class MethodScriptError(OSError):
    """An instrument's ``!XXXX`` error, a malformed reply or a lost line, naming what was
    sent (``command``) and the code (``code``, None when the instrument gave none)."""

    def __init__(self, message: str, *, command: str = "", code: int | None = None) -> None:
        self.command, self.code = command, code
        detail = (
            f"0x{code:04X} {ERROR_CODES.get(code, 'see the manual, appendix A')}" if code else ""
        )
        where = f" (after {command!r})" if command else ""
        super().__init__(f"{message}{where}" + (f": {detail}" if detail else ""))

    def __str__(self) -> str:
        return self.args[0]


def error_code(reply: str) -> int | None:
    """The code of an error reply (``e!4001: Line 3, Col 1``, ``!0032: Line 9``), or None."""
    mark = reply.find("!")
    if mark < 0 or len(reply) < mark + 5:
        return None
    try:
        return int(reply[mark + 1 : mark + 5], 16)
    except ValueError:
        return None


def encode_value(value: float, integer: bool = False) -> str:
    """A package value: 7 hex digits offset by 2^27 and the SI prefix keeping the most
    digits (``     nan`` for NaN; integers take the ``i`` prefix)."""
    if integer:
        return f"{int(value) + OFFSET:07X}i"
    if not math.isfinite(value):
        return "     nan"
    for prefix in "afpnum kMG":
        raw = round(value / SI_PREFIXES[prefix])
        if abs(raw) < OFFSET:
            return f"{raw + OFFSET:07X}{prefix}"
    raise ValueError(f"{value!r} is too large for a MethodSCRIPT package")


def decode_value(text: str) -> float:
    """The value of an 8-character package value (``7F85F3Fu`` -> -0.4999 ...)."""
    if text == "     nan":
        return math.nan
    if len(text) != 8 or text[7] not in SI_PREFIXES:
        raise MethodScriptError(f"malformed package value {text!r}")
    try:
        return (int(text[:7], 16) - OFFSET) * SI_PREFIXES[text[7]]
    except ValueError:
        raise MethodScriptError(f"malformed package value {text!r}") from None


@dataclass(frozen=True)
class PackageValue:
    """One variable of a data package: its type, value (SI units) and metadata."""

    var_type: str
    value: float
    status: int = 0
    current_range: int | None = None

    @property
    def quantity(self) -> str:
        return VAR_TYPES.get(self.var_type, ("unknown", ""))[0]

    @property
    def flags(self) -> list[str]:
        """The status bits set (``overload``, ``underload``, ...)."""
        return [name for bit, name in STATUS_FLAGS.items() if self.status & bit]


def parse_package(line: str) -> list[PackageValue]:
    """The variables of a ``P...`` data package line (MethodScriptError if malformed)."""
    if not line.startswith("P"):
        raise MethodScriptError(f"not a data package: {line!r}")
    values = []
    for part in line[1:].split(";"):
        head, *metadata = part.split(",")
        if len(head) != 10:
            raise MethodScriptError(f"malformed variable {part!r} in {line!r}")
        status, current_range = 0, None
        for item in metadata:
            try:
                if item[:1] == "1" and len(item) == 2:
                    status = int(item[1], 16)
                elif item[:1] == "2" and len(item) == 3:
                    current_range = int(item[1:], 16)
            except ValueError:
                raise MethodScriptError(f"malformed metadata {item!r} in {line!r}") from None
        values.append(PackageValue(head[:2], decode_value(head[2:]), status, current_range))
    return values


def format_package(values: list[PackageValue]) -> str:
    """A package line for ``values`` (the simulator's side of ``parse_package``)."""
    parts = []
    for v in values:
        text = f"{v.var_type}{encode_value(v.value)}"
        if v.current_range is not None:
            text += f",1{v.status:X},2{v.current_range:02X}"
        parts.append(text)
    return "P" + ";".join(parts)


_LITERAL_PREFIXES = ("", "m", "u", "n", "p", "f")


def format_literal(value: float) -> str:
    """A script literal: an integer with the largest SI prefix that keeps ``value`` exact to
    1 ppm (``-500m``, ``2500n``); ValueError for NaN or inf."""
    if not math.isfinite(value):
        raise ValueError(f"{value!r} cannot be written into a script")
    if value == 0:
        return "0"
    for prefix in _LITERAL_PREFIXES:
        mantissa = value / SI_PREFIXES[prefix or " "]
        if round(mantissa) and abs(mantissa - round(mantissa)) <= 1e-6 * abs(mantissa):
            return f"{round(mantissa)}{prefix}"
    return f"{round(value / 1e-15)}f"


def parse_literal(token: str) -> float:
    """The value of a script literal (``-500m``, ``3600``, ``0x1F``, ``5i``)."""
    body, prefix = (token[:-1], token[-1]) if token[-1:] in SI_PREFIXES else (token, " ")
    try:
        if body.lower().startswith(("0x", "-0x")):
            return float(int(body, 16))
        if body.lower().startswith("0b"):
            return float(int(body, 2))
        return float(int(body)) * SI_PREFIXES[prefix]
    except ValueError:
        raise MethodScriptError(f"malformed literal {token!r}", code=0x4039) from None
