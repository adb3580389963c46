"""Knowledge representation: what generative training learns without labels — InfoGAN's
interpretable codes, the discriminator's and an inversion encoder's features — and the probes
that measure it."""
