"""The inversion encoder learns E(G(z)) = z on generated pairs."""

import torch
import torch.nn.functional as F

from knowgen.models import ModelConfig, build_generator
from knowgen.represent.encoder import EncoderRecipe, InversionEncoder, train_encoder


def test_encoder_inverts_an_invertible_generator():
    torch.manual_seed(0)
    # G(z) = tanh(W z + b) with weights large enough that z shows in the pixels.
    generator = build_generator(ModelConfig(name="linear", z_dim=4), (1, 8, 8)).eval()
    with torch.no_grad():
        for parameter in generator.parameters():
            parameter.normal_(0, 0.3)
    encoder, record = train_encoder(generator, (1, 8, 8), EncoderRecipe(steps=300, width=8))
    z = torch.randn(256, 4)
    with torch.no_grad():
        error = F.mse_loss(encoder(generator(z)), z)
        baseline = F.mse_loss(InversionEncoder((1, 8, 8), 4, width=8).eval()(generator(z)), z)
    assert error < 0.1 and baseline > 0.5  # predicting z = 0 would score 1.0
    assert record["latent_mse"] < 0.1 and record["train_seconds"] > 0
