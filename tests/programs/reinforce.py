"""pytorch/examples reinforcement_learning/reinforce.py:
https://github.com/pytorch/examples/blob/main/reinforcement_learning/reinforce.py (BSD-3-Clause).

Adapted: CartPole stepped by _harness.CartPole (gymnasium's dynamics) instead of gym.make; ``m.sample()``
inverts the CDF at a NumPy uniform (the libraries' random streams differ); dropout 0; six episodes.
"""
from collections import deque
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
draws = np.random.default_rng(0)


class Policy(nn.Module):
    def __init__(self):
        super(Policy, self).__init__()
        self.affine1 = nn.Linear(4, 128)
        self.dropout = nn.Dropout(p=0.0)
        self.affine2 = nn.Linear(128, 2)
        self.saved_log_probs = []
        self.rewards = []

    def forward(self, x):
        x = self.affine1(x)
        x = self.dropout(x)
        x = F.relu(x)
        action_scores = self.affine2(x)
        return F.softmax(action_scores, dim=1)


def main(init):
    global draws
    draws = np.random.default_rng(0)
    env.reset(seed=args.seed)
    torch.manual_seed(args.seed)
    policy = init(torch, Policy())
    optimizer = optim.Adam(policy.parameters(), lr=1e-2)
    eps = np.finfo(np.float32).eps.item()
    losses, episode_rewards = [], []

    def select_action(state):
        state = torch.from_numpy(state).float().unsqueeze(0)
        probs = policy(state)
        m = Categorical(probs)
        action = sample(torch, probs, draws)
        policy.saved_log_probs.append(m.log_prob(action))
        return action.item()

    def finish_episode():
        R = 0
        policy_loss = []
        returns = deque()
        for r in policy.rewards[::-1]:
            R = r + args.gamma * R
            returns.appendleft(R)
        returns = torch.tensor(returns)
        returns = (returns - returns.mean()) / (returns.std() + eps)
        for log_prob, R in zip(policy.saved_log_probs, returns):
            policy_loss.append(-log_prob * R)
        optimizer.zero_grad()
        policy_loss = torch.cat(policy_loss).sum()
        policy_loss.backward()
        optimizer.step()
        losses.append(policy_loss.item())
        del policy.rewards[:]
        del policy.saved_log_probs[:]

    running_reward = 10
    for i_episode in count(1):
        state, _ = env.reset()
        ep_reward = 0
        for t in range(1, 10000):  # Don't infinite loop while learning
            action = select_action(state)
            state, reward, terminated, truncated, _ = env.step(action)
            policy.rewards.append(reward)
            ep_reward += reward
            if terminated or truncated:
                break
        episode_rewards.append(ep_reward)
        running_reward = 0.05 * ep_reward + (1 - 0.05) * running_reward
        finish_episode()
        if i_episode == 6:
            break
    return {"losses": losses, "metric": [episode_rewards, running_reward]}
