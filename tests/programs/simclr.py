"""SimCLR after sthalles/SimCLR (simclr.py, models/resnet_simclr.py, utils.py, run.py; MIT License):
https://github.com/sthalles/SimCLR

The InfoNCE loss as the repository writes it (labels from ``unsqueeze`` equality, ``F.normalize``, the
similarity matrix with its diagonal dropped by a boolean ``eye`` mask and ``view``, positives and negatives
picked by boolean indexing and joined by ``cat``, divided by the temperature, cross-entropy against class 0),
``GradScaler``/``autocast`` disabled (fp16_precision off), Adam with weight decay, ``CosineAnnealingLR``
stepped after the warm-up epochs, and the top-k ``accuracy`` helper (``topk``, ``t()``, ``eq``,
``expand_as``, ``mul_``). The projection head replaces the backbone's ``fc`` by ``Sequential(Linear, ReLU,
fc)`` as ResNetSimCLR does. Adapted: torchvision's resnet18 is a two-block residual CNN with the same
``fc``/``avgpool`` layout; the two augmented views are random crops, flips and colour scaling drawn by NumPy
from fake 3x16x16 images; batch 8, 2 epochs of 3 batches, warm-up 1 epoch.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from _harness import Args

torch.manual_seed(0)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class TinyResNet(nn.Module):
    """resnet18's layout (conv1, bn1, relu, maxpool, layers, avgpool, fc), two small stages."""

    def __init__(self, num_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = BasicBlock(8, 8, 1)
        self.layer2 = BasicBlock(8, 16, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


class ResNetSimCLR(nn.Module):

    def __init__(self, base_model, out_dim):
        super(ResNetSimCLR, self).__init__()
        self.resnet_dict = {"resnet18": TinyResNet(num_classes=out_dim)}
        self.backbone = self._get_basemodel(base_model)
        dim_mlp = self.backbone.fc.in_features
        # add mlp projection head
        self.backbone.fc = nn.Sequential(nn.Linear(dim_mlp, dim_mlp), nn.ReLU(), self.backbone.fc)

    def _get_basemodel(self, model_name):
        return self.resnet_dict[model_name]

    def forward(self, x):
        return self.backbone(x)


def accuracy(output, target, topk=(1,)):
    """Computes the accuracy over the k top predictions for the specified values of k"""
    with torch.no_grad():
        maxk = max(topk)
        batch_size = target.size(0)
        _, pred = output.topk(maxk, 1, True, True)
        pred = pred.t()
        correct = pred.eq(target.view(1, -1).expand_as(pred))
        res = []
        for k in topk:
            correct_k = correct[:k].reshape(-1).float().sum(0, keepdim=True)
            res.append(correct_k.mul_(100.0 / batch_size))
        return res


class SimCLR(object):

    def __init__(self, *args, **kwargs):
        self.args = kwargs['args']
        self.model = kwargs['model'].to(self.args.device)
        self.optimizer = kwargs['optimizer']
        self.scheduler = kwargs['scheduler']
        self.criterion = torch.nn.CrossEntropyLoss().to(self.args.device)

    def info_nce_loss(self, features):
        labels = torch.cat([torch.arange(self.args.batch_size) for i in range(self.args.n_views)], dim=0)
        labels = (labels.unsqueeze(0) == labels.unsqueeze(1)).float()
        labels = labels.to(self.args.device)
        features = F.normalize(features, dim=1)
        similarity_matrix = torch.matmul(features, features.T)
        # discard the main diagonal from both: labels and similarities matrix
        mask = torch.eye(labels.shape[0], dtype=torch.bool).to(self.args.device)
        labels = labels[~mask].view(labels.shape[0], -1)
        similarity_matrix = similarity_matrix[~mask].view(similarity_matrix.shape[0], -1)
        # select and combine multiple positives
        positives = similarity_matrix[labels.bool()].view(labels.shape[0], -1)
        # select only the negatives the negatives
        negatives = similarity_matrix[~labels.bool()].view(similarity_matrix.shape[0], -1)
        logits = torch.cat([positives, negatives], dim=1)
        labels = torch.zeros(logits.shape[0], dtype=torch.long).to(self.args.device)
        logits = logits / self.args.temperature
        return logits, labels

    def train(self, train_loader, log):
        scaler = torch.amp.GradScaler('cpu', enabled=self.args.fp16_precision)
        n_iter = 0
        for epoch_counter in range(self.args.epochs):
            for images, _ in train_loader:
                images = torch.cat(images, dim=0)
                images = images.to(self.args.device)
                with torch.autocast('cpu', enabled=self.args.fp16_precision):
                    features = self.model(images)
                    logits, labels = self.info_nce_loss(features)
                    loss = self.criterion(logits, labels)
                self.optimizer.zero_grad()
                scaler.scale(loss).backward()
                scaler.step(self.optimizer)
                scaler.update()
                if n_iter % self.args.log_every_n_steps == 0:
                    top1, top5 = accuracy(logits, labels, topk=(1, 5))
                    log["acc"].append([top1[0].item(), top5[0].item(), self.scheduler.get_last_lr()[0]])
                log["losses"].append(loss.item())
                n_iter += 1
            # warmup for the first epochs
            if epoch_counter >= self.args.warmup:
                self.scheduler.step()


class ContrastiveViews(torch.utils.data.Dataset):
    """ContrastiveLearningViewGenerator's n_views augmented copies of each image (NumPy draws)."""

    def __init__(self, n, n_views, seed):
        rng = np.random.default_rng(seed)
        base = rng.standard_normal((n, 3, 20, 20)).astype(np.float32)
        self.items = []
        for img in base:
            views = []
            for _ in range(n_views):
                y, x = rng.integers(0, 5, 2)
                v = img[:, y:y + 16, x:x + 16]
                if rng.random() < 0.5:
                    v = v[:, :, ::-1]
                views.append(np.ascontiguousarray(v * rng.uniform(0.6, 1.4, (3, 1, 1)).astype(np.float32)))
            self.items.append(views)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return [torch.from_numpy(v) for v in self.items[i]], 0


def main(init):
    args = Args(device='cpu', batch_size=8, n_views=2, temperature=0.07, fp16_precision=False, epochs=2, lr=3e-4,
                weight_decay=1e-4, log_every_n_steps=2, warmup=1, out_dim=32)
    train_loader = torch.utils.data.DataLoader(ContrastiveViews(24, args.n_views, 0), batch_size=args.batch_size,
                                               shuffle=False, drop_last=True)
    model = init(torch, ResNetSimCLR(base_model='resnet18', out_dim=args.out_dim))
    optimizer = torch.optim.Adam(model.parameters(), args.lr, weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=len(train_loader), eta_min=0,
                                                           last_epoch=-1)
    log = {"losses": [], "acc": []}
    simclr = SimCLR(model=model, optimizer=optimizer, scheduler=scheduler, args=args)
    simclr.train(train_loader, log)
    model.eval()
    with torch.no_grad():
        test_views = ContrastiveViews(4, 1, 1)
        feats = model(torch.stack([test_views[i][0][0] for i in range(4)]))
    return {"losses": log["losses"], "metric": [log["acc"], feats.numpy()]}
