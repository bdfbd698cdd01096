"""Diagnostics: gradient flow through time, Jacobian products, spectra, gate statistics, plots.

Every function measures; nothing here changes a model's weights.
"""
from rnnkit.diagnostics.flow import GradientFlow, gradient_flow, state_gradient_support

__all__ = ["GradientFlow", "gradient_flow", "state_gradient_support"]
