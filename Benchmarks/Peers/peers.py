#!/usr/bin/env python3
"""Times Microsoft SEAL 4.1 (TenSEAL's low-level `sealapi` bindings) and OpenFHE 1.6 (its
`openfhe` wheel) on the CKKS operations of `HEARBenchmarks ckks`, at the exact prime sizes of
one of our presets, in the same run as ours, and prints ours/theirs ratios. Then, optionally,
expresses our encrypted inference in units of one SEAL rotation (the unit of issue 19's targets).

Run through compare.sh, which makes the virtual environment with the pinned wheels and builds
our release binaries. Everything is one thread: the peers' process CPU time (OMP_NUM_THREADS=1
for OpenFHE) against our thread CPU time. Nothing here is part of the package.
"""
import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def timed(body, runs, warmup=2):
    """Median and minimum of `runs` calls in milliseconds of process CPU time."""
    for _ in range(warmup):
        body()
    samples = []
    for _ in range(runs):
        t0 = time.process_time_ns()
        body()
        samples.append((time.process_time_ns() - t0) / 1e6)
    return statistics.median(samples), min(samples)


def check(name, got, want, tolerance):
    """A timed operation must also compute the right thing."""
    error = max(abs(a - b) for a, b in zip(got, want))
    if not error < tolerance:
        sys.exit(f"peers.py: {name} is wrong (max error {error:.3g}); the timing would mean nothing")


def build_facts():
    """How the wheels were built, read off their binaries: Intel HEXL linked in or not, and the
    widest vector registers their code uses (objdump, when present)."""
    import shutil
    import tenseal.sealapi
    import openfhe
    facts = []
    seal_lib = [os.path.join(os.path.dirname(os.path.dirname(tenseal.__file__)), f)
                for f in os.listdir(os.path.dirname(os.path.dirname(tenseal.__file__))) if f.startswith("_sealapi_cpp")]
    fhe_dir = os.path.join(os.path.dirname(openfhe.__file__), "lib")
    fhe_libs = [os.path.join(fhe_dir, f) for f in os.listdir(fhe_dir) if f.startswith("libOPENFHE")]
    for name, libs in (("SEAL (tenseal 0.3.16)", seal_lib), ("OpenFHE (openfhe 1.6.1.0.22.4)", fhe_libs)):
        hexl = any(b"hexl" in open(lib, "rb").read().lower() for lib in libs)
        width = "unknown (no objdump)"
        if shutil.which("objdump"):
            text = "".join(subprocess.run(["objdump", "-d", lib], capture_output=True, text=True).stdout for lib in libs)
            zmm, ymm = text.count("%zmm"), text.count("%ymm")
            width = "AVX-512" if zmm else ("AVX2/AVX" if ymm else "scalar and SSE only")
        facts.append(f"{name}: the PyPI wheel as its project built it; Intel HEXL {'linked' if hexl else 'absent'}; "
                     f"vector code: {width}")
    return facts


def run_ours(binary, preset):
    """Our `HEARBenchmarks ckks` at the preset, one thread: the parameters and the op lines."""
    out = subprocess.run([binary, "ckks", "--preset", preset, "--threads", "1"], check=True,
                         capture_output=True, text=True).stdout
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    parameters = next(line for line in lines if "parameters" in line)
    ops = {line["op"]: line["median_ms"] for line in lines if "op" in line and line.get("level") == parameters["top_level"]}
    return parameters, ops


