"""pytorch/examples vision_transformer (https://github.com/pytorch/examples/blob/852acf6/vision_transformer/main.py,
BSD-3-Clause; removed from the repository in 2024): a ViT without torchvision's model.

Patches cut by two ``Tensor.unfold`` calls, permuted and viewed; a class token and position embedding held per
batch (the program's ``(batch_size, 1, latent)`` parameters, broadcast by ``+=`` onto the embedded patches);
pre-norm encoder blocks of ``nn.MultiheadAttention`` (sequence-first, fed batch-first tensors as the program
does) and a GELU MLP; the ``TrainEval`` loop with ``torch.hub.tqdm`` bars and ``set_postfix``; Adam with weight
decay and a ``LinearLR`` warm-up. Adapted: 16x16 fake images with 4x4 patches, latent 16, 2 heads, 2 encoders,
10 classes, 8 training and 4 validation images in batches of 4, 2 epochs, dropout 0; the best weights are
saved to a buffer instead of best-weights.pt.
"""
import io

import numpy as np
import torch
import torch.nn as nn
from torch import optim
from torch.hub import tqdm
from torch.utils.data import DataLoader, TensorDataset

from _harness import Args, images

losses = []


class PatchExtractor(nn.Module):
    def __init__(self, patch_size=16):
        super().__init__()
        self.patch_size = patch_size

    def forward(self, input_data):
        batch_size, channels, height, width = input_data.size()
        assert height % self.patch_size == 0 and width % self.patch_size == 0, \
            f"Input height ({height}) and width ({width}) must be divisible by patch size ({self.patch_size})"
        num_patches = (height // self.patch_size) * (width // self.patch_size)
        patches = input_data.unfold(2, self.patch_size, self.patch_size). \
            unfold(3, self.patch_size, self.patch_size). \
            permute(0, 2, 3, 1, 4, 5). \
            contiguous(). \
            view(batch_size, num_patches, -1)
        return patches


class InputEmbedding(nn.Module):
    def __init__(self, args):
        super(InputEmbedding, self).__init__()
        self.patch_size = args.patch_size
        self.n_channels = args.n_channels
        self.latent_size = args.latent_size
        self.device = torch.device("cpu")
        self.batch_size = args.batch_size
        self.input_size = self.patch_size * self.patch_size * self.n_channels
        self.LinearProjection = nn.Linear(self.input_size, self.latent_size, device=self.device)
        self.class_token = nn.Parameter(torch.randn(self.batch_size, 1, self.latent_size).to(self.device))
        self.pos_embedding = nn.Parameter(torch.randn(self.batch_size, 1, self.latent_size).to(self.device))

    def forward(self, input_data):
        input_data = input_data.to(self.device)
        patchify = PatchExtractor(patch_size=self.patch_size)
        patches = patchify(input_data)
        linear_projection = self.LinearProjection(patches).to(self.device)
        b, n, _ = linear_projection.shape
        linear_projection = torch.cat((self.class_token, linear_projection), dim=1)
        pos_embed = self.pos_embedding[:, :n + 1, :]
        linear_projection += pos_embed
        return linear_projection


class EncoderBlock(nn.Module):
    def __init__(self, args):
        super(EncoderBlock, self).__init__()
        self.latent_size = args.latent_size
        self.num_heads = args.num_heads
        self.dropout = args.dropout
        self.norm = nn.LayerNorm(self.latent_size)
        self.attention = nn.MultiheadAttention(self.latent_size, self.num_heads, dropout=self.dropout)
        self.enc_MLP = nn.Sequential(
            nn.Linear(self.latent_size, self.latent_size * 4),
            nn.GELU(),
            nn.Dropout(self.dropout),
            nn.Linear(self.latent_size * 4, self.latent_size),
            nn.Dropout(self.dropout))

    def forward(self, emb_patches):
        first_norm = self.norm(emb_patches)
        attention_out = self.attention(first_norm, first_norm, first_norm)[0]
        first_added = attention_out + emb_patches
        second_norm = self.norm(first_added)
        mlp_out = self.enc_MLP(second_norm)
        return mlp_out + first_added


class ViT(nn.Module):
    def __init__(self, args):
        super(ViT, self).__init__()
        self.num_encoders = args.num_encoders
        self.latent_size = args.latent_size
        self.num_classes = args.num_classes
        self.dropout = args.dropout
        self.embedding = InputEmbedding(args)
        self.encoders = nn.ModuleList([EncoderBlock(args) for _ in range(self.num_encoders)])
        self.MLPHead = nn.Sequential(
            nn.LayerNorm(self.latent_size),
            nn.Linear(self.latent_size, self.latent_size),
            nn.Linear(self.latent_size, self.num_classes))

    def forward(self, test_input):
        enc_output = self.embedding(test_input)
        for enc_layer in self.encoders:
            enc_output = enc_layer(enc_output)
        class_token_embed = enc_output[:, 0]
        return self.MLPHead(class_token_embed)


class TrainEval:
    def __init__(self, args, model, train_dataloader, val_dataloader, optimizer, scheduler, criterion, device):
        self.model = model
        self.train_dataloader = train_dataloader
        self.val_dataloader = val_dataloader
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.criterion = criterion
        self.epoch = args.epochs
        self.device = device
        self.args = args

    def train_fn(self, current_epoch):
        self.model.train()
        total_loss = 0.0
        tk = tqdm(self.train_dataloader, desc="EPOCH" + "[TRAIN]" + str(current_epoch + 1) + "/" + str(self.epoch),
                  disable=True)
        for t, data in enumerate(tk):
            images_, labels = data
            images_, labels = images_.to(self.device), labels.to(self.device)
            self.optimizer.zero_grad()
            logits = self.model(images_)
            loss = self.criterion(logits, labels)
            loss.backward()
            self.optimizer.step()
            total_loss += loss.item()
            losses.append(loss.item())
            tk.set_postfix({"Loss": "%6f" % float(total_loss / (t + 1))})
        self.scheduler.step()
        return total_loss / len(self.train_dataloader)

    def eval_fn(self, current_epoch):
        self.model.eval()
        total_loss = 0.0
        tk = tqdm(self.val_dataloader, desc="EPOCH" + "[VALID]" + str(current_epoch + 1) + "/" + str(self.epoch),
                  disable=True)
        for t, data in enumerate(tk):
            images_, labels = data
            logits = self.model(images_.to(self.device))
            loss = self.criterion(logits, labels.to(self.device))
            total_loss += loss.item()
            tk.set_postfix({"Loss": "%6f" % float(total_loss / (t + 1))})
        return total_loss / len(self.val_dataloader)

    def train(self):
        best_valid_loss = np.inf
        best_train_loss = np.inf
        self.saved = None
        for i in range(self.epoch):
            train_loss = self.train_fn(i)
            val_loss = self.eval_fn(i)
            if val_loss < best_valid_loss:
                buffer = io.BytesIO()
                torch.save(self.model.state_dict(), buffer)
                self.saved = buffer.getvalue()
                best_valid_loss = val_loss
                best_train_loss = train_loss
        return best_train_loss, best_valid_loss


def main(init):
    losses.clear()
    args = Args(batch_size=4, epochs=2, lr=1e-3, weight_decay=3e-2, patch_size=4, n_channels=3, latent_size=16,
                num_heads=2, num_encoders=2, dropout=0.0, img_size=16, num_classes=10)
    torch.manual_seed(0)
    device = torch.device("cpu")
    x, y = images(torch, 8, (3, 16, 16), 10, seed=7)
    xv, yv = images(torch, 4, (3, 16, 16), 10, seed=8)
    train_loader = DataLoader(TensorDataset(x, y), batch_size=args.batch_size, shuffle=False)
    valid_loader = DataLoader(TensorDataset(xv, yv), batch_size=args.batch_size, shuffle=False)
    model = init(torch, ViT(args).to(device))
    optimizer = optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scheduler = optim.lr_scheduler.LinearLR(optimizer, start_factor=0.5, total_iters=2)
    criterion = nn.CrossEntropyLoss()
    trainer = TrainEval(args, model, train_loader, valid_loader, optimizer, scheduler, criterion, device)
    best = trainer.train()
    state = torch.load(io.BytesIO(trainer.saved))
    return {"losses": losses, "metric": [list(best), state["embedding.class_token"].numpy(),
                                         state["MLPHead.2.weight"].numpy()]}
