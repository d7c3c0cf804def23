"""PyTorch tutorial "Neural Transfer Using PyTorch" (Alexis Jacq, Winston Herring):
https://pytorch.org/tutorials/advanced/neural_style_tutorial.html (BSD-3-Clause), Gatys et al.'s style transfer.

The image itself is optimised by ``optim.LBFGS([input_img])`` through a closure that clamps it in place under
``no_grad``; transparent ``ContentLoss``/``StyleLoss`` modules (Gram matrices by ``view`` and ``mm``, detached
targets) are inserted into a new ``nn.Sequential`` built by walking ``cnn.children()`` with ``isinstance`` and
``add_module``, in-place ReLUs swapped for out-of-place ones, the model sliced after its last loss layer, and the
network frozen with ``eval()`` and ``requires_grad_(False)``; style and content scores accumulated with ``+=``
and ``*=``. Adapted: VGG19's pretrained features replaced by a small conv stack with recorded weights (no
downloads); 16x16 images drawn by NumPy; 12 closure evaluations instead of 300.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


# L-BFGS in float32 multiplies last-bit differences a few times an iteration (torch's own AVX2 and AVX-512 kernels
# differ in them): the first evaluations agree to 1e-5, the last of the 19 to about 1%
TOLERANCE = dict(rtol=3e-2, atol=1e-5)


class ContentLoss(nn.Module):
    def __init__(self, target, ):
        super(ContentLoss, self).__init__()
        # a stated value, not a variable: detached so it is no part of the graph
        self.target = target.detach()

    def forward(self, input):
        self.loss = F.mse_loss(input, self.target)
        return input


def gram_matrix(input):
    a, b, c, d = input.size()  # batch, feature maps, spatial dims
    features = input.view(a * b, c * d)
    G = torch.mm(features, features.t())
    return G.div(a * b * c * d)


class StyleLoss(nn.Module):
    def __init__(self, target_feature):
        super(StyleLoss, self).__init__()
        self.target = gram_matrix(target_feature).detach()

    def forward(self, input):
        G = gram_matrix(input)
        self.loss = F.mse_loss(G, self.target)
        return input


class Normalization(nn.Module):
    def __init__(self, mean, std):
        super(Normalization, self).__init__()
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)

    def forward(self, img):
        return (img - self.mean) / self.std


content_layers_default = ['conv_4']
style_layers_default = ['conv_1', 'conv_2', 'conv_3', 'conv_4']


def get_style_model_and_losses(cnn, normalization_mean, normalization_std, style_img, content_img,
                               content_layers=content_layers_default, style_layers=style_layers_default):
    normalization = Normalization(normalization_mean, normalization_std)
    content_losses = []
    style_losses = []
    model = nn.Sequential(normalization)
    i = 0
    for layer in cnn.children():
        if isinstance(layer, nn.Conv2d):
            i += 1
            name = 'conv_{}'.format(i)
        elif isinstance(layer, nn.ReLU):
            name = 'relu_{}'.format(i)
            # the in-place ReLU would overwrite what the loss modules keep
            layer = nn.ReLU(inplace=False)
        elif isinstance(layer, nn.MaxPool2d):
            name = 'pool_{}'.format(i)
        elif isinstance(layer, nn.BatchNorm2d):
            name = 'bn_{}'.format(i)
        else:
            raise RuntimeError('Unrecognized layer: {}'.format(layer.__class__.__name__))
        model.add_module(name, layer)
        if name in content_layers:
            target = model(content_img).detach()
            content_loss = ContentLoss(target)
            model.add_module("content_loss_{}".format(i), content_loss)
            content_losses.append(content_loss)
        if name in style_layers:
            target_feature = model(style_img).detach()
            style_loss = StyleLoss(target_feature)
            model.add_module("style_loss_{}".format(i), style_loss)
            style_losses.append(style_loss)
    for i in range(len(model) - 1, -1, -1):
        if isinstance(model[i], ContentLoss) or isinstance(model[i], StyleLoss):
            break
    model = model[:(i + 1)]
    return model, style_losses, content_losses


def get_input_optimizer(input_img):
    return optim.LBFGS([input_img])


def run_style_transfer(cnn, normalization_mean, normalization_std, content_img, style_img, input_img,
                       num_steps=300, style_weight=1000000, content_weight=1, history=None):
    model, style_losses, content_losses = get_style_model_and_losses(cnn, normalization_mean, normalization_std,
                                                                     style_img, content_img)
    input_img.requires_grad_(True)
    model.eval()
    model.requires_grad_(False)
    optimizer = get_input_optimizer(input_img)
    run = [0]
    while run[0] <= num_steps:
        def closure():
            with torch.no_grad():
                input_img.clamp_(0, 1)
            optimizer.zero_grad()
            model(input_img)
            style_score = 0
            content_score = 0
            for sl in style_losses:
                style_score += sl.loss
            for cl in content_losses:
                content_score += cl.loss
            style_score *= style_weight
            content_score *= content_weight
            loss = style_score + content_score
            loss.backward()
            run[0] += 1
            history.append([style_score.item(), content_score.item()])
            return style_score + content_score
        optimizer.step(closure)
    with torch.no_grad():
        input_img.clamp_(0, 1)
    return input_img, model


def main(init):
    rng = np.random.default_rng(0)
    style_img = torch.tensor(rng.random((1, 3, 16, 16)), dtype=torch.float32)
    content_img = torch.tensor(rng.random((1, 3, 16, 16)), dtype=torch.float32)
    cnn = init(torch, nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(inplace=True),
        nn.MaxPool2d(2, 2), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2),
        nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(inplace=True))).eval()
    cnn_normalization_mean = [0.485, 0.456, 0.406]
    cnn_normalization_std = [0.229, 0.224, 0.225]
    input_img = content_img.clone()
    history = []
    output, model = run_style_transfer(cnn, cnn_normalization_mean, cnn_normalization_std, content_img, style_img,
                                       input_img, num_steps=12, style_weight=1e4, history=history)
    return {"losses": history,
            "metric": [[name for name, _ in model.named_children()], output.mean().item(), output.std().item()]}
