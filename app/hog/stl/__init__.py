"""Hog standard library.

``STL`` maps each native function name to its implementation and arity (``registry.StlFunction``);
``BYTECODE_STL`` holds the higher-order functions implemented in Hog bytecode (``bytecode.py``).
Importing this package registers every area module.
"""

from app.hog.stl import arrays, core, crypto, dates, ip, json_functions, strings  # noqa: F401
from app.hog.stl.bytecode import BYTECODE_STL, PUSH, BytecodeFunction, array_push
from app.hog.stl.registry import STL, StlContext, StlFunction

# Helpers only the bytecode STL chunks may call (see VM CALL_GLOBAL resolution).
PRIVATE_STL: dict[str, StlFunction] = {PUSH: StlFunction(PUSH, array_push, 2, 2)}

__all__ = ["BYTECODE_STL", "PRIVATE_STL", "STL", "BytecodeFunction", "StlContext", "StlFunction"]
