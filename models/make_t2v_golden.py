#!/usr/bin/env python3
"""Write a tiny random-weight text-to-video pipeline (ONNX) and its golden vectors.

Outputs (paths relative to the repository):

  tests/models/t2v_tiny/        a TextToVideoSDPipeline in the diffusers/Optimum ONNX folder layout
      model_index.json          written by diffusers (TextToVideoSDPipeline.save_config)
      scheduler/scheduler_config.json   DDIMScheduler (SD / ModelScope settings)
      tokenizer/                vocab.json, merges.txt (a small CLIP BPE made here) + what
                                transformers' CLIPTokenizer.save_pretrained writes
      text_encoder/model.onnx   transformers CLIPTextModel (hidden 32, 2 layers, 4 heads)
      unet/model.onnx (+ model.onnx_data, external weights)   diffusers UNet3DConditionModel
      vae_decoder/model.onnx    diffusers AutoencoderKL decoder (post_quant_conv + decoder)
      golden/                   golden vectors (raw little-endian float32) + golden.json
      README.md                 written by hand (not by this script)
  tests/models/t2v_sched/schedulers.json   DDIM / Euler scheduler unit-test vectors

All weights are random (torch seeds below) and then perturbed with N(0, 0.02) so that the
zero-initialised output layers of diffusers' blocks do not make the UNet output trivial.
The sizes are chosen so that everything stays well below 3 MB: the UNet uses
block_out_channels (16, 24), the VAE (16, 32) (two blocks: the VAE scale factor is 2), and
the intermediate value / node names of the exported graphs are shortened (t123 / n123;
graph inputs, outputs and initializer names are kept).

The golden run uses diffusers' own TextToVideoSDPipeline (PyTorch, CPU) with DDIMScheduler
and EulerDiscreteScheduler, then repeats it with ONNX Runtime (a short numpy loop that uses
the exported ONNX files and diffusers' scheduler objects) and records the difference.

Usage:  python3 models/make_t2v_golden.py      (about 20 s on one CPU thread; deterministic output)
Needs (only this script): torch, diffusers==0.42.1, transformers==5.23.0, tokenizers,
onnx, onnxruntime, numpy.
"""

import json
import math
import os
import shutil
import sys
import tempfile
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch

torch.set_num_threads(1)
warnings.filterwarnings("ignore")

import diffusers  # noqa: E402
import transformers  # noqa: E402
from diffusers import (  # noqa: E402
    AutoencoderKL,
    DDIMScheduler,
    EulerDiscreteScheduler,
    TextToVideoSDPipeline,
    UNet3DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer  # noqa: E402

transformers.logging.set_verbosity_error()
diffusers.logging.set_verbosity_error()

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "tests", "models", "t2v_tiny")
SCHED_OUT = os.path.join(REPO, "tests", "models", "t2v_sched")
OPSET = 17
IR_VERSION = 10

# ----------------------------------------------------------------------------------------
# settings of the golden run
PROMPT = "a red circle moving right"
NEGATIVE = ""
HEIGHT = WIDTH = 16
NUM_FRAMES = 4
STEPS = 6
GUIDANCE = 7.5
LATENT_SEED = 0
SCALING_FACTOR = 0.18215

PROMPT100 = (
    "A small red circle and a large blue square are moving across a bright green field at "
    "sunset, while 3 yellow triangles spin around the center of the frame. The camera follows "
    "the red circle from left to right as soft light falls on the grass and the sky turns "
    "orange, then purple. Tiny white stars appear one by one above the distant mountains, and "
    "a gentle wind moves the tall flowers. The scene is calm, colorful and smooth, rendered in "
    "a clean cartoon style with simple shapes, sharp edges, high detail and the sun's warm glow "
    "fading into night."
)
EXTRA_STRINGS = [
    "A Red  CIRCLE, moving right!",
    "yellow squares moving up-left",
    "",
    PROMPT100,
    # not asked for, but they exercise the normaliser / pre-tokeniser rules:
    "  It's a café\tat 42 o'clock...\n",
]

# ----------------------------------------------------------------------------------------
# tokenizer: a small byte-level CLIP BPE, trained here on a hand-written word list


