"""Diagnostics: gradient flow through time, Jacobian products, spectra, gate statistics, plots.

Every function measures; nothing here changes a model's weights.
"""
from rnnkit.diagnostics.alarms import Alarm
from rnnkit.diagnostics.flow import GradientFlow, gradient_flow, state_gradient_support
from rnnkit.diagnostics.gates import GateStats, gate_stats, gate_values
from rnnkit.diagnostics.jacobian import JacobianProducts, jacobian_products, step_jacobians
from rnnkit.diagnostics.monitor import MonitorConfig, TrainingMonitor
from rnnkit.diagnostics.report import Diagnosis, diagnose
from rnnkit.diagnostics.spectral import (PowerRun, Spectrum, eigenvalues, growth_rate, layer_spectra,
                                         power_iteration, spectrum)

__all__ = ["GradientFlow", "gradient_flow", "state_gradient_support",
           "JacobianProducts", "jacobian_products", "step_jacobians",
           "Spectrum", "PowerRun", "eigenvalues", "spectrum", "layer_spectra", "power_iteration", "growth_rate",
           "GateStats", "gate_stats", "gate_values",
           "TrainingMonitor", "MonitorConfig", "Alarm", "Diagnosis", "diagnose"]