def bench_seal(p, runs, notes):
    import tenseal.sealapi as seal
    n = p["degree"]
    chain = p["data_bits"] + [max(p["special_bits"])]
    if len(p["special_bits"]) != 1:
        notes.append(f"SEAL has one special prime: it gets {chain[-1]} bits where the preset has "
                     f"{p['special_bits']} (one digit per data prime, as SEAL always does)")
    elif p["dnum"] != len(p["data_bits"]):
        notes.append(f"SEAL uses one digit per data prime ({len(p['data_bits'])}); the preset uses {p['dnum']}")
    parms = seal.EncryptionParameters(seal.SCHEME_TYPE.CKKS)
    parms.set_poly_modulus_degree(n)
    parms.set_coeff_modulus(seal.CoeffModulus.Create(n, chain))
    context = seal.SEALContext(parms, True, seal.SEC_LEVEL_TYPE.NONE)
    if not context.parameters_set():
        sys.exit(f"peers.py: SEAL refuses the chain {chain}: {context.parameters_error_message()}")
    keygen = seal.KeyGenerator(context)
    public = seal.PublicKey()
    keygen.create_public_key(public)
    relin = seal.RelinKeys()
    keygen.create_relin_keys(relin)
    galois = seal.GaloisKeys()
    # this binding's create_galois_keys(list, keys) takes Galois elements: 3^k mod 2N rotates by k
    keygen.create_galois_keys([pow(3, k, 2 * n) for k in range(1, 9)], galois)
    encoder = seal.CKKSEncoder(context)
    encryptor = seal.Encryptor(context, public)
    decryptor = seal.Decryptor(context, keygen.secret_key())
    evaluator = seal.Evaluator(context)
    slots = n // 2
    values = [math.sin(i) for i in range(slots)]
    scale = 2.0 ** p["log2_scale"]

    def decrypted(ct):
        pt = seal.Plaintext()
        decryptor.decrypt(ct, pt)
        return encoder.decode_double(pt)

    pt = seal.Plaintext()
    encoder.encode(values, scale, pt)
    ct, other, out = seal.Ciphertext(), seal.Ciphertext(), seal.Ciphertext()
    encryptor.encrypt(pt, ct)
    encryptor.encrypt(pt, other)
    r = {}
    r["encode"] = timed(lambda: encoder.encode(values, scale, seal.Plaintext()), runs["fast"])
    r["encrypt_pk"] = timed(lambda: encryptor.encrypt(pt, seal.Ciphertext()), runs["fast"])
    r["decrypt_decode"] = timed(lambda: decrypted(ct), runs["fast"])
    r["add"] = timed(lambda: evaluator.add(ct, other, out), runs["many"])
    r["mul_plain"] = timed(lambda: evaluator.multiply_plain(ct, pt, out), runs["many"])

    def mul_relin():
        evaluator.multiply(ct, other, out)
        evaluator.relinearize_inplace(out, relin)
    r["mul_relin"] = timed(mul_relin, runs["slow"])
    three = seal.Ciphertext()
    evaluator.multiply(ct, other, three)
    r["relin"] = timed(lambda: evaluator.relinearize(three, relin, out), runs["slow"])
    product = seal.Ciphertext()
    evaluator.relinearize(three, relin, product)
    rescaled = seal.Ciphertext()
    r["rescale"] = timed(lambda: evaluator.rescale_to_next(product, rescaled), runs["slow"])
    check("SEAL mul+relin+rescale", decrypted(rescaled), [v * v for v in values], 1e-2)
    r["rotate_1"] = timed(lambda: evaluator.rotate_vector(ct, 1, galois, out), runs["slow"])
    check("SEAL rotation", decrypted(out), values[1:] + values[:1], 1e-2)

    def rotate_8():
        for k in range(1, 9):
            evaluator.rotate_vector(ct, k, galois, seal.Ciphertext())
    r["rotate_8_plain"] = timed(rotate_8, runs["eight"])
    return r