def bytes_to_unicode():
    """GPT-2 / CLIP byte -> printable unicode character table (order matters for the vocab)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


# word -> frequency. The words of the main prompt are the most frequent; words that are not
# in this list (e.g. "squares", "triangles", "mountains", "colorful") stay split into pieces.
CORPUS = {}
for w in "a red circle moving right the and of".split():
    CORPUS[w] = 100
for w in ("in on to with at is are from as by one left up down blue green white black "
          "small large big light sky sun camera scene style square move moves moving slow "
          "slowly fast bright dark field across around center frame video cat dog man woman "
          "walking running water tree city night day soft clean simple high then while it "
          "car road house street river ocean beach forest mountain snow rain cloud clouds "
          "people person girl boy child dancing flying jumping sitting standing playing "
          "beautiful photo realistic cinematic close view over under through into").split():
    CORPUS[w] = CORPUS.get(w, 0) + 30
for w in ("orange purple yellow tiny star stars cartoon shape edge detail warm glow wind "
          "tall flower grass sunset follows horse bird fish garden morning evening golden "
          "shadow smoke fire").split():
    CORPUS[w] = CORPUS.get(w, 0) + 8
NUM_MERGES = 300


def train_bpe(corpus, num_merges, b2u):
    """Plain BPE on byte-level characters with CLIP's '</w>' end-of-word marker."""
    words = {}
    for w, f in corpus.items():
        chars = [b2u[b] for b in w.encode("utf-8")]
        chars[-1] = chars[-1] + "</w>"
        words[tuple(chars)] = f
    known = set(b2u.values()) | {c + "</w>" for c in b2u.values()}
    merges = []
    while len(merges) < num_merges:
        pairs = {}
        for syms, f in words.items():
            for a, b in zip(syms, syms[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + f
        cands = [(-f, p) for p, f in pairs.items() if p[0] + p[1] not in known]
        if not cands:
            break
        _, best = min(cands)
        merges.append(best)
        known.add(best[0] + best[1])
        new_words = {}
        for syms, f in words.items():
            out, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and (syms[i], syms[i + 1]) == best:
                    out.append(syms[i] + syms[i + 1])
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            new_words[tuple(out)] = f
        words = new_words
    return merges


def write_tokenizer(tok_dir):
    os.makedirs(tok_dir, exist_ok=True)
    b2u = bytes_to_unicode()
    merges = train_bpe(CORPUS, NUM_MERGES, b2u)
    # vocabulary in CLIP's order: 256 bytes, the 256 bytes + '</w>', one token per merge,
    # then <|startoftext|> and <|endoftext|>
    vocab = list(b2u.values())
    vocab += [v + "</w>" for v in vocab]
    vocab += [a + b for a, b in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    assert len(set(vocab)) == len(vocab)
    with open(os.path.join(tok_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(tok_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
    return len(vocab), len(merges)


# ----------------------------------------------------------------------------------------
# helpers


def perturb_(model, seed, std=0.02):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * std)


def save_f32(path, arr):
    a = np.ascontiguousarray(np.asarray(arr, dtype="<f4"))
    a.tofile(path)
    return list(a.shape)


def f32(x):
    """Shortest decimal that reads back as the same float32."""
    return float(str(np.float32(x)))


def f32list(t):
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    return [f32(v) for v in np.asarray(a, dtype=np.float32).reshape(-1)]


def max_abs(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def export_onnx(module, args, path, input_names, output_names, dynamic_axes, external=False,
                fixed_dims=None):
    tmp = tempfile.mkdtemp()
    tmp_path = os.path.join(tmp, "model.onnx")
    # The wrapper must be in eval mode: the exporter restores the wrapper's training flag
    # afterwards, recursively, and diffusers' TemporalConvLayer has dropout 0.1.
    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, args, tmp_path, dynamo=False, opset_version=OPSET,
                          input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, do_constant_folding=True)
    assert not any(m.training for m in module.modules())
    model = onnx.load(tmp_path)
    model.ir_version = IR_VERSION
    model.producer_name = "gst-ai/models/make_t2v_golden.py"
    compact_names(model)
    # the exporter names some static output dims after ops (e.g. "Transposeout_sample_dim_1")
    for v in model.graph.output:
        for axis, value in (fixed_dims or {}).get(v.name, {}).items():
            v.type.tensor_type.shape.dim[axis].dim_value = value
    onnx.checker.check_model(model, full_check=True)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if external:
        data = os.path.join(os.path.dirname(path), "model.onnx_data")
        if os.path.exists(data):
            os.remove(data)
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location="model.onnx_data", size_threshold=0)
    else:
        onnx.save_model(model, path)
    shutil.rmtree(tmp)


def compact_names(model):
    """Rename intermediate values and nodes to short names (the UNet graph shrinks ~3x)."""
    g = model.graph
    keep = {v.name for v in g.input} | {v.name for v in g.output} | {t.name for t in g.initializer}
    ren = {}
    for node in g.node:
        for o in node.output:
            if o and o not in keep and o not in ren:
                ren[o] = f"t{len(ren)}"
    for i, node in enumerate(g.node):
        node.name = f"n{i}"
        node.doc_string = ""
        for k, v in enumerate(node.input):
            if v in ren:
                node.input[k] = ren[v]
        for k, v in enumerate(node.output):
            if v in ren:
                node.output[k] = ren[v]
    for vi in g.value_info:
        if vi.name in ren:
            vi.name = ren[vi.name]


def session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def describe_onnx(path):
    m = onnx.load(path, load_external_data=False)
    def io(vs):
        out = []
        for v in vs:
            tt = v.type.tensor_type
            dims = [d.dim_param if d.dim_param else d.dim_value for d in tt.shape.dim]
            out.append({"name": v.name, "dtype": onnx.TensorProto.DataType.Name(tt.elem_type).lower(),
                        "shape": dims})
        return out
    return {"inputs": io(m.graph.input), "outputs": io(m.graph.output),
            "opset": m.opset_import[0].version, "ir_version": m.ir_version}


class TextEncoderExport(torch.nn.Module):
    def __init__(self, te):
        super().__init__()
        self.te = te

    def forward(self, input_ids):
        o = self.te(input_ids=input_ids)
        return o.last_hidden_state, o.pooler_output


class UNetExport(torch.nn.Module):
    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states):
        return self.unet(sample, timestep, encoder_hidden_states, return_dict=False)[0]


class VaeDecoderExport(torch.nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latent_sample):
        return self.vae.decode(latent_sample, return_dict=False)[0]


# ----------------------------------------------------------------------------------------
# the pipeline


def build_models(vocab_size, bos_id, eos_id):
    torch.manual_seed(1)
    te_cfg = CLIPTextConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=37,
                            num_hidden_layers=2, num_attention_heads=4,
                            max_position_embeddings=77, projection_dim=32,
                            hidden_act="quick_gelu", bos_token_id=bos_id, eos_token_id=eos_id,
                            pad_token_id=eos_id)
    te_cfg._attn_implementation = "eager"   # plain matmul/softmax attention in the ONNX graph
    text_encoder = CLIPTextModel(te_cfg).eval()
    perturb_(text_encoder, 101)

    torch.manual_seed(2)
    unet = UNet3DConditionModel(
        sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
        up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
        block_out_channels=(16, 24), layers_per_block=1, norm_num_groups=8,
        cross_attention_dim=32, attention_head_dim=4).eval()
    perturb_(unet, 102)

    torch.manual_seed(3)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(16, 32), layers_per_block=1, latent_channels=4,
        norm_num_groups=8, sample_size=32, scaling_factor=SCALING_FACTOR).eval()
    perturb_(vae, 103)
    return text_encoder, unet, vae


def ddim_scheduler():
    return DDIMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                         beta_schedule="scaled_linear", prediction_type="epsilon",
                         timestep_spacing="leading", steps_offset=1, set_alpha_to_one=False,
                         clip_sample=False)


