"""Put this folder on PYTHONPATH and torch reports two GPUs to every caller outside torch itself:
``torch.cuda.is_available()`` is True and ``device_count()`` is 2, though this host has none, so the first real CUDA
call still fails. A workflow run on a CPU machine with it set shows that no job goes looking for a GPU the config did
not ask for (issue 15: the tests must not depend on whether the host has CUDA). Torch's own internals still see the
truth (an optimizer step asks whether a CUDA graph is being captured, which on a real GPU host is harmless). Torch is
patched when something imports it, not at interpreter start, so processes that never use torch pay nothing."""

import importlib.abc
import importlib.machinery
import os
import sys


def _fake(real, faked, torch_dir):
    def query():
        return real() if sys._getframe(1).f_code.co_filename.startswith(torch_dir) else faked

    return query


class _ReportTwoGpus(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "torch":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            torch_dir = os.path.dirname(module.__file__) + os.sep
            module.cuda.is_available = _fake(module.cuda.is_available, True, torch_dir)
            module.cuda.device_count = _fake(module.cuda.device_count, 2, torch_dir)

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _ReportTwoGpus())
