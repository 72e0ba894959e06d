"""specgen: a declarative language and compiler for efficient convolutional architectures.

    net = specgen.compile("examples/shufflenet_v1.conv", params={"g": 8})
    net.cost.params, net.cost.macs, net.output_shape

The core (parse → elaborate → validate → cost) imports no deep-learning framework.
"""

from .compiler import Network, compile
from .errors import Diagnostic, SpecError

__all__ = ["Diagnostic", "Network", "SpecError", "compile", "__version__"]
__version__ = "0.1.0"