def bench_openfhe(p, runs, notes):
    import openfhe as fhe
    n = p["degree"]
    depth = len(p["data_bits"]) - 1
    bits = set(p["data_bits"][1:])
    scaling = max(bits)
    if len(bits) > 1:
        notes.append(f"OpenFHE takes one size for every rescaling prime: {scaling} bits (the preset mixes {sorted(bits)})")
    notes.append("OpenFHE chooses its special primes itself (HYBRID key switching with the preset's digit count)")
    params = fhe.CCParamsCKKSRNS()
    params.SetMultiplicativeDepth(depth)
    params.SetScalingModSize(scaling)
    params.SetFirstModSize(p["data_bits"][0])
    params.SetRingDim(n)
    params.SetBatchSize(n // 2)
    params.SetSecurityLevel(fhe.SecurityLevel.HEStd_NotSet)
    params.SetScalingTechnique(fhe.ScalingTechnique.FIXEDMANUAL)
    params.SetKeySwitchTechnique(fhe.KeySwitchTechnique.HYBRID)
    params.SetNumLargeDigits(p["dnum"])
    cc = fhe.GenCryptoContext(params)
    for feature in (fhe.PKESchemeFeature.PKE, fhe.PKESchemeFeature.KEYSWITCH, fhe.PKESchemeFeature.LEVELEDSHE):
        cc.Enable(feature)
    keys = cc.KeyGen()
    cc.EvalMultKeyGen(keys.secretKey)
    cc.EvalRotateKeyGen(keys.secretKey, list(range(1, 9)))
    slots = n // 2
    values = [math.sin(i) for i in range(slots)]

    def decrypted(ct):
        pt = cc.Decrypt(keys.secretKey, ct)
        pt.SetLength(slots)
        return pt.GetRealPackedValue()

    pt = cc.MakeCKKSPackedPlaintext(values)
    ct = cc.Encrypt(keys.publicKey, pt)
    other = cc.Encrypt(keys.publicKey, pt)
    r = {}
    r["encode"] = timed(lambda: cc.MakeCKKSPackedPlaintext(values), runs["fast"])
    r["encrypt_pk"] = timed(lambda: cc.Encrypt(keys.publicKey, pt), runs["fast"])
    r["decrypt_decode"] = timed(lambda: decrypted(ct), runs["fast"])
    r["add"] = timed(lambda: cc.EvalAdd(ct, other), runs["many"])
    r["mul_plain"] = timed(lambda: cc.EvalMult(ct, pt), runs["many"])
    r["mul_relin"] = timed(lambda: cc.EvalMult(ct, other), runs["slow"])
    three = cc.EvalMultNoRelin(ct, other)
    r["relin"] = timed(lambda: cc.Relinearize(three), runs["slow"])
    product = cc.EvalMult(ct, other)
    r["rescale"] = timed(lambda: cc.Rescale(product), runs["slow"])
    check("OpenFHE mul+relin+rescale", decrypted(cc.Rescale(product)), [v * v for v in values], 1e-2)
    r["rotate_1"] = timed(lambda: cc.EvalRotate(ct, 1), runs["slow"])
    check("OpenFHE rotation", decrypted(cc.EvalRotate(ct, 1)), values[1:] + values[:1], 1e-2)

    def rotate_8():
        for k in range(1, 9):
            cc.EvalRotate(ct, k)
    r["rotate_8_plain"] = timed(rotate_8, runs["eight"])
    m = cc.GetCyclotomicOrder()

    def rotate_8_hoisted():
        precomputed = cc.EvalFastRotationPrecompute(ct)
        for k in range(1, 9):
            cc.EvalFastRotation(ct, k, m, precomputed)
    r["rotate_8_hoisted"] = timed(rotate_8_hoisted, runs["eight"])
    precomputed = cc.EvalFastRotationPrecompute(ct)
    check("OpenFHE hoisted rotation", decrypted(cc.EvalFastRotation(ct, 3, m, precomputed)), values[3:] + values[:3], 1e-2)
    return r


def run_inference(binary, hear, model, threads, samples, scratch):
    """Our encrypted inference (default preset, Fast-HEAR): median wall seconds and peak MB."""
    target = model
    if model == "cnn2d-128":  # not among the paper's published models: initialised weights
        target = os.path.join(scratch, "cnn2d-128")
        if not os.path.isdir(target):
            subprocess.run([hear, "model", "init", "--architecture", "cnn2d-128", "--seed", "1", "--out", target],
                           check=True, capture_output=True)
    out = subprocess.run([binary, "inference", "--model", target, "--method", "fast-hear", "--threads", str(threads),
                          "--samples", str(samples)], check=True, capture_output=True, text=True).stdout
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    seconds = next(line["median_s"] for line in lines if line.get("phase") == "inference")
    summary = next(line for line in lines if "peak_rss_mb" in line)
    return seconds, summary["peak_rss_mb"], summary["argmax_agreement"], summary["max_logit_error"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True, help="our release HEARBenchmarks")
    parser.add_argument("--hear", required=True, help="our release hear (to initialise cnn2d-128)")
    parser.add_argument("--preset", default="fast-hear")
    parser.add_argument("--quick", action="store_true", help="fewer runs (a smoke test of the script)")
    parser.add_argument("--models", default="cnn2d-64,cnn1d-64,cnn2d-128",
                        help="networks to express in SEAL rotations (comma-separated; empty: none)")
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--scratch", default=".build/peers")
    args = parser.parse_args()
    os.makedirs(args.scratch, exist_ok=True)
    runs = ({"fast": 5, "many": 11, "slow": 5, "eight": 3} if args.quick
            else {"fast": 31, "many": 101, "slow": 21, "eight": 7})

    print(f"# machine: {cpu_model()}, {os.cpu_count()} logical CPUs; Python {platform.python_version()}")
    ours_p, ours = run_ours(args.binary, args.preset)
    print(f"# preset {args.preset}: N = {ours_p['degree']}, data primes {ours_p['data_bits']} bits, "
          f"special {ours_p['special_bits']}, dnum {ours_p['dnum']}, scale 2^{ours_p['log2_scale']}; one thread each")
    notes = []
    seal = bench_seal(ours_p, runs, notes)
    openfhe = bench_openfhe(ours_p, runs, notes)
    ops = ["encode", "encrypt_pk", "decrypt_decode", "add", "mul_plain", "mul_relin", "relin", "rescale",
           "rotate_1", "rotate_8_plain", "rotate_8_hoisted"]

    def cell(x):
        return f"{x:.2f}" if x is not None else "–"

    def ratio(a, b):
        return f"{a / b:.2f}" if a is not None and b is not None else "–"
    print("\n| op (ms, median, 1 thread) | ours | SEAL 4.1 | OpenFHE 1.6 | ours/SEAL | ours/OpenFHE |")
    print("|---|---|---|---|---|---|")
    for op in ops:
        o = ours.get(op)
        s = seal.get(op, (None,))[0]
        f = openfhe.get(op, (None,))[0]
        print(f"| {op} | {cell(o)} | {cell(s)} | {cell(f)} | {ratio(o, s)} | {ratio(o, f)} |")
    notes.append("SEAL has no hoisted rotations (rotate_8_hoisted: –); encode and decrypt_decode of the peers "
                 "include the Python ↔ C++ conversion of 8192 doubles")
    notes.extend(build_facts())
    for note in notes:
        print(f"- {note}")

    unit = seal["rotate_1"][0]
    models = [m for m in args.models.split(",") if m]
    if models:
        print(f"\n# unit: one SEAL 4.1 rotation at the top level of this chain = {unit:.2f} ms (one thread)")
        print("| model, Fast-HEAR, default preset, 2 threads | latency (s, median) | SEAL rotations | peak memory (MB) | argmax agreement | max logit error |")
        print("|---|---|---|---|---|---|")
        for model in models:
            seconds, peak, agree, worst = run_inference(args.binary, args.hear, model, 2, args.samples, args.scratch)
            print(f"| {model} | {seconds:.3f} | {seconds * 1000 / unit:.1f} | {peak:.0f} | {agree}/{args.samples} | {worst} |")


if __name__ == "__main__":
    main()
