"""Adam and plain SGD, one call of torch's multi-tensor kernels a step."""

import torch

OPTIMIZERS = ("sgd", "adam")
# torch's Adam defaults; the estimators use no momentum for SGD, no weight decay.
_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8
# Devices whose fused optimiser kernels accept every floating dtype.
_FUSED_DEVICES = ("cpu", "cuda")


class Optimizer:
    """torch's ``Adam`` or ``SGD`` (their defaults), its kernels called directly.

    The update is ``torch.optim``'s with ``fused=True`` (bit for bit) on the
    devices that have fused kernels, and its ``foreach`` form elsewhere; the
    state has ``torch.optim``'s layout, so a state it saved (an estimator
    pickled by an earlier version) loads. Left out is the Python around the
    kernel: ``torch.optim``'s ``step`` walks parameter groups, state checks and
    compiler guards on every call, longer than a small network's kernel takes,
    and its first call in a process imports ``torch._dynamo``, which takes
    seconds.

    Parameters
    ----------
    name : {"sgd", "adam"}
        The update.
    parameters : iterable of Tensor
        On one device, of one floating dtype (as a module's are).
    learning_rate : float
        The step; the schedule changes ``param_groups[0]["lr"]``.
    """

    def __init__(self, name, parameters, learning_rate):
        if name not in OPTIMIZERS:
            raise ValueError(f"optimizer={name!r} is not one of {list(OPTIMIZERS)}.")
        self.name = name
        self.params = list(parameters)
        if len({(p.device, p.dtype) for p in self.params}) > 1:
            raise ValueError("All parameters must share one device and one dtype.")
        self.fused = all(p.device.type in _FUSED_DEVICES and p.is_floating_point()
                         for p in self.params)
        self.param_groups = [{"lr": learning_rate, "params": list(range(len(self.params)))}]
        self.state = {}

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self):
        # As torch.optim: parameters without a gradient this step are left alone.
        active = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not active:
            return
        params = [self.params[i] for i in active]
        grads = [p.grad for p in params]
        lr = self.param_groups[0]["lr"]
        if self.name == "sgd":
            if self.fused:
                torch._fused_sgd_(params, grads, [], weight_decay=0.0, momentum=0.0, lr=lr,
                                  dampening=0.0, nesterov=False, maximize=False,
                                  is_first_step=False, grad_scale=None, found_inf=None)
            else:
                torch._foreach_add_(params, grads, alpha=-lr)
            return
        for i in active:
            if i not in self.state:
                p = self.params[i]
                self.state[i] = {"step": torch.zeros((), dtype=torch.float32, device=p.device),
                                 "exp_avg": torch.zeros_like(p),
                                 "exp_avg_sq": torch.zeros_like(p)}
        states = [self.state[i] for i in active]
        steps = [s["step"] for s in states]
        exp_avgs = [s["exp_avg"] for s in states]
        exp_avg_sqs = [s["exp_avg_sq"] for s in states]
        torch._foreach_add_(steps, 1)
        if self.fused:
            torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False,
                               lr=lr, beta1=_BETA1, beta2=_BETA2, weight_decay=0.0, eps=_EPS,
                               maximize=False, grad_scale=None, found_inf=None)
        else:
            _foreach_adam(params, grads, exp_avgs, exp_avg_sqs, steps, lr)

    def state_dict(self):
        return {"state": {i: dict(s) for i, s in self.state.items()},
                "param_groups": [dict(group) for group in self.param_groups]}

    def load_state_dict(self, state_dict):
        """Load a state saved by this class or by ``torch.optim``'s Adam / SGD."""
        self.param_groups[0]["lr"] = state_dict["param_groups"][0]["lr"]
        self.state = {}
        for i, saved in state_dict["state"].items():
            p = self.params[int(i)]
            entry = {key: torch.as_tensor(value).to(p.device, p.dtype, copy=True)
                     for key, value in saved.items() if key in ("exp_avg", "exp_avg_sq")}
            if entry:
                entry["step"] = torch.as_tensor(saved["step"]).to(p.device, torch.float32,
                                                                  copy=True)
                self.state[int(i)] = entry


def _foreach_adam(params, grads, exp_avgs, exp_avg_sqs, steps, lr):
    """Adam's update in torch's ``foreach`` form (devices without a fused kernel)."""
    torch._foreach_lerp_(exp_avgs, grads, 1 - _BETA1)
    torch._foreach_mul_(exp_avg_sqs, _BETA2)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - _BETA2)
    # Each parameter's own count: one without a gradient on some steps lags.
    steps = [float(step) for step in steps]
    denominators = torch._foreach_sqrt(exp_avg_sqs)
    torch._foreach_div_(denominators, [(1 - _BETA2**step) ** 0.5 for step in steps])
    torch._foreach_add_(denominators, _EPS)
    torch._foreach_addcdiv_(params, exp_avgs, denominators,
                            [-lr / (1 - _BETA1**step) for step in steps])
