"""pytorch/examples reinforcement_learning/actor_critic.py:
https://github.com/pytorch/examples/blob/main/reinforcement_learning/actor_critic.py (BSD-3-Clause).

Adapted: CartPole stepped by _harness.CartPole (gymnasium's dynamics) instead of gym.make; ``m.sample()``
inverts the CDF at a NumPy uniform (the libraries' random streams differ); six episodes.
"""
from collections import namedtuple
from itertools import count

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.distributions import Categorical

from _harness import Args, CartPole, sample

args = Args(gamma=0.99, seed=543, render=False, log_interval=10)
env = CartPole(max_steps=60)
SavedAction = namedtuple('SavedAction', ['log_prob', 'value'])
draws = np.random.default_rng(0)


class Policy(nn.Module):
    """
    implements both actor and critic in one model
    """
    def __init__(self):
        super(Policy, self).__init__()
        self.affine1 = nn.Linear(4, 128)
        self.action_head = nn.Linear(128, 2)
        self.value_head = nn.Linear(128, 1)
        self.saved_actions = []
        self.rewards = []

    def forward(self, x):
        x = F.relu(self.affine1(x))
        action_prob = F.softmax(self.action_head(x), dim=-1)
        state_values = self.value_head(x)
        return action_prob, state_values


def main(init):
    global draws
    draws = np.random.default_rng(1)
    env.reset(seed=args.seed)
    torch.manual_seed(args.seed)
    model = init(torch, Policy())
    optimizer = optim.Adam(model.parameters(), lr=3e-2)
    eps = np.finfo(np.float32).eps.item()
    losses, episode_rewards = [], []

    def select_action(state):
        state = torch.from_numpy(state).float()
        probs, state_value = model(state)
        m = Categorical(probs)
        action = sample(torch, probs, draws)
        model.saved_actions.append(SavedAction(m.log_prob(action), state_value))
        return action.item()

    def finish_episode():
        R = 0
        saved_actions = model.saved_actions
        policy_losses = []
        value_losses = []
        returns = []
        for r in model.rewards[::-1]:
            R = r + args.gamma * R
            returns.insert(0, R)
        returns = torch.tensor(returns)
        returns = (returns - returns.mean()) / (returns.std() + eps)
        for (log_prob, value), R in zip(saved_actions, returns):
            advantage = R - value.item()
            policy_losses.append(-log_prob * advantage)
            value_losses.append(F.smooth_l1_loss(value, torch.tensor([R])))
        optimizer.zero_grad()
        loss = torch.stack(policy_losses).sum() + torch.stack(value_losses).sum()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        del model.rewards[:]
        del model.saved_actions[:]

    running_reward = 10
    for i_episode in count(1):
        state, _ = env.reset()
        ep_reward = 0
        for t in range(1, 10000):
            action = select_action(state)
            state, reward, terminated, truncated, _ = env.step(action)
            model.rewards.append(reward)
            ep_reward += reward
            if terminated or truncated:
                break
        episode_rewards.append(ep_reward)
        running_reward = 0.05 * ep_reward + (1 - 0.05) * running_reward
        finish_episode()
        if i_episode == 6:
            break
    return {"losses": losses, "metric": [episode_rewards, running_reward]}
