"""Issue 18, PyTorch side: the deploy form follows its weights whatever changed them (item 1),
and `Network.to_torch()` registers its modules safely from several threads and for as long as
anything of them lives (item 7)."""

from __future__ import annotations

import copy
import gc
import inspect
import linecache
import pickle
import subprocess
import sys
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import specgen

torch = pytest.importorskip("torch")
nn = torch.nn

# no BatchNorm: the deploy form and the model built without it have one state_dict, so the
# reference is always the plain nn.Conv2d model given the deploy model's current weights
PLAIN = """\
network plain
input 8x16x16
layers:
    conv 3x3 out=16 relu
    dwconv 3x3 stride=2 relu6
    conv 1x1 out=24
    sepconv 3x3 out=16 relu
"""


def _pair():
    """(deploy model, eager model built without deploy), both in eval mode."""
    torch.manual_seed(0)
    net = specgen.compile(PLAIN)
    deploy, eager = net.deploy().to_torch().eval(), net.to_torch().eval()
    assert deploy.state_dict().keys() == eager.state_dict().keys()
    return deploy, eager


def _convs(model) -> list:
    return [m for m in model.modules() if type(m).__name__ == "DeployConv2d"]


def _onednn(model) -> bool:
    return type(model).forward.__globals__["ONEDNN"]


def _packed(model) -> list[bool]:
    return [m._packed is not None and m._packed[-1] is not None for m in _convs(model)]


def _check(deploy, eager, x) -> None:
    """deploy(x) under no_grad equals the model built without deploy given deploy's weights."""
    eager.load_state_dict({k: v.float() for k, v in deploy.state_dict().items()})
    with torch.no_grad():
        got, expected = deploy(x), eager(x)
    # round-off follows the terms summed, not the output: an output near 0 (the terms
    # cancelling) is held to 1e-5 of unit scale; stale weights are off by far more
    scale = max(expected.abs().max().item(), 1.0)
    assert (got.float() - expected).abs().max().item() <= 1e-5 * scale


def _new_values(w):
    return torch.randn(w.shape, dtype=w.dtype) * 3


def _data_setter(m):
    m.conv1.weight.data = _new_values(m.conv1.weight)


def _load_state_dict(m):
    m.load_state_dict({k: _new_values(v) for k, v in m.state_dict().items()})


def _optimizer(**kwargs):
    def step(m):
        opt = torch.optim.Adam(m.parameters(), lr=0.5, **kwargs)
        x = torch.randn(2, 8, 16, 16)
        with torch.enable_grad():
            m(x).square().sum().backward()
        opt.step()
        opt.zero_grad()

    return step


def _no_grad_copy(m):
    with torch.no_grad():
        m.conv1.weight.copy_(_new_values(m.conv1.weight))


def _set(m):
    with torch.no_grad():
        m.conv1.weight.set_(_new_values(m.conv1.weight))


def _replace_parameter(m):
    m.dwconv1.weight = nn.Parameter(_new_values(m.dwconv1.weight))


def _numpy_view(m):
    m.conv1.weight.detach().numpy()[:] = _new_values(m.conv1.weight).numpy()


def _dtype_round_trip(m):
    m.double()
    with torch.no_grad():
        m.conv1.weight.mul_(-2)
    m.float()


def _meta_round_trip(m):
    state = {k: _new_values(v) for k, v in m.state_dict().items()}
    m.to("meta").to_empty(device="cpu")
    m.load_state_dict(state)


def _channels_last_then_data(m):
    m.to(memory_format=torch.channels_last)
    with torch.no_grad():
        m(torch.randn(2, 8, 16, 16))  # packed from channels_last weights
    for c in _convs(m):
        c.weight.data.mul_(-0.5)


def _inference_mode_in_place(m):
    with torch.inference_mode():
        m.conv1.weight.add_(1.0)


def _apply_reset(m):
    m.apply(lambda c: c.reset_parameters() if isinstance(c, nn.Conv2d) else None)


def _ema(m):
    """An exponential moving average as many training scripts write it."""
    target = {k: _new_values(v) for k, v in m.state_dict().items()}
    for name, p in m.named_parameters():
        p.data.mul_(0.5).add_(target[name], alpha=0.5)


# every way to change a weight that the issue names, and a few more
ROUTES = {
    "data.mul_": lambda m: m.conv1.weight.data.mul_(0.5),
    "data.normal_": lambda m: m.conv1.weight.data.normal_(),
    "data.copy_": lambda m: m.conv1.weight.data.copy_(_new_values(m.conv1.weight)),
    "data.setter": _data_setter,
    "ema through .data": _ema,
    "load_state_dict": _load_state_dict,
    "nn.init": lambda m: nn.init.kaiming_normal_(m.conv1.weight),
    "module.apply": _apply_reset,
    "optimizer step": _optimizer(),
    "fused optimizer step": _optimizer(fused=True),
    "no_grad copy_": _no_grad_copy,
    "set_": _set,
    "replaced parameter": _replace_parameter,
    "numpy view": _numpy_view,
    "float64 round trip": _dtype_round_trip,
    "meta round trip": _meta_round_trip,
    "channels_last weights, then .data": _channels_last_then_data,
    "inference_mode in place": _inference_mode_in_place,
}


