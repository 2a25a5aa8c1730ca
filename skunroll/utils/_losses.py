"""Losses shared by the estimators' torch modules."""

import torch


def squared_error_loss(prediction, target):
    """Mean over the rows of ``||prediction - target||^2``: every reconstruction loss."""
    return torch.sum((prediction - target) ** 2, dim=1).mean()