def run_torch_pipeline(pipe, latents0):
    captured = {}

    def cb(step, t, latents):
        captured["last"] = latents.detach().clone()

    gen = torch.Generator().manual_seed(1234)  # unused with eta=0 / s_churn=0
    out = pipe(prompt=PROMPT, negative_prompt=NEGATIVE, height=HEIGHT, width=WIDTH,
               num_frames=NUM_FRAMES, num_inference_steps=STEPS, guidance_scale=GUIDANCE,
               eta=0.0, generator=gen, latents=latents0.clone(), output_type="np",
               callback=cb, callback_steps=1)
    frames = np.asarray(out.frames)
    assert frames.shape == (1, NUM_FRAMES, HEIGHT, WIDTH, 3), frames.shape
    return frames[0], captured["last"].numpy()


def run_ort_pipeline(folder, tokenizer, scheduler, latents0):
    te = session(os.path.join(folder, "text_encoder", "model.onnx"))
    un = session(os.path.join(folder, "unet", "model.onnx"))
    vd = session(os.path.join(folder, "vae_decoder", "model.onnx"))
    ids = [tokenizer(s, padding="max_length", max_length=77, truncation=True).input_ids
           for s in (NEGATIVE, PROMPT)]
    ids = np.asarray(ids, dtype=np.int32)
    embeds = te.run(["last_hidden_state"], {"input_ids": ids})[0]            # [uncond; cond]
    scheduler.set_timesteps(STEPS)
    lat = latents0.numpy().astype(np.float32) * np.float32(scheduler.init_noise_sigma)
    for t in scheduler.timesteps:
        inp = np.concatenate([lat, lat], axis=0)
        inp = scheduler.scale_model_input(torch.from_numpy(inp), t).numpy()
        ts = np.full([2], int(t.item()), dtype=np.int64)
        noise = un.run(["out_sample"], {"sample": inp, "timestep": ts,
                                        "encoder_hidden_states": embeds})[0]
        n_u, n_c = noise[0:1], noise[1:2]
        noise = n_u + np.float32(GUIDANCE) * (n_c - n_u)
        lat = scheduler.step(torch.from_numpy(noise), t, torch.from_numpy(lat)).prev_sample.numpy()
    final = lat
    z = (lat * np.float32(1.0 / SCALING_FACTOR))
    b, c, f, h, w = z.shape
    z = z.transpose(0, 2, 1, 3, 4).reshape(b * f, c, h, w)
    img = vd.run(["sample"], {"latent_sample": z})[0]                       # [F,3,H,W]
    frames = np.clip(img * 0.5 + 0.5, 0.0, 1.0).transpose(0, 2, 3, 1)        # [F,H,W,3]
    return frames, final, embeds