@pytest.mark.parametrize("route", list(ROUTES))
def test_deploy_output_follows_weights_changed_by(route):
    deploy, eager = _pair()
    x = torch.randn(2, 8, 16, 16)
    _check(deploy, eager, x)  # packs every conv's weight
    assert _packed(deploy) == [_onednn(deploy)] * 5
    before = {k: v.clone() for k, v in deploy.state_dict().items()}
    ROUTES[route](deploy)
    after = deploy.state_dict()
    assert any(not torch.equal(before[k], after[k].float()) for k in before)  # it did change
    _check(deploy, eager, x)
    _check(deploy, eager, torch.randn(3, 8, 16, 16).contiguous(memory_format=torch.channels_last))


def test_weights_kept_are_not_packed_again():
    """The packed weight is reused while the values stay (the point of packing it)."""
    deploy, _ = _pair()
    x = torch.randn(2, 8, 16, 16)
    with torch.no_grad():
        deploy(x)
        held = [m._packed[-1] for m in _convs(deploy)]
        deploy(x)
        deploy.conv1.weight.data.mul_(1.0)  # the same values: nothing to do
        deploy(x)
    assert all(a is b for a, b in zip(held, [m._packed[-1] for m in _convs(deploy)], strict=True))


def test_weights_compared_without_memcmp_and_in_any_layout(monkeypatch):
    """torch.equal where C's memcmp is not found or the weight is not dense."""
    deploy, eager = _pair()
    x = torch.randn(2, 8, 16, 16)
    w = deploy.conv1.weight
    w.data = torch.randn(*w.shape[:3], 2 * w.shape[3])[..., ::2]  # a strided view
    assert not w.is_contiguous() and not w.is_contiguous(memory_format=torch.channels_last)
    _check(deploy, eager, x)
    w.data.mul_(-1)
    _check(deploy, eager, x)
    monkeypatch.setitem(type(deploy).forward.__globals__, "MEMCMP", None)
    for route in ("data.mul_", "numpy view", "fused optimizer step"):
        ROUTES[route](deploy)
        _check(deploy, eager, x)


def test_model_built_under_inference_mode_runs_and_follows_its_weights():
    """Inference tensors have no version counter: reading it raised RuntimeError."""
    net = specgen.compile(PLAIN)
    with torch.inference_mode():
        deploy, eager = net.deploy().to_torch().eval(), net.to_torch().eval()
        x = torch.randn(2, 8, 16, 16)
        eager.load_state_dict(deploy.state_dict())
        torch.testing.assert_close(deploy(x), eager(x), rtol=1e-5, atol=1e-5)
        for m in (deploy, eager):
            m.conv1.weight.mul_(-3)
        torch.testing.assert_close(deploy(x), eager(x), rtol=1e-5, atol=1e-5)
    assert _packed(deploy) == [_onednn(deploy)] * 5


def test_check_weights_false_trusts_the_version_counter():
    """The opt-out for fixed weights: no copy held, and changes that PyTorch's version counter
    sees (in-place ops on the parameter, load_state_dict, a new parameter) are followed."""
    deploy, eager = _pair()
    for m in _convs(deploy):
        m.check_weights = False
    x = torch.randn(2, 8, 16, 16)
    _check(deploy, eager, x)
    if _onednn(deploy):  # the held source is the weight itself, not a copy
        assert deploy.conv1._packed[2].data_ptr() == deploy.conv1.weight.data_ptr()
    for route in ("load_state_dict", "no_grad copy_", "replaced parameter", "nn.init"):
        ROUTES[route](deploy)
        _check(deploy, eager, x)
    for m in _convs(deploy):  # checking again: a copy is made and compared from then on
        m.check_weights = True
    _check(deploy, eager, x)
    deploy.conv1.weight.data.mul_(0.5)
    _check(deploy, eager, x)


def test_deploy_source_passes_black_and_ruff_and_imports_without_specgen(tmp_path):
    """The deploy template's new helpers (ctypes' memcmp) keep the file clean."""
    path = tmp_path / "plain_deploy.py"
    path.write_text(specgen.compile(PLAIN).deploy().emit("torch"))
    for tool in (["black", "--check", "-q"], ["ruff", "check", "--no-cache", "--isolated"]):
        run = subprocess.run([sys.executable, "-m", *tool, str(path)], capture_output=True)
        assert run.returncode == 0, run.stdout + run.stderr
    probe = "import sys; sys.path.insert(0, sys.argv[1]); import plain_deploy as m; "
    probe += "print(m.MEMCMP is not None, 'specgen' in sys.modules)"
    run = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert run.stdout.split() == ["True", "False"]


