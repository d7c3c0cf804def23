"""PyTorch tutorials, Knowledge Distillation Tutorial:
https://github.com/pytorch/tutorials/blob/main/beginner_source/knowledge_distillation_tutorial.py (BSD-3-Clause).

The teacher (DeepNN) trained with cross-entropy; the student (LightNN) trained with the soft-target loss
(teacher under ``torch.no_grad`` and ``eval()``, softmax/log_softmax at temperature T, scaled by T**2) plus
cross-entropy; the cosine-loss variant (``nn.CosineEmbeddingLoss`` on hidden representations, the teacher's
reduced by ``avg_pool1d``); and, as distillation is also written, ``nn.KLDivLoss(reduction='batchmean')``
on the same soft targets. Adapted: fake 3x16x16 images instead of CIFAR-10 (so the flattened features are
32*4*4 and 16*4*4), channels 128/64 made 16/8, dropout 0, one epoch of 4 batches of 8 per training.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim

from _harness import images, loader

device = "cpu"


class DeepNN(nn.Module):
    def __init__(self, num_classes=10):
        super(DeepNN, self).__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 8, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(8, 8, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(512, 64),
            nn.ReLU(),
            nn.Dropout(0.0),
            nn.Linear(64, num_classes)
        )

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        x = self.classifier(x)
        return x


class LightNN(nn.Module):
    def __init__(self, num_classes=10):
        super(LightNN, self).__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(16, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(256, 32),
            nn.ReLU(),
            nn.Dropout(0.0),
            nn.Linear(32, num_classes)
        )

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        x = self.classifier(x)
        return x


class ModifiedDeepNNCosine(DeepNN):
    def forward(self, x):
        x = self.features(x)
        flattened_conv_output = torch.flatten(x, 1)
        x = self.classifier(flattened_conv_output)
        flattened_conv_output_after_pooling = torch.nn.functional.avg_pool1d(flattened_conv_output, 2)
        return x, flattened_conv_output_after_pooling


class ModifiedLightNNCosine(LightNN):
    def forward(self, x):
        x = self.features(x)
        flattened_conv_output = torch.flatten(x, 1)
        x = self.classifier(flattened_conv_output)
        return x, flattened_conv_output


def train(model, train_loader, epochs, learning_rate, device, losses):
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=learning_rate)
    model.to(device)
    model.train()
    for epoch in range(epochs):
        running_loss = 0.0
        for inputs, labels in train_loader:
            inputs, labels = inputs.to(device), labels.to(device)
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            losses.append(loss.item())


def test(model, test_loader, device, multiple_outputs=False):
    model.to(device)
    model.eval()
    correct = 0
    total = 0
    with torch.no_grad():
        for inputs, labels in test_loader:
            inputs, labels = inputs.to(device), labels.to(device)
            outputs = model(inputs)
            if multiple_outputs:
                outputs, _ = outputs
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    accuracy = 100 * correct / total
    return accuracy


def train_knowledge_distillation(teacher, student, train_loader, epochs, learning_rate, T, soft_target_loss_weight,
                                 ce_loss_weight, device, losses, use_kl_div=False):
    ce_loss = nn.CrossEntropyLoss()
    kl_div = nn.KLDivLoss(reduction="batchmean")
    optimizer = optim.Adam(student.parameters(), lr=learning_rate)
    teacher.to(device)
    student.to(device)
    teacher.eval()  # Teacher set to evaluation mode
    student.train()  # Student to train mode
    for epoch in range(epochs):
        running_loss = 0.0
        for inputs, labels in train_loader:
            inputs, labels = inputs.to(device), labels.to(device)
            optimizer.zero_grad()
            with torch.no_grad():
                teacher_logits = teacher(inputs)
            student_logits = student(inputs)
            soft_targets = nn.functional.softmax(teacher_logits / T, dim=-1)
            soft_prob = nn.functional.log_softmax(student_logits / T, dim=-1)
            if use_kl_div:
                soft_targets_loss = kl_div(soft_prob, soft_targets) * (T ** 2)
            else:
                soft_targets_loss = -torch.sum(soft_targets * soft_prob) / soft_prob.size()[0] * (T ** 2)
            label_loss = ce_loss(student_logits, labels)
            loss = soft_target_loss_weight * soft_targets_loss + ce_loss_weight * label_loss
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            losses.append(loss.item())


def train_cosine_loss(teacher, student, train_loader, epochs, learning_rate, hidden_rep_loss_weight, ce_loss_weight,
                      device, losses):
    ce_loss = nn.CrossEntropyLoss()
    cosine_loss = nn.CosineEmbeddingLoss()
    optimizer = optim.Adam(student.parameters(), lr=learning_rate)
    teacher.to(device)
    student.to(device)
    teacher.eval()
    student.train()
    for epoch in range(epochs):
        for inputs, labels in train_loader:
            inputs, labels = inputs.to(device), labels.to(device)
            optimizer.zero_grad()
            with torch.no_grad():
                _, teacher_hidden_representation = teacher(inputs)
            student_logits, student_hidden_representation = student(inputs)
            hidden_rep_loss = cosine_loss(student_hidden_representation, teacher_hidden_representation,
                                          target=torch.ones(inputs.size(0)).to(device))
            label_loss = ce_loss(student_logits, labels)
            loss = hidden_rep_loss_weight * hidden_rep_loss + ce_loss_weight * label_loss
            loss.backward()
            optimizer.step()
            losses.append(loss.item())


def main(init):
    train_loader = loader(torch, *images(torch, 32, (3, 16, 16), 10, seed=3), batch_size=8)
    test_loader = loader(torch, *images(torch, 16, (3, 16, 16), 10, seed=4), batch_size=8)
    losses = []
    torch.manual_seed(42)
    nn_deep = init(torch, DeepNN(num_classes=10), "deep")
    train(nn_deep, train_loader, epochs=1, learning_rate=0.001, device=device, losses=losses)
    acc = [test(nn_deep, test_loader, device)]
    # the students start equal: the tutorial seeds before building each
    torch.manual_seed(42)
    nn_light = init(torch, LightNN(num_classes=10), "light")
    torch.manual_seed(42)
    new_nn_light = init(torch, LightNN(num_classes=10), "light")
    torch.manual_seed(42)
    kl_nn_light = init(torch, LightNN(num_classes=10), "light")
    train(nn_light, train_loader, epochs=1, learning_rate=0.001, device=device, losses=losses)
    acc.append(test(nn_light, test_loader, device))
    train_knowledge_distillation(teacher=nn_deep, student=new_nn_light, train_loader=train_loader, epochs=1,
                                 learning_rate=0.001, T=2, soft_target_loss_weight=0.25, ce_loss_weight=0.75,
                                 device=device, losses=losses)
    acc.append(test(new_nn_light, test_loader, device))
    train_knowledge_distillation(teacher=nn_deep, student=kl_nn_light, train_loader=train_loader, epochs=1,
                                 learning_rate=0.001, T=2, soft_target_loss_weight=0.25, ce_loss_weight=0.75,
                                 device=device, losses=losses, use_kl_div=True)
    modified_nn_deep = ModifiedDeepNNCosine(num_classes=10)
    modified_nn_deep.load_state_dict(nn_deep.state_dict())
    torch.manual_seed(42)
    modified_light_nn = init(torch, ModifiedLightNNCosine(num_classes=10), "light")
    train_cosine_loss(teacher=modified_nn_deep, student=modified_light_nn, train_loader=train_loader, epochs=1,
                      learning_rate=0.001, hidden_rep_loss_weight=0.25, ce_loss_weight=0.75, device=device,
                      losses=losses)
    acc.append(test(modified_light_nn, test_loader, device, multiple_outputs=True))
    with torch.no_grad():
        x = next(iter(test_loader))[0]
        out = [m(x).numpy() for m in (nn_deep, new_nn_light, kl_nn_light)] + [modified_light_nn(x)[1].numpy()]
    assert np.allclose(torch.norm(modified_nn_deep.features[0].weight).item(),
                       torch.norm(nn_deep.features[0].weight).item())
    return {"losses": losses, "metric": [acc, out]}
