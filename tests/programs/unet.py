"""U-Net segmentation after milesial/Pytorch-UNet (unet/unet_parts.py, unet/unet_model.py, train.py,
evaluate.py, utils/dice_score.py; GPL-3.0, so this is our own writing of the same model and loop):
https://github.com/milesial/Pytorch-UNet

``ConvTranspose2d`` (and, in a second model, bilinear ``nn.Upsample(align_corners=True)``) up-sampling, skip
connections joined with ``torch.cat`` after ``F.pad`` makes odd sizes meet, channels-last memory format,
cross-entropy plus a Dice loss over ``F.one_hot(...).permute``, RMSprop with foreach, ``ReduceLROnPlateau`` on
the validation Dice, a disabled ``GradScaler`` and ``autocast(enabled=False)`` as the script runs without
--amp, and gradient clipping. Adapted: 18x18 fake images (odd sizes at every level), channels 4 to 32 instead
of 64 to 1024, 8 images in batches of 4, one epoch.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import optim

losses = []


class DoubleConv(nn.Module):
    """(convolution => [BN] => ReLU) * 2"""

    def __init__(self, in_channels, out_channels, mid_channels=None):
        super().__init__()
        if not mid_channels:
            mid_channels = out_channels
        self.double_conv = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(mid_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True))

    def forward(self, x):
        return self.double_conv(x)


class Down(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))

    def forward(self, x):
        return self.maxpool_conv(x)


class Up(nn.Module):
    def __init__(self, in_channels, out_channels, bilinear=True):
        super().__init__()
        if bilinear:
            self.up = nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True)
            self.conv = DoubleConv(in_channels, out_channels, in_channels // 2)
        else:
            self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
            self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, x1, x2):
        x1 = self.up(x1)
        # inputs are CHW; pad the up-sampled map to the skip connection's size
        diffY = x2.size()[2] - x1.size()[2]
        diffX = x2.size()[3] - x1.size()[3]
        x1 = F.pad(x1, [diffX // 2, diffX - diffX // 2, diffY // 2, diffY - diffY // 2])
        x = torch.cat([x2, x1], dim=1)
        return self.conv(x)


class OutConv(nn.Module):
    def __init__(self, in_channels, out_channels):
        super(OutConv, self).__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)

    def forward(self, x):
        return self.conv(x)


class UNet(nn.Module):
    def __init__(self, n_channels, n_classes, bilinear=False, width=4):
        super(UNet, self).__init__()
        self.n_channels = n_channels
        self.n_classes = n_classes
        self.bilinear = bilinear
        w = width
        self.inc = DoubleConv(n_channels, w)
        self.down1 = Down(w, 2 * w)
        self.down2 = Down(2 * w, 4 * w)
        self.down3 = Down(4 * w, 8 * w)
        factor = 2 if bilinear else 1
        self.down4 = Down(8 * w, 16 * w // factor)
        self.up1 = Up(16 * w, 8 * w // factor, bilinear)
        self.up2 = Up(8 * w, 4 * w // factor, bilinear)
        self.up3 = Up(4 * w, 2 * w // factor, bilinear)
        self.up4 = Up(2 * w, w, bilinear)
        self.outc = OutConv(w, n_classes)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        x = self.up1(x5, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        x = self.up4(x, x1)
        return self.outc(x)


def dice_coeff(input, target, reduce_batch_first=False, epsilon=1e-6):
    assert input.size() == target.size()
    assert input.dim() == 3 or not reduce_batch_first
    sum_dim = (-1, -2) if input.dim() == 2 or not reduce_batch_first else (-1, -2, -3)
    inter = 2 * (input * target).sum(dim=sum_dim)
    sets_sum = input.sum(dim=sum_dim) + target.sum(dim=sum_dim)
    sets_sum = torch.where(sets_sum == 0, inter, sets_sum)
    dice = (inter + epsilon) / (sets_sum + epsilon)
    return dice.mean()


def multiclass_dice_coeff(input, target, reduce_batch_first=False, epsilon=1e-6):
    return dice_coeff(input.flatten(0, 1), target.flatten(0, 1), reduce_batch_first, epsilon)


def dice_loss(input, target, multiclass=False):
    fn = multiclass_dice_coeff if multiclass else dice_coeff
    return 1 - fn(input, target, reduce_batch_first=True)


@torch.inference_mode()
def evaluate(net, dataloader, device, amp):
    net.eval()
    num_val_batches = len(dataloader)
    dice_score = 0
    with torch.autocast(device.type if device.type != 'mps' else 'cpu', enabled=amp):
        for batch in dataloader:
            image, mask_true = batch['image'], batch['mask']
            image = image.to(device=device, dtype=torch.float32, memory_format=torch.channels_last)
            mask_true = mask_true.to(device=device, dtype=torch.long)
            mask_pred = net(image)
            mask_true = F.one_hot(mask_true, net.n_classes).permute(0, 3, 1, 2).float()
            mask_pred = F.one_hot(mask_pred.argmax(dim=1), net.n_classes).permute(0, 3, 1, 2).float()
            dice_score += multiclass_dice_coeff(mask_pred[:, 1:], mask_true[:, 1:], reduce_batch_first=False)
    net.train()
    return dice_score / max(num_val_batches, 1)


class SegmentationSet(torch.utils.data.Dataset):
    """Images with a bright blob; the mask marks the blob (class 1) and a corner (class 2)."""

    def __init__(self, n, size, seed):
        rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[:size, :size]
        self.items = []
        for _ in range(n):
            cy, cx, r = rng.uniform(4, size - 4, 2).tolist() + [rng.uniform(2, 5)]
            mask = ((yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2).astype(np.int64)
            mask[:3, :3] = 2
            image = rng.normal(0, 0.3, (3, size, size)) + mask[None] * np.array([1.0, 0.5, -0.5])[:, None, None]
            self.items.append((image.astype(np.float32), mask))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, idx):
        image, mask = self.items[idx]
        return {'image': torch.as_tensor(image.copy()).float().contiguous(),
                'mask': torch.as_tensor(mask.copy()).long().contiguous()}


def train_model(model, device, epochs=1, batch_size=4, learning_rate=1e-3, amp=False, weight_decay=1e-8,
                momentum=0.999, gradient_clipping=1.0):
    train_loader = torch.utils.data.DataLoader(SegmentationSet(8, 18, 0), shuffle=False, batch_size=batch_size)
    val_loader = torch.utils.data.DataLoader(SegmentationSet(4, 18, 1), shuffle=False, drop_last=True,
                                             batch_size=batch_size)
    optimizer = optim.RMSprop(model.parameters(), lr=learning_rate, weight_decay=weight_decay, momentum=momentum,
                              foreach=True)
    scheduler = optim.lr_scheduler.ReduceLROnPlateau(optimizer, 'max', patience=5)
    grad_scaler = torch.amp.GradScaler(device.type, enabled=amp)
    criterion = nn.CrossEntropyLoss() if model.n_classes > 1 else nn.BCEWithLogitsLoss()
    scores = []
    for epoch in range(1, epochs + 1):
        model.train()
        for batch in train_loader:
            images, true_masks = batch['image'], batch['mask']
            assert images.shape[1] == model.n_channels
            images = images.to(device=device, dtype=torch.float32, memory_format=torch.channels_last)
            true_masks = true_masks.to(device=device, dtype=torch.long)
            with torch.autocast(device.type if device.type != 'mps' else 'cpu', enabled=amp):
                masks_pred = model(images)
                loss = criterion(masks_pred, true_masks)
                loss += dice_loss(F.softmax(masks_pred, dim=1).float(),
                                  F.one_hot(true_masks, model.n_classes).permute(0, 3, 1, 2).float(),
                                  multiclass=True)
            optimizer.zero_grad(set_to_none=True)
            grad_scaler.scale(loss).backward()
            grad_scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), gradient_clipping)
            grad_scaler.step(optimizer)
            grad_scaler.update()
            losses.append(loss.item())
        val_score = evaluate(model, val_loader, device, amp)
        scheduler.step(val_score)
        scores.append(float(val_score))
    return scores


def main(init):
    losses.clear()
    torch.manual_seed(0)
    device = torch.device('cpu')
    model = UNet(n_channels=3, n_classes=3, bilinear=False)
    model = init(torch, model.to(memory_format=torch.channels_last))
    model.to(device=device)
    scores = train_model(model, device)
    bilinear = init(torch, UNet(n_channels=3, n_classes=3, bilinear=True), "bilinear")
    bilinear.eval()  # as predict.py does: one image reaches 1x1 at the bottom
    with torch.no_grad():
        out = bilinear(SegmentationSet(2, 18, 2)[0]['image'].unsqueeze(0))
    return {"losses": losses, "metric": [scores, out.numpy()]}