STEPS = st.one_of(
    st.sampled_from(sorted(ROUTES)),
    st.sampled_from([(1, 8, 16, 16), (2, 8, 16, 16), (1, 8, 64, 64), (3, 8, 10, 14)]),
    st.just("channels_last input"),
)


@pytest.mark.slow
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(steps=st.lists(STEPS, min_size=1, max_size=12), seed=st.integers(0, 2**16))
def test_random_weight_updates_and_inference_calls(steps, seed):
    """Any sequence of weight updates (every route) and inference calls (batch 1 and more,
    small and large images, NCHW and channels_last): each output is the plain model's on the
    current weights."""
    deploy, eager = _pair()
    torch.manual_seed(seed)
    for step in steps:
        if isinstance(step, tuple):
            _check(deploy, eager, torch.randn(*step))
        elif step == "channels_last input":
            _check(deploy, eager, torch.randn(2, 8, 16, 16).to(memory_format=torch.channels_last))
        else:
            ROUTES[step](deploy)
    _check(deploy, eager, torch.randn(2, 8, 16, 16))


# ---- to_torch from several threads; the module lives as long as anything of it -----------

SPEC_A = """\
network alpha
input 3x16x16
block unit(c):
    conv 3x3 out=c bn relu
layers:
    unit(8)
    gap
    fc 10
"""
SPEC_B = SPEC_A.replace("alpha", "beta").replace("unit(8)", "unit(4)")


@pytest.mark.slow
def test_to_torch_from_several_threads():
    """Builds racing to register, and models dying in other threads while others are built:
    every model must pickle to its own class, show its source, and find its module."""
    nets = [specgen.compile(SPEC_A), specgen.compile(SPEC_B)]
    names = {type(n.to_torch()).__module__ for n in nets}
    errors: list[str] = []
    start = threading.Barrier(4)
    # inspect.getsource finds a class with ast.parse, which CPython 3.11 cannot run in two
    # threads at once ("SystemError: AST constructor recursion depth mismatch", CPython
    # gh-106905): one thread at a time reads the source; the builds still race
    source_lock = threading.Lock()

    def work(i: int) -> None:
        start.wait()
        for k in range(60):
            try:
                model = nets[(i + k) % 2].to_torch()
                cls = type(model)
                assert cls.__module__ in sys.modules, "module missing while a model lives"
                with source_lock:
                    source = inspect.getsource(cls)
                assert source.startswith(f"class {cls.__name__}(nn.")
                assert type(pickle.loads(pickle.dumps(model))) is cls
                del model, cls
                if k % 10 == 0:
                    gc.collect()
            except Exception as e:  # noqa: BLE001 - collected and reported below
                errors.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    gc.collect()
    assert not names & set(sys.modules)  # and none left behind


def test_module_stays_while_a_copy_or_a_block_lives():
    """A deep copy, an unpickled model or one block of a model keeps the module registered
    after the models to_torch() built are gone; the last of them takes it away."""
    net = specgen.compile(SPEC_A)
    model = net.to_torch()
    name = type(model).__module__
    filename = sys.modules[name].__file__
    best = copy.deepcopy(model)
    block = pickle.loads(pickle.dumps(model)).unit1  # an instance of the class Unit
    del model
    gc.collect()
    assert name in sys.modules and filename in linecache.cache
    assert type(pickle.loads(pickle.dumps(best))) is type(best)
    assert inspect.getsource(type(best)).startswith("class Alpha(nn.Sequential):")
    del best
    gc.collect()
    assert name in sys.modules  # the block of the unpickled copy
    assert type(pickle.loads(pickle.dumps(block))) is type(block)
    del block
    gc.collect()
    assert name not in sys.modules and filename not in linecache.cache


def test_a_copy_scripts_after_the_model_is_gone():
    """TorchScript reads the source through the module (and then keeps the classes)."""
    model = specgen.compile(SPEC_A.replace("alpha", "gamma")).to_torch().eval()
    best = copy.deepcopy(model)
    del model
    gc.collect()
    scripted = torch.jit.script(best)
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), best(x))


def test_module_attributes_and_unregistering():
    net = specgen.compile(SPEC_B)
    model = net.to_torch()
    module = sys.modules[type(model).__module__]
    assert module.Beta is type(model) and "Beta" in dir(module)
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        module.missing  # noqa: B018
    name, filename = module.__name__, module.__file__
    assert net.to_torch().__class__ is module.Beta  # the same module for the same source
    del model
    gc.collect()
    assert name not in sys.modules and filename not in linecache.cache
    with pytest.raises(AttributeError):
        module.Beta  # noqa: B018 - the namespace is gone with the last class
    again = net.to_torch()  # a fresh module under the same name
    assert type(again).__module__ == name and sys.modules[name] is not module
