"""Services written apart from drillbook and its stand-in, to drill through `[stack.app]`."""
