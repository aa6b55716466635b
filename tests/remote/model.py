# A Triton Python-backend model that runs the ONNX file beside it (model.onnx in the version
# folder) with ONNX Runtime on the CPU: how the remote-inference tests and benchmark serve
# gst-ai's models without a GPU build of Triton. The model's config.pbtxt declares the contract
# (written by tests/src/remote.rs) and may set these parameters:
#   site_packages  where onnxruntime and numpy are (the server's own Python has neither);
#   threads        ONNX Runtime intra-op threads (0: its default);
#   wrong_shape    "1": answer with one row fewer than the model gives (a broken server, for the
#                  fault tests);
#   fail_init      a message: the model refuses to load with it (a model that is never ready).
# With dynamic batching on (max_batch_size > 0), the requests Triton hands over together are
# stacked along the batch axis when their shapes agree and run as one.
import json
import os
import sys

import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
        if params.get("fail_init"):
            raise RuntimeError(params["fail_init"])
        site = params.get("site_packages", "")
        if site and site not in sys.path:
            sys.path.insert(0, site)
        import numpy
        import onnxruntime

        self.np = numpy
        options = onnxruntime.SessionOptions()
        threads = int(params.get("threads", "0") or 0)
        if threads > 0:
            options.intra_op_num_threads = threads
        path = os.path.join(args["model_repository"], args["model_version"], "model.onnx")
        self.session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.wrong_shape = params.get("wrong_shape") == "1"
        self.batched = config.get("max_batch_size", 0) > 0

    def _feeds(self, request):
        return {n: pb_utils.get_input_tensor_by_name(request, n).as_numpy() for n in self.inputs}

    def _answer(self, outs):
        if self.wrong_shape:
            outs = [o[..., :-1, :] if o.ndim >= 2 else o for o in outs]
        return pb_utils.InferenceResponse([pb_utils.Tensor(n, self.np.ascontiguousarray(o)) for n, o in zip(self.outputs, outs)])

    def execute(self, requests):
        feeds = [self._feeds(r) for r in requests]
        if self.batched and len(feeds) > 1:
            shapes = {tuple((n, f[n].shape) for n in self.inputs) for f in feeds}
            if len(shapes) == 1:
                stacked = {n: self.np.concatenate([f[n] for f in feeds]) for n in self.inputs}
                outs = self.session.run(self.outputs, stacked)
                sizes = [f[self.inputs[0]].shape[0] for f in feeds]
                answers, start = [], 0
                for size in sizes:
                    answers.append(self._answer([o[start : start + size] for o in outs]))
                    start += size
                return answers
        return [self._answer(self.session.run(self.outputs, f)) for f in feeds]
