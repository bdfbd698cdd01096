"""A reference for the ridge readouts: the exact solution, by QR rather than normal equations."""
import torch

f64 = torch.float64


def exact_ridge(Z, Y, alpha):
    """The ridge solution with an unpenalised intercept by least squares on centred, stacked rows
    [Z - mean; sqrt(alpha) I] (QR: the condition number of Z, not of its Gram matrix)."""
    m, ym = Z.mean(0), Y.mean(0)
    A = torch.cat([Z - m, alpha ** 0.5 * torch.eye(Z.shape[1], dtype=f64)])
    B = torch.cat([Y - ym, torch.zeros(Z.shape[1], Y.shape[1], dtype=f64)])
    Q, R = torch.linalg.qr(A)
    W = torch.linalg.solve_triangular(R, Q.T @ B, upper=True)
    return W.T, ym - m @ W
