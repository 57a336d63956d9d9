#!/usr/bin/env python3
"""Expected inverse frequencies for tests/test_rope_scaling.cpp, derived independently of the
C++ code (plain Python floats, no torch) from the methods' published definitions:

- YaRN (Peng et al. 2023, Sec. 3.2 and the authors' reference code `find_correction_range` /
  `linear_ramp_mask`): for dimension pair d with wavelength lambda_d = 2 pi base^(2d/D), the
  reference code places the ramp between the dimension indices at which the training length L
  holds beta_fast and beta_slow full turns, floored / ceiled and clipped to [0, D-1]; pairs below
  the ramp keep theta_d, pairs above it are interpolated to theta_d / s, and the ramp blends
  linearly in the dimension index. Attention: sqrt(1/t) = 0.1 ln s + 1.
  (The paper's text writes the ramp as linear in r = L / lambda_d between alpha = 1 and
  beta = 32; the reference code, which HF and llama.cpp follow and which we test, uses the
  dimension-index form above.)
- Llama 3.1 (Meta's `apply_scaling` in the llama-models reference): wavelengths below
  L / high_freq_factor are kept, those above L / low_freq_factor divided by s, and between them
  freq * ((1 - smooth) / s + smooth) with smooth = (L / wavelength - low) / (high - low).

Run: python3 tests/derive/rope_scaling_constants.py   (prints the C++ arrays pasted in the test)
"""
import math


def theta(D, base):
    return [base ** (-(2 * d) / D) for d in range(D // 2)]


def turns_to_dim(turns, D, base, L):
    # Solve L / (2 pi base^(2d/D)) = turns for d, in dimension-index units of the full head (0..D-1).
    return D * math.log(L / (turns * 2 * math.pi)) / (2 * math.log(base))


def yarn(D, base, L, s, beta_fast=32.0, beta_slow=1.0):
    lo = max(math.floor(turns_to_dim(beta_fast, D, base, L)), 0)
    hi = min(math.ceil(turns_to_dim(beta_slow, D, base, L)), D - 1)
    if lo == hi:
        hi += 0.001
    out = []
    for d, t in enumerate(theta(D, base)):
        gamma = min(1.0, max(0.0, (d - lo) / (hi - lo)))  # 0: keep, 1: interpolate
        out.append((1 - gamma) * t + gamma * t / s)
    return out, 0.1 * math.log(s) + 1


def llama3(D, base, L, s, low=1.0, high=4.0):
    out = []
    for t in theta(D, base):
        wavelength = 2 * math.pi / t
        if wavelength < L / high:
            out.append(t)
        elif wavelength > L / low:
            out.append(t / s)
        else:
            smooth = (L / wavelength - low) / (high - low)
            out.append((1 - smooth) * t / s + smooth * t)
    return out


def cpp(name, values):
    body = ",\n    ".join(", ".join(f"{v:.17g}" for v in values[i:i + 4]) for i in range(0, len(values), 4))
    return f"const std::vector<double> {name} = {{\n    {body}}};"


if __name__ == "__main__":
    y, scale = yarn(64, 10000.0, 256, 8.0)
    print("// YaRN, D = 64, base 10000, L = 256, s = 8, beta_fast 32, beta_slow 1; attention scale", repr(scale))
    print(cpp("kYarnD64L256S8", y))
    y16, _ = yarn(64, 10000.0, 256, 8.0, beta_fast=16.0, beta_slow=2.0)
    print("// YaRN, same with beta_fast 16, beta_slow 2")
    print(cpp("kYarnD64L256S8Beta16x2", y16))
    print("// Llama 3.1, D = 64, base 10000, L = 512, s = 8, low 1, high 4")
    print(cpp("kLlama3D64L512S8", llama3(64, 10000.0, 512, 8.0)))
    print("// Llama 3.1, D = 64, base 500000, L = 1024, s = 4, low 1, high 8")
    print(cpp("kLlama3D64Base5e5L1024S4", llama3(64, 500000.0, 1024, 4.0, 1.0, 8.0)))
