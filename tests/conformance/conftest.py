"""torch's test databases import expecttest; one thread each so that two workers share two cores."""
import torch

torch.set_num_threads(1)
