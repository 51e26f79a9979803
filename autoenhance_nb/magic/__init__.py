"""The ``%autoenhance_order`` and ``%autoenhance_login`` magics: the magic class,
its arguments, reading cells, and one module per family of flags."""

from ._cells import MagicError
from ._magics import AutoenhanceMagics, load_ipython_extension, unload_ipython_extension

__all__ = ["AutoenhanceMagics", "MagicError", "load_ipython_extension", "unload_ipython_extension"]
