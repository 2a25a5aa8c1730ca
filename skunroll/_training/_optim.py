"""Adam and plain SGD, one call of torch's multi-tensor kernels a step."""

import torch

OPTIMIZERS = ("sgd", "adam")
# torch's Adam defaults; the estimators use no momentum for SGD, no weight decay.
_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8
# The settings torch.optim's constructors take, written into ``state_dict`` so
# that torch.optim (and so an earlier skunroll) can load the state.
_SETTINGS = {
    "adam": {"betas": (_BETA1, _BETA2), "eps": _EPS, "weight_decay": 0.0, "amsgrad": False,
             "maximize": False},
    "sgd": {"momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False,
            "maximize": False},
}
# Devices whose fused optimiser kernels accept every floating dtype.
_FUSED_DEVICES = ("cpu", "cuda")


class Optimizer:
    """torch's ``Adam`` or ``SGD`` (their defaults), its kernels called directly.

    The update is ``torch.optim``'s with ``fused=True`` (bit for bit) on the
    devices that have fused kernels, and its ``foreach`` form elsewhere; the
    state has ``torch.optim``'s layout, so states load both ways (an estimator
    pickled by an earlier version continues, and the reverse). Left out is
    the Python around the kernel: ``torch.optim``'s ``step`` walks parameter
    groups, state checks and compiler guards on every call, longer than a
    small network's kernel takes, and its first call in a process imports
    ``torch._dynamo``, which takes seconds.

    Parameters
    ----------
    name : {"sgd", "adam"}
        The update.
    parameters : iterable of Tensor
        On one device, of one real floating dtype (as a module's are).
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
        if not all(p.is_floating_point() for p in self.params):
            raise ValueError("The optimiser updates real floating-point parameters only.")
        self.fused = all(p.device.type in _FUSED_DEVICES for p in self.params)
        self.param_groups = [{"lr": learning_rate, "params": list(range(len(self.params)))}]
        self.state = {}

    def zero_grad(self):
        for p in self.params:
            p.grad = None

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
                self.state[i] = self._adam_state(0.0, torch.zeros_like(p), torch.zeros_like(p))
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

    def _adam_state(self, step, exp_avg, exp_avg_sq):
        # The count lives where torch.optim keeps it: on the device for the
        # fused kernel, on the host for the foreach form (read without a sync).
        device = exp_avg.device if self.fused else "cpu"
        return {"step": torch.as_tensor(step).to(device, torch.float32, copy=True),
                "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}

    def state_dict(self):
        group = {**_SETTINGS[self.name], **self.param_groups[0], "fused": self.fused or None}
        return {"state": {i: dict(s) for i, s in self.state.items()}, "param_groups": [group]}

    def load_state_dict(self, state_dict):
        """Load a state saved by this class or by ``torch.optim``'s Adam / SGD."""
        state = {}
        for i, saved in state_dict["state"].items():
            if "exp_avg" not in saved:  # SGD's empty momentum entries
                continue
            p = self.params[int(i)] if int(i) < len(self.params) else None
            moments = [torch.as_tensor(saved[key]) for key in ("exp_avg", "exp_avg_sq")]
            if p is None or any(moment.shape != p.shape for moment in moments):
                raise ValueError(f"The saved optimiser state for parameter {i} does not match "
                                 "the parameters (another network's state?).")
            state[int(i)] = self._adam_state(
                saved["step"], *(moment.to(p.device, p.dtype, copy=True) for moment in moments))
        self.state = state
        self.param_groups[0]["lr"] = state_dict["param_groups"][0]["lr"]


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
