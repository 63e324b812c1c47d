"""`python -m token_assorted.bench`: speed, memory, growth and the latency-accuracy curve, CoT beside Token Assorted.

    measure.py     timing and peak memory of a block, median/min/max, fitted growth exponents
    inference.py   per task: the baseline and the method on the same test problems, and the force_latents curve
    training.py    fine-tuning tokens/s in fp32 and bf16, VQ-VAE training and encoding samples/s, MFU on a GPU
    growth.py      data generation, VQ-VAE encoding and one training epoch at 1x, 2x, 4x the data
    report.py      results.json, report.md and the plots
"""
