"""PointNet classification, after fxia22/pointnet.pytorch (pointnet/model.py, utils/train_classification.py;
MIT): https://github.com/fxia22/pointnet.pytorch

An input ``STN3d`` and a feature ``STNkd`` (1x1 ``Conv1d``s, BatchNorm1d, ``torch.max(x, 2, keepdim=True)``,
fully connected layers, plus a flattened identity built with ``torch.from_numpy(...).view(1, k*k).repeat``),
points transformed by ``torch.bmm`` after ``transpose(2, 1)``, a global max-pooled feature, the classifier's
``F.log_softmax`` with ``F.nll_loss``, and ``feature_transform_regularizer`` (``torch.norm(I - A A^T, dim=(1,
2))``) weighted 0.001. Adapted: 64-point clouds of 3 made-up shapes (sphere, cube surface, cylinder) drawn with
NumPy, random rotations about the z axis; widths divided by 16 (64-8-64, 1024 -> 64); dropout 0; 5 Adam steps.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# Five batch norms in series over 8 clouds amplify rounding about a hundredfold: the first step's gradients
# already differ by 3e-5 relative in float32 (1e-14 in float64, the same factor), and Adam carries it on.
TOLERANCE = dict(rtol=5e-3, atol=1e-4)

class STNkd(nn.Module):
    def __init__(self, k=64):
        super(STNkd, self).__init__()
        self.conv1 = torch.nn.Conv1d(k, 8, 1)
        self.conv2 = torch.nn.Conv1d(8, 16, 1)
        self.conv3 = torch.nn.Conv1d(16, 64, 1)
        self.fc1 = nn.Linear(64, 32)
        self.fc2 = nn.Linear(32, 16)
        self.fc3 = nn.Linear(16, k * k)
        self.relu = nn.ReLU()
        self.bn1, self.bn2, self.bn3 = nn.BatchNorm1d(8), nn.BatchNorm1d(16), nn.BatchNorm1d(64)
        self.bn4, self.bn5 = nn.BatchNorm1d(32), nn.BatchNorm1d(16)
        self.k = k

    def forward(self, x):
        batchsize = x.size()[0]
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.relu(self.bn3(self.conv3(x)))
        x = torch.max(x, 2, keepdim=True)[0]
        x = x.view(-1, 64)
        x = F.relu(self.bn4(self.fc1(x)))
        x = F.relu(self.bn5(self.fc2(x)))
        x = self.fc3(x)
        iden = torch.from_numpy(np.eye(self.k).flatten().astype(np.float32)).view(1, self.k * self.k).repeat(
            batchsize, 1)
        x = x + iden
        return x.view(-1, self.k, self.k)


class PointNetfeat(nn.Module):
    def __init__(self, global_feat=True, feature_transform=False):
        super(PointNetfeat, self).__init__()
        self.stn = STNkd(k=3)
        self.conv1 = torch.nn.Conv1d(3, 8, 1)
        self.conv2 = torch.nn.Conv1d(8, 16, 1)
        self.conv3 = torch.nn.Conv1d(16, 64, 1)
        self.bn1, self.bn2, self.bn3 = nn.BatchNorm1d(8), nn.BatchNorm1d(16), nn.BatchNorm1d(64)
        self.global_feat = global_feat
        self.feature_transform = feature_transform
        if self.feature_transform:
            self.fstn = STNkd(k=8)

    def forward(self, x):
        n_pts = x.size()[2]
        trans = self.stn(x)
        x = x.transpose(2, 1)
        x = torch.bmm(x, trans)
        x = x.transpose(2, 1)
        x = F.relu(self.bn1(self.conv1(x)))
        if self.feature_transform:
            trans_feat = self.fstn(x)
            x = x.transpose(2, 1)
            x = torch.bmm(x, trans_feat)
            x = x.transpose(2, 1)
        else:
            trans_feat = None
        pointfeat = x
        x = F.relu(self.bn2(self.conv2(x)))
        x = self.bn3(self.conv3(x))
        x = torch.max(x, 2, keepdim=True)[0]
        x = x.view(-1, 64)
        if self.global_feat:
            return x, trans, trans_feat
        x = x.view(-1, 64, 1).repeat(1, 1, n_pts)
        return torch.cat([x, pointfeat], 1), trans, trans_feat


class PointNetCls(nn.Module):
    def __init__(self, k=2, feature_transform=False):
        super(PointNetCls, self).__init__()
        self.feature_transform = feature_transform
        self.feat = PointNetfeat(global_feat=True, feature_transform=feature_transform)
        self.fc1 = nn.Linear(64, 32)
        self.fc2 = nn.Linear(32, 16)
        self.fc3 = nn.Linear(16, k)
        self.dropout = nn.Dropout(p=0.0)
        self.bn1, self.bn2 = nn.BatchNorm1d(32), nn.BatchNorm1d(16)
        self.relu = nn.ReLU()

    def forward(self, x):
        x, trans, trans_feat = self.feat(x)
        x = F.relu(self.bn1(self.fc1(x)))
        x = F.relu(self.bn2(self.dropout(self.fc2(x))))
        x = self.fc3(x)
        return F.log_softmax(x, dim=1), trans, trans_feat


def feature_transform_regularizer(trans):
    d = trans.size()[1]
    I = torch.eye(d)[None, :, :]
    return torch.mean(torch.norm(torch.bmm(trans, trans.transpose(2, 1)) - I, dim=(1, 2)))


def clouds(n, rng):
    labels = rng.integers(0, 3, n)
    pts = []
    for label in labels:
        p = rng.standard_normal((64, 3))
        if label == 0:
            p /= np.linalg.norm(p, axis=1, keepdims=True)
        elif label == 1:
            p /= np.abs(p).max(axis=1, keepdims=True)
        else:
            p[:, :2] /= np.linalg.norm(p[:, :2], axis=1, keepdims=True)
            p[:, 2] = rng.uniform(-1, 1, 64)
        theta = rng.uniform(0, 2 * np.pi)
        rot = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
        pts.append(p @ rot + 0.02 * rng.standard_normal((64, 3)))
    return torch.from_numpy(np.stack(pts).astype(np.float32)), torch.from_numpy(labels)


def main(init):
    rng = np.random.default_rng(0)
    classifier = init(torch, PointNetCls(k=3, feature_transform=True))
    optimizer = torch.optim.Adam(classifier.parameters(), lr=0.001, betas=(0.9, 0.999))
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    losses = []
    for i in range(5):
        points, target = clouds(8, rng)
        points = points.transpose(2, 1)
        optimizer.zero_grad()
        classifier = classifier.train()
        pred, trans, trans_feat = classifier(points)
        loss = F.nll_loss(pred, target)
        loss += feature_transform_regularizer(trans_feat) * 0.001
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    classifier = classifier.eval()
    with torch.no_grad():
        points, target = clouds(6, rng)
        pred, trans, _ = classifier(points.transpose(2, 1))
        correct = pred.data.max(1)[1].eq(target.data).cpu().sum()
    return {"losses": losses, "metric": [pred.numpy(), correct.item()]}
