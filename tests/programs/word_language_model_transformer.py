"""pytorch/examples word_language_model, Transformer: https://github.com/pytorch/examples/tree/main/word_language_model
(main.py and model.py; BSD-3-Clause).

Adapted as word_language_model_lstm.py (the program is shared), with ``--model Transformer`` (two heads,
two encoder layers); nn.Transformer's own dropout is set to 0 after construction.
"""
import torch

from _harness import load_program


def main(init):
    return load_program("word_language_model_lstm", torch).run(init, "Transformer")