def make_pipeline_golden():
    if os.path.isdir(OUT):
        for sub in ("text_encoder", "unet", "vae_decoder", "scheduler", "tokenizer", "golden"):
            shutil.rmtree(os.path.join(OUT, sub), ignore_errors=True)
        for fn in ("model_index.json",):
            if os.path.exists(os.path.join(OUT, fn)):
                os.remove(os.path.join(OUT, fn))
    os.makedirs(OUT, exist_ok=True)
    gdir = os.path.join(OUT, "golden")
    os.makedirs(gdir, exist_ok=True)

    # --- tokenizer
    tok_dir = os.path.join(OUT, "tokenizer")
    vocab_size, n_merges = write_tokenizer(tok_dir)
    tokenizer = CLIPTokenizer.from_pretrained(tok_dir, model_max_length=77)
    tokenizer.save_pretrained(tok_dir)
    tokenizer = CLIPTokenizer.from_pretrained(tok_dir)
    assert tokenizer.model_max_length == 77
    bos_id, eos_id = tokenizer.bos_token_id, tokenizer.eos_token_id
    assert (bos_id, eos_id) == (vocab_size - 2, vocab_size - 1), (bos_id, eos_id)
    assert tokenizer.pad_token_id == eos_id
    print(f"tokenizer: {vocab_size} tokens, {n_merges} merges, bos {bos_id}, eos {eos_id}, "
          f"class {type(tokenizer).__name__}")
    tok_cases = []
    for s in [PROMPT, NEGATIVE] + EXTRA_STRINGS:
        ids = tokenizer(s, padding="max_length", max_length=77, truncation=True).input_ids
        full = tokenizer(s).input_ids
        pieces = tokenizer.convert_ids_to_tokens(full)
        assert len(ids) == 77 and ids[0] == bos_id and eos_id in ids
        assert ids[min(len(full), 77) - 1] == eos_id
        tok_cases.append({"text": s, "input_ids": ids, "untruncated_len": len(full),
                          "tokens": pieces if len(pieces) <= 40 else pieces[:40] + ["..."]})
        print(f"  {s[:40]!r:44} -> {len(full)} ids: {pieces[:14]}{' ...' if len(pieces) > 14 else ''}")
    for w in "a red circle moving right".split():
        assert len(tokenizer(w).input_ids) == 3, w   # bos, the word, eos
    assert len(tokenizer("squares").input_ids) > 3

    # --- models
    text_encoder, unet, vae = build_models(vocab_size, bos_id, eos_id)
    nparams = {n: sum(p.numel() for p in m.parameters())
               for n, m in (("text_encoder", text_encoder), ("unet", unet),
                            ("vae_decoder", torch.nn.ModuleList([vae.post_quant_conv, vae.decoder])))}
    print("parameters:", nparams)

    sched = ddim_scheduler()
    sdir = os.path.join(OUT, "scheduler")
    sched.save_config(sdir)

    pipe = TextToVideoSDPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                 unet=unet, scheduler=sched)
    pipe.set_progress_bar_config(disable=True)
    assert pipe.vae_scale_factor == 2
    pipe.save_config(OUT)                               # model_index.json
    unet.save_config(os.path.join(OUT, "unet"))         # unet/config.json
    vae.save_config(os.path.join(OUT, "vae_decoder"))   # vae_decoder/config.json
    text_encoder.config.save_pretrained(os.path.join(OUT, "text_encoder"))

    lh, lw = HEIGHT // pipe.vae_scale_factor, WIDTH // pipe.vae_scale_factor
    latents0 = torch.randn((1, 4, NUM_FRAMES, lh, lw), generator=torch.Generator().manual_seed(LATENT_SEED),
                           dtype=torch.float32)
    save_f32(os.path.join(gdir, "latents.f32"), latents0.numpy())

    # --- text embeddings as the pipeline computes them ([negative; prompt])
    with torch.no_grad():
        ids_np = np.asarray([tok_cases[1]["input_ids"], tok_cases[0]["input_ids"]], dtype=np.int64)
        te_out = text_encoder(torch.from_numpy(ids_np))
        embeds = te_out.last_hidden_state
        pe, ne = pipe.encode_prompt(PROMPT, "cpu", 1, True, NEGATIVE)
        assert torch.equal(torch.cat([ne, pe]), embeds)
    save_f32(os.path.join(gdir, "text_embeds.f32"), embeds.numpy())

    # --- does the UNet output depend on the prompt and the timestep?
    with torch.no_grad():
        x = torch.cat([latents0, latents0])
        o500 = unet(x, torch.tensor(500), embeds).sample
        o100 = unet(x, torch.tensor(100), embeds).sample
    dep_prompt = float((o500[1] - o500[0]).abs().max())
    dep_t = float((o500 - o100).abs().max())
    print(f"unet: |out| max {float(o500.abs().max()):.4f} mean {float(o500.abs().mean()):.4f}; "
          f"cond-uncond max diff {dep_prompt:.4g}; t=500 vs t=100 max diff {dep_t:.4g}")
    assert dep_prompt > 1e-3 and dep_t > 1e-3

    # --- first UNet call of the DDIM run (handy to debug the ONNX runner)
    sched.set_timesteps(STEPS)
    t0 = sched.timesteps[0]
    with torch.no_grad():
        u0_out = unet(x, t0, embeds).sample
    save_f32(os.path.join(gdir, "unet_step0_out.f32"), u0_out.numpy())

    # --- golden runs with diffusers' pipeline
    results = {}
    for name, make in (("ddim", ddim_scheduler),
                       ("euler", lambda: EulerDiscreteScheduler.from_config(ddim_scheduler().config))):
        s = make()
        pipe.scheduler = s
        frames, final = run_torch_pipeline(pipe, latents0)
        save_f32(os.path.join(gdir, f"frames_{name}.f32"), frames)
        save_f32(os.path.join(gdir, f"latents_{name}_final.f32"), final)
        s2 = make()
        s2.set_timesteps(STEPS)
        info = {"scheduler_class": type(s2).__name__,
                "timesteps": [float(v) for v in s2.timesteps.tolist()],
                "timesteps_dtype": str(s2.timesteps.dtype).replace("torch.", ""),
                "init_noise_sigma": f32(s2.init_noise_sigma)}
        if name == "euler":
            info["sigmas"] = f32list(s2.sigmas)
            info["scale_model_input_divisors"] = f32list((s2.sigmas[:-1] ** 2 + 1) ** 0.5)
        else:
            info["alphas_cumprod_at_timesteps"] = f32list(s2.alphas_cumprod[s2.timesteps])
            info["final_alpha_cumprod"] = f32(s2.final_alpha_cumprod)
        clamped = float(np.mean((frames <= 0.0) | (frames >= 1.0)))
        print(f"{name}: timesteps {info['timesteps']}; init_noise_sigma {info['init_noise_sigma']}; "
              f"frames min {frames.min():.4f} max {frames.max():.4f} mean {frames.mean():.4f} "
              f"(clamped fraction {clamped:.3f}); final latents |max| {np.abs(final).max():.3f}")
        results[name] = {"frames": frames, "final": final, "info": info, "clamped": clamped}

    ddim_vs_euler = max_abs(results["ddim"]["frames"], results["euler"]["frames"])
    print(f"frames DDIM vs Euler: max abs diff {ddim_vs_euler:.4g} (DDIM with eta 0 is Euler's method "
          f"in the sigma parameterisation; they differ in the last step only)")

    # the frames must depend on the prompt
    pipe.scheduler = ddim_scheduler()
    other = pipe(prompt="yellow squares moving up-left", negative_prompt=NEGATIVE, height=HEIGHT,
                 width=WIDTH, num_frames=NUM_FRAMES, num_inference_steps=STEPS,
                 guidance_scale=GUIDANCE, latents=latents0.clone(), output_type="np").frames[0]
    dep_frames = max_abs(other, results["ddim"]["frames"])
    print(f"frames(other prompt) vs frames(prompt): max abs diff {dep_frames:.4g}")
    assert dep_frames > 1e-3

    # --- ONNX export
    te_path = os.path.join(OUT, "text_encoder", "model.onnx")
    un_path = os.path.join(OUT, "unet", "model.onnx")
    vd_path = os.path.join(OUT, "vae_decoder", "model.onnx")
    export_onnx(TextEncoderExport(text_encoder), (torch.from_numpy(ids_np.astype(np.int32)),),
                te_path, ["input_ids"], ["last_hidden_state", "pooler_output"],
                {"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"},
                 "pooler_output": {0: "batch"}},
                fixed_dims={"last_hidden_state": {1: 77, 2: 32}})
    export_onnx(UNetExport(unet),
                (torch.cat([latents0, latents0]), torch.tensor([981, 981], dtype=torch.int64), embeds),
                un_path, ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
                {"sample": {0: "batch", 2: "frames", 3: "height", 4: "width"},
                 "timestep": {0: "batch"}, "encoder_hidden_states": {0: "batch"},
                 "out_sample": {0: "batch", 2: "frames", 3: "height", 4: "width"}},
                external=True, fixed_dims={"out_sample": {1: 4}})
    export_onnx(VaeDecoderExport(vae), (torch.randn(4, 4, lh, lw),), vd_path,
                ["latent_sample"], ["sample"],
                {"latent_sample": {0: "batch", 2: "height", 3: "width"},
                 "sample": {0: "batch", 2: "out_height", 3: "out_width"}})

    # --- check the ONNX graphs against PyTorch, also at other (dynamic) shapes
    checks = {}
    te_s, un_s, vd_s = session(te_path), session(un_path), session(vd_path)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for bsz in (1, 2, 3):
            ids = torch.randint(0, vocab_size - 2, (bsz, 77), generator=g)
            ids[:, 0] = bos_id
            ids[:, 10:] = eos_id
            ref = text_encoder(ids)
            o = te_s.run(None, {"input_ids": ids.numpy().astype(np.int32)})
            checks[f"text_encoder_b{bsz}"] = max(max_abs(o[0], ref.last_hidden_state),
                                                 max_abs(o[1], ref.pooler_output))
        for (bsz, fr, h, w) in ((2, 4, 8, 8), (1, 2, 8, 8), (2, 3, 16, 8), (1, 1, 4, 12)):
            smp = torch.randn(bsz, 4, fr, h, w, generator=g)
            ts = torch.randint(0, 1000, (bsz,), generator=g)
            ehs = torch.randn(bsz, 77, 32, generator=g)
            ref = unet(smp, ts, ehs).sample
            o = un_s.run(None, {"sample": smp.numpy(), "timestep": ts.numpy(),
                                "encoder_hidden_states": ehs.numpy()})[0]
            checks[f"unet_b{bsz}_f{fr}_{h}x{w}"] = max_abs(o, ref)
        for (n, h, w) in ((4, 8, 8), (1, 16, 12), (2, 5, 7)):
            z = torch.randn(n, 4, h, w, generator=g) * 5
            ref = vae.decode(z).sample
            o = vd_s.run(None, {"latent_sample": z.numpy()})[0]
            assert o.shape == (n, 3, 2 * h, 2 * w)
            checks[f"vae_decoder_n{n}_{h}x{w}"] = max_abs(o, ref)
    for k, v in checks.items():
        print(f"  ORT vs torch {k}: max abs diff {v:.3g}")
    assert max(checks.values()) < 1e-3

    # --- the whole pipeline again with ONNX Runtime
    ort_diff = {}
    for name, make in (("ddim", ddim_scheduler),
                       ("euler", lambda: EulerDiscreteScheduler.from_config(ddim_scheduler().config))):
        frames, final, emb = run_ort_pipeline(OUT, tokenizer, make(), latents0)
        ort_diff[f"frames_{name}"] = max_abs(frames, results[name]["frames"])
        ort_diff[f"latents_{name}_final"] = max_abs(final, results[name]["final"])
        ort_diff["text_embeds"] = max_abs(emb, embeds)
    for k, v in ort_diff.items():
        print(f"  ORT pipeline vs diffusers pipeline {k}: max abs diff {v:.3g}")

    # --- golden.json
    desc = {
        "prompt": PROMPT, "negative_prompt": NEGATIVE, "height": HEIGHT, "width": WIDTH,
        "num_frames": NUM_FRAMES, "num_inference_steps": STEPS, "guidance_scale": GUIDANCE,
        "eta": 0.0, "vae_scale_factor": pipe.vae_scale_factor, "latent_height": lh,
        "latent_width": lw, "scaling_factor": SCALING_FACTOR,
        "versions": {"diffusers": diffusers.__version__, "transformers": transformers.__version__,
                     "torch": torch.__version__, "onnx": onnx.__version__,
                     "onnxruntime": ort.__version__},
        "files": {
            "latents.f32": {"dtype": "float32", "shape": [1, 4, NUM_FRAMES, lh, lw],
                            "what": f"initial latents, torch.randn(shape, generator=torch.Generator().manual_seed({LATENT_SEED})), UNSCALED: passed as latents= to the pipeline, which multiplies them by scheduler.init_noise_sigma"},
            "text_embeds.f32": {"dtype": "float32", "shape": [2, 77, 32],
                                "what": "text encoder last_hidden_state for [negative_prompt; prompt] (the CFG batch order)"},
            "unet_step0_out.f32": {"dtype": "float32", "shape": [2, 4, NUM_FRAMES, lh, lw],
                                   "what": f"DDIM run, first UNet call: out_sample for sample = cat([latents, latents]) (init_noise_sigma 1, scale_model_input identity), timestep {int(t0)} for both, encoder_hidden_states = text_embeds; before CFG"},
            "frames_ddim.f32": {"dtype": "float32", "shape": [NUM_FRAMES, HEIGHT, WIDTH, 3],
                                "what": "TextToVideoSDPipeline(...).frames[0] with output_type='np', DDIMScheduler; values in 0..1"},
            "frames_euler.f32": {"dtype": "float32", "shape": [NUM_FRAMES, HEIGHT, WIDTH, 3],
                                 "what": "same with EulerDiscreteScheduler.from_config(scheduler config)"},
            "latents_ddim_final.f32": {"dtype": "float32", "shape": [1, 4, NUM_FRAMES, lh, lw],
                                       "what": "latents after the last scheduler step (DDIM), before 1/scaling_factor and the VAE"},
            "latents_euler_final.f32": {"dtype": "float32", "shape": [1, 4, NUM_FRAMES, lh, lw],
                                        "what": "same for Euler"},
        },
        "byte_order": "little-endian, C order",
        "schedulers": {k: v["info"] for k, v in results.items()},
        "frames_clamped_fraction": {k: v["clamped"] for k, v in results.items()},
        "frames_ddim_vs_euler_max_abs": ddim_vs_euler,
        "frames_other_prompt_vs_prompt_max_abs": dep_frames,
        "tokenizer": {"class": f"transformers.{type(tokenizer).__name__} ({type(tokenizer).__mro__[1].__name__}, i.e. the Rust 'tokenizers' backend)",
                      "vocab_size": vocab_size, "num_merges": n_merges, "bos_token_id": bos_id,
                      "eos_token_id": eos_id, "pad_token_id": tokenizer.pad_token_id,
                      "model_max_length": 77,
                      "call": "tokenizer(text, padding='max_length', max_length=77, truncation=True).input_ids",
                      "cases": tok_cases},
        "prompt_input_ids": tok_cases[0]["input_ids"],
        "negative_prompt_input_ids": tok_cases[1]["input_ids"],
        "pipeline_steps": [
            "ids = tokenizer([negative_prompt] and [prompt], padding='max_length', max_length=77, truncation=True); text_encoder(ids)[0] (last_hidden_state, no attention mask) for each",
            "prompt_embeds = cat([negative_embeds, prompt_embeds]) -> [2,77,32] (CFG order: uncond first, cond second)",
            "scheduler.set_timesteps(num_inference_steps); latents = latents_passed * scheduler.init_noise_sigma (DDIM: 1.0; Euler: sqrt(sigma_max^2+1) for 'leading' spacing)",
            "for t in scheduler.timesteps: x = cat([latents, latents]); x = scheduler.scale_model_input(x, t) (DDIM: identity; Euler: x / sqrt(sigma_i^2+1)); noise = unet(x, t, prompt_embeds); noise = noise_uncond + guidance_scale * (noise_text - noise_uncond); latents = scheduler.step(noise, t, latents, eta=0).prev_sample (the pipeline reshapes [B,C,F,h,w] -> [B*F,C,h,w] around step(); the schedulers are elementwise, so that does not change values)",
            "decode: z = (1 / scaling_factor) * latents (python float 1/0.18215 times the float32 tensor); z = z.permute(0,2,1,3,4).reshape(B*F, C, h, w); image = vae.decode(z).sample (post_quant_conv then decoder; the ONNX vae_decoder contains both) -> [B*F,3,H,W]; video = image[None].reshape(B, F, 3, H, W).permute(0,2,1,3,4) -> [B,3,F,H,W]",
            "postprocess (VideoProcessor.postprocess_video, output_type='np'): per batch item video[b].permute(1,0,2,3) -> [F,3,H,W]; (x * 0.5 + 0.5).clamp(0, 1); permute(0,2,3,1) -> [F,H,W,3] float32; stacked over the batch -> frames [B,F,H,W,3]; .frames[0] is saved",
        ],
        "unet_timestep_input": "ONNX input 'timestep' is int64 of shape [batch] (one value per batch row; the pipeline gives the same t to both CFG rows). Euler's timesteps are float32 in diffusers but integer-valued for 'leading' spacing, so casting them to int64 is exact here (not for 'linspace' spacing, which gives fractional Euler timesteps).",
        "onnx_checks_max_abs": checks,
        "ort_vs_torch_max_abs": ort_diff,
        "ort_pipeline": "text_encoder/unet/vae_decoder ONNX files run by ONNX Runtime 1.31 (CPU, one thread), diffusers' scheduler objects for scale_model_input/step, numpy for CFG, decoding and postprocessing",
        "onnx": {"text_encoder": describe_onnx(te_path), "unet": describe_onnx(un_path),
                 "vae_decoder": describe_onnx(vd_path)},
        "parameters": nparams,
    }
    with open(os.path.join(gdir, "golden.json"), "w", encoding="utf-8") as f:
        json.dump(desc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    return desc


# ----------------------------------------------------------------------------------------
# scheduler unit-test vectors

X0 = [0.5 * math.sin(1.7 * i + 0.3) + 0.1 * i - 0.2 for i in range(8)]


def model_output_at(k):
    """The fixed 'model output' at step k (8 floats)."""
    return [0.8 * math.sin(0.9 * i + 0.37 * k + 0.5) + 0.05 * math.cos(2.3 * k - i) for i in range(8)]


def noise_at(k):
    """The explicit variance_noise for the eta > 0 DDIM case at step k."""
    return [math.sin(2.1 * i - 1.3 * k + 0.2) for i in range(8)]


BASE_SL = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
BASE_LIN = dict(beta_schedule="linear", beta_start=0.0001, beta_end=0.02)

DDIM_CASES = [
    # name, config overrides, steps, eta
    ("ddim_sd_leading_50", dict(BASE_SL, timestep_spacing="leading", steps_offset=1, set_alpha_to_one=False, prediction_type="epsilon", clip_sample=False), 50, 0.0),
    ("ddim_sd_leading_25", dict(BASE_SL, timestep_spacing="leading", steps_offset=1, set_alpha_to_one=False, prediction_type="epsilon", clip_sample=False), 25, 0.0),
    ("ddim_sd_leading_6", dict(BASE_SL, timestep_spacing="leading", steps_offset=1, set_alpha_to_one=False, prediction_type="epsilon", clip_sample=False), 6, 0.0),
    ("ddim_lin_leading_off0_one_10", dict(BASE_LIN, timestep_spacing="leading", steps_offset=0, set_alpha_to_one=True, prediction_type="epsilon", clip_sample=False), 10, 0.0),
    ("ddim_lin_leading_off1_one_v_7", dict(BASE_LIN, timestep_spacing="leading", steps_offset=1, set_alpha_to_one=True, prediction_type="v_prediction", clip_sample=False), 7, 0.0),
    ("ddim_sl_trailing_v_10", dict(BASE_SL, timestep_spacing="trailing", steps_offset=0, set_alpha_to_one=False, prediction_type="v_prediction", clip_sample=False), 10, 0.0),
    ("ddim_sl_trailing_one_7", dict(BASE_SL, timestep_spacing="trailing", steps_offset=1, set_alpha_to_one=True, prediction_type="epsilon", clip_sample=False), 7, 0.0),
    ("ddim_sl_linspace_7", dict(BASE_SL, timestep_spacing="linspace", steps_offset=0, set_alpha_to_one=False, prediction_type="epsilon", clip_sample=False), 7, 0.0),
    ("ddim_lin_linspace_v_25", dict(BASE_LIN, timestep_spacing="linspace", steps_offset=1, set_alpha_to_one=True, prediction_type="v_prediction", clip_sample=False), 25, 0.0),
    ("ddim_sd_leading_eta05_10", dict(BASE_SL, timestep_spacing="leading", steps_offset=1, set_alpha_to_one=False, prediction_type="epsilon", clip_sample=False), 10, 0.5),
    ("ddim_lin_leading_clip_10", dict(BASE_LIN, timestep_spacing="leading", steps_offset=1, set_alpha_to_one=False, prediction_type="epsilon", clip_sample=True, clip_sample_range=1.0), 10, 0.0),
]

EULER_CASES = [
    ("euler_sd_leading_50", dict(BASE_SL, timestep_spacing="leading", steps_offset=1, prediction_type="epsilon"), 50),
    ("euler_sd_leading_25", dict(BASE_SL, timestep_spacing="leading", steps_offset=1, prediction_type="epsilon"), 25),
    ("euler_sd_leading_6", dict(BASE_SL, timestep_spacing="leading", steps_offset=1, prediction_type="epsilon"), 6),
    ("euler_sl_leading_off0_7", dict(BASE_SL, timestep_spacing="leading", steps_offset=0, prediction_type="epsilon"), 7),
    ("euler_lin_linspace_10", dict(BASE_LIN, timestep_spacing="linspace", steps_offset=0, prediction_type="epsilon"), 10),
    ("euler_sl_linspace_v_7", dict(BASE_SL, timestep_spacing="linspace", steps_offset=1, prediction_type="v_prediction"), 7),
    ("euler_sl_trailing_v_10", dict(BASE_SL, timestep_spacing="trailing", steps_offset=0, prediction_type="v_prediction"), 10),
    ("euler_lin_trailing_7", dict(BASE_LIN, timestep_spacing="trailing", steps_offset=1, prediction_type="epsilon"), 7),
    ("euler_lin_leading_v_25", dict(BASE_LIN, timestep_spacing="leading", steps_offset=1, prediction_type="v_prediction"), 25),
]

ALPHA_PROBES = [0, 1, 2, 100, 499, 500, 998, 999]


def config_dict(s):
    return {k: v for k, v in dict(s.config).items() if not k.startswith("_")}


def make_scheduler_vectors():
    cases = []
    x0 = torch.tensor(X0, dtype=torch.float32)
    for name, cfg, n, eta in DDIM_CASES:
        s = DDIMScheduler(num_train_timesteps=1000, **cfg)
        s.set_timesteps(n)
        ts = s.timesteps
        sample = x0 * s.init_noise_sigma
        sample_init = sample.clone()
        steps = []
        for k, t in enumerate(ts):
            mo = torch.tensor(model_output_at(k), dtype=torch.float32)
            prev_t = int(t) - s.config.num_train_timesteps // s.num_inference_steps
            kw = {}
            rec = {"model_output": f32list(mo), "prev_timestep": prev_t,
                   "alpha_prod_t": f32(s.alphas_cumprod[int(t)]),
                   "alpha_prod_t_prev": f32(s.alphas_cumprod[prev_t] if prev_t >= 0 else s.final_alpha_cumprod)}
            if eta > 0:
                vn = torch.tensor(noise_at(k), dtype=torch.float32)
                kw["variance_noise"] = vn
                rec["variance_noise"] = f32list(vn)
            out = s.step(mo, t, sample, eta=eta, **kw)
            rec["pred_original_sample"] = f32list(out.pred_original_sample)
            rec["prev_sample"] = f32list(out.prev_sample)
            sample = out.prev_sample
            steps.append(rec)
        cases.append({
            "name": name, "scheduler": "DDIMScheduler", "config": config_dict(s),
            "num_inference_steps": n, "eta": eta,
            "timesteps": [float(v) for v in ts.tolist()],
            "timesteps_dtype": str(ts.dtype).replace("torch.", ""),
            "alphas_cumprod": f32list(s.alphas_cumprod[ts]),
            "final_alpha_cumprod": f32(s.final_alpha_cumprod),
            "alphas_cumprod_probe": {str(i): f32(s.alphas_cumprod[i]) for i in ALPHA_PROBES},
            "init_noise_sigma": f32(s.init_noise_sigma),
            "x0": f32list(x0), "sample_init": f32list(sample_init),
            "steps": steps,
        })
    for name, cfg, n in EULER_CASES:
        s = EulerDiscreteScheduler(num_train_timesteps=1000, **cfg)
        s.set_timesteps(n)
        ts = s.timesteps.clone()
        sample = x0 * s.init_noise_sigma
        sample_init = sample.clone()
        steps = []
        for k, t in enumerate(ts):
            mo = torch.tensor(model_output_at(k), dtype=torch.float32)
            scaled = s.scale_model_input(sample, t)
            sigma = s.sigmas[s.step_index]
            rec = {"model_output": f32list(mo), "sigma": f32(sigma),
                   "sigma_next": f32(s.sigmas[s.step_index + 1]),
                   "scale_model_input_divisor": f32((sigma ** 2 + 1) ** 0.5),
                   "scale_model_input_factor": f32(1.0 / float((sigma ** 2 + 1) ** 0.5)),
                   "scaled_sample": f32list(scaled)}
            out = s.step(mo, t, sample)
            rec["pred_original_sample"] = f32list(out.pred_original_sample)
            rec["prev_sample"] = f32list(out.prev_sample)
            sample = out.prev_sample
            steps.append(rec)
        cases.append({
            "name": name, "scheduler": "EulerDiscreteScheduler", "config": config_dict(s),
            "num_inference_steps": n,
            "timesteps": [f32(v) for v in ts.tolist()],
            "timesteps_dtype": str(ts.dtype).replace("torch.", ""),
            "sigmas": f32list(s.sigmas),
            "init_noise_sigma": f32(s.init_noise_sigma),
            "alphas_cumprod_probe": {str(i): f32(s.alphas_cumprod[i]) for i in ALPHA_PROBES},
            "x0": f32list(x0), "sample_init": f32list(sample_init),
            "steps": steps,
        })
    doc = {
        "about": "Unit-test vectors from diffusers " + diffusers.__version__ + " DDIMScheduler / EulerDiscreteScheduler (torch float32, CPU), written by models/make_t2v_golden.py.",
        "chain": "sample_init = x0 * init_noise_sigma (float32). For k, t in enumerate(timesteps): model_output = steps[k].model_output; Euler: scaled_sample = scale_model_input(sample, t) = sample / sqrt(sigma^2 + 1) (divisor in scale_model_input_divisor); DDIM: prev_sample = step(model_output, t, sample, eta, variance_noise=steps[k].variance_noise if eta > 0); Euler: prev_sample = step(model_output, t, sample) (s_churn 0); sample = prev_sample.",
        "ddim_notes": "DDIM step uses prev_timestep = t - num_train_timesteps // num_inference_steps for EVERY spacing (also trailing/linspace, where it is not the next timestep in the list); alpha_prod_t_prev = alphas_cumprod[prev_timestep] if prev_timestep >= 0 else final_alpha_cumprod (1.0 if set_alpha_to_one else alphas_cumprod[0]). betas: linear = linspace(beta_start, beta_end, 1000) float32; scaled_linear = linspace(sqrt(beta_start), sqrt(beta_end), 1000, float32)**2; alphas_cumprod = cumprod(1 - betas) in float32.",
        "euler_notes": "sigmas = interp(timesteps, arange(1000), sqrt((1 - alphas_cumprod) / alphas_cumprod)) + [0.0]; init_noise_sigma = sigma_max for linspace/trailing, sqrt(sigma_max^2 + 1) for leading; epsilon: pred_x0 = sample - sigma * model_output; v_prediction: pred_x0 = model_output * (-sigma / sqrt(sigma^2 + 1)) + sample / (sigma^2 + 1); derivative = (sample - pred_x0) / sigma; prev = sample + derivative * (sigma_next - sigma). Euler timesteps are float32 (fractional with linspace spacing).",
        "x0": f32list(x0),
        "model_output_formula": "model_output[k][i] = 0.8*sin(0.9*i + 0.37*k + 0.5) + 0.05*cos(2.3*k - i), rounded to float32",
        "variance_noise_formula": "variance_noise[k][i] = sin(2.1*i - 1.3*k + 0.2), rounded to float32",
        "x0_formula": "x0[i] = 0.5*sin(1.7*i + 0.3) + 0.1*i - 0.2, rounded to float32",
        "cases": cases,
    }
    os.makedirs(SCHED_OUT, exist_ok=True)
    path = os.path.join(SCHED_OUT, "schedulers.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"{path}: {len(cases)} cases, {os.path.getsize(path)} bytes")


def main():
    print(f"diffusers {diffusers.__version__}, transformers {transformers.__version__}, "
          f"torch {torch.__version__}, onnx {onnx.__version__}, onnxruntime {ort.__version__}")
    make_pipeline_golden()
    make_scheduler_vectors()
    total = 0
    for root, _, files in os.walk(OUT):
        for fn in files:
            total += os.path.getsize(os.path.join(root, fn))
    print(f"{OUT}: {total} bytes in all")


if __name__ == "__main__":
    sys.exit(main())
