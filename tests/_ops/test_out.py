"""ember/_ops/out.py: the out= wrapper every published function goes through."""
import ember


def test_published_functions_pickle_by_reference_as_torchs():
    """ember.add, ember.nn.functional.gelu, ember.linalg.norm, ...: pickle finds each where it is published (the
    out= wrapper, not the function it wraps), so modules holding one (an activation=F.gelu layer) pickle, as torch's."""
    import pickle
    import torch
    for path in ("add", "erf", "igamma", "special.gammainc", "nn.functional.gelu", "linalg.norm", "fft.fft"):
        for lib in (torch, ember):
            fn = lib
            for part in path.split("."):
                fn = getattr(fn, part)
            assert pickle.loads(pickle.dumps(fn)) is fn, f"{lib.__name__}.{path}"
    layer = ember.nn.TransformerEncoderLayer(8, 2, 16, activation=ember.nn.functional.gelu)
    assert pickle.loads(pickle.dumps(layer)).activation is ember.nn.functional.gelu
