"""CleanRL's single-file PPO for discrete actions (https://github.com/vwxyzjn/cleanrl/blob/master/cleanrl/ppo.py,
MIT) on CartPole.

``layer_init`` with ``nn.init.orthogonal_`` and ``constant_``; rollout buffers preallocated with ``torch.zeros``
and filled by index; a ``Categorical`` policy's ``log_prob`` and ``entropy``; generalised advantage estimation
written backwards over the buffer; minibatches from shuffled indices; the clipped surrogate with
``torch.max``/``torch.clamp``, clipped value loss, ``approx_kl`` and clip fractions; learning-rate annealing by
writing ``optimizer.param_groups[0]["lr"]``; ``clip_grad_norm_``; explained variance with NumPy.
Adapted: the harness's CartPole dynamics instead of gym's vector env (2 envs stepped in a loop), 16 steps per
rollout, 2 iterations, 2 epochs of 4 minibatches, hidden 16; actions drawn by inverting the CDF at NumPy
uniforms (the library's sampler draws from its own stream) and scored with ``Categorical.log_prob``.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.distributions.categorical import Categorical

from _harness import Args, CartPole, sample

losses = []


def layer_init(layer, std=np.sqrt(2), bias_const=0.0):
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


class Agent(nn.Module):
    def __init__(self, obs_dim, n_actions):
        super().__init__()
        self.critic = nn.Sequential(
            layer_init(nn.Linear(obs_dim, 16)), nn.Tanh(),
            layer_init(nn.Linear(16, 16)), nn.Tanh(),
            layer_init(nn.Linear(16, 1), std=1.0))
        self.actor = nn.Sequential(
            layer_init(nn.Linear(obs_dim, 16)), nn.Tanh(),
            layer_init(nn.Linear(16, 16)), nn.Tanh(),
            layer_init(nn.Linear(16, n_actions), std=0.01))

    def get_value(self, x):
        return self.critic(x)

    def get_action_and_value(self, x, action=None, rng=None):
        logits = self.actor(x)
        probs = Categorical(logits=logits)
        if action is None:
            action = sample(torch, probs.probs, rng)
        return action, probs.log_prob(action), probs.entropy(), self.critic(x)


class Envs:
    """Two CartPoles stepped together, reset on episode end, as gym's SyncVectorEnv does."""

    def __init__(self, n):
        self.envs = [CartPole() for _ in range(n)]

    def reset(self, seed):
        return np.stack([e.reset(seed=seed + i)[0] for i, e in enumerate(self.envs)]), {}

    def step(self, actions):
        obs, rewards, terms, truncs = [], [], [], []
        for e, a in zip(self.envs, actions):
            o, r, term, trunc, _ = e.step(int(a))
            if term or trunc:
                o, _ = e.reset()
            obs.append(o), rewards.append(r), terms.append(term), truncs.append(trunc)
        return np.stack(obs), np.array(rewards), np.array(terms), np.array(truncs), {}


def main(init):
    losses.clear()
    args = Args(seed=1, num_envs=2, num_steps=16, learning_rate=2.5e-3, anneal_lr=True, gamma=0.99,
                gae_lambda=0.95, num_minibatches=4, update_epochs=2, norm_adv=True, clip_coef=0.2,
                clip_vloss=True, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5, target_kl=None, num_iterations=2)
    args.batch_size = int(args.num_envs * args.num_steps)
    args.minibatch_size = int(args.batch_size // args.num_minibatches)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    device = torch.device("cpu")
    envs = Envs(args.num_envs)
    agent = init(torch, Agent(4, 2).to(device))
    optimizer = optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)

    obs = torch.zeros((args.num_steps, args.num_envs) + (4,)).to(device)
    actions = torch.zeros((args.num_steps, args.num_envs)).to(device)
    logprobs = torch.zeros((args.num_steps, args.num_envs)).to(device)
    rewards = torch.zeros((args.num_steps, args.num_envs)).to(device)
    dones = torch.zeros((args.num_steps, args.num_envs)).to(device)
    values = torch.zeros((args.num_steps, args.num_envs)).to(device)

    next_obs, _ = envs.reset(seed=args.seed)
    next_obs = torch.Tensor(next_obs).to(device)
    next_done = torch.zeros(args.num_envs).to(device)
    stats = []
    for iteration in range(1, args.num_iterations + 1):
        if args.anneal_lr:
            frac = 1.0 - (iteration - 1.0) / args.num_iterations
            lrnow = frac * args.learning_rate
            optimizer.param_groups[0]["lr"] = lrnow
        for step in range(0, args.num_steps):
            obs[step] = next_obs
            dones[step] = next_done
            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(next_obs, rng=rng)
                values[step] = value.flatten()
            actions[step] = action
            logprobs[step] = logprob
            next_obs, reward, terminations, truncations, infos = envs.step(action.cpu().numpy())
            next_done = np.logical_or(terminations, truncations)
            rewards[step] = torch.tensor(reward).to(device).view(-1)
            next_obs, next_done = torch.Tensor(next_obs).to(device), torch.Tensor(next_done).to(device)

        with torch.no_grad():
            next_value = agent.get_value(next_obs).reshape(1, -1)
            advantages = torch.zeros_like(rewards).to(device)
            lastgaelam = 0
            for t in reversed(range(args.num_steps)):
                if t == args.num_steps - 1:
                    nextnonterminal = 1.0 - next_done
                    nextvalues = next_value
                else:
                    nextnonterminal = 1.0 - dones[t + 1]
                    nextvalues = values[t + 1]
                delta = rewards[t] + args.gamma * nextvalues * nextnonterminal - values[t]
                advantages[t] = lastgaelam = delta + args.gamma * args.gae_lambda * nextnonterminal * lastgaelam
            returns = advantages + values

        b_obs = obs.reshape((-1,) + (4,))
        b_logprobs = logprobs.reshape(-1)
        b_actions = actions.reshape((-1,))
        b_advantages = advantages.reshape(-1)
        b_returns = returns.reshape(-1)
        b_values = values.reshape(-1)

        b_inds = np.arange(args.batch_size)
        clipfracs = []
        for epoch in range(args.update_epochs):
            rng.shuffle(b_inds)
            for start in range(0, args.batch_size, args.minibatch_size):
                end = start + args.minibatch_size
                mb_inds = b_inds[start:end]
                _, newlogprob, entropy, newvalue = agent.get_action_and_value(b_obs[mb_inds], b_actions.long()[mb_inds])
                logratio = newlogprob - b_logprobs[mb_inds]
                ratio = logratio.exp()
                with torch.no_grad():
                    old_approx_kl = (-logratio).mean()
                    approx_kl = ((ratio - 1) - logratio).mean()
                    clipfracs += [((ratio - 1.0).abs() > args.clip_coef).float().mean().item()]
                mb_advantages = b_advantages[mb_inds]
                if args.norm_adv:
                    mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)
                pg_loss1 = -mb_advantages * ratio
                pg_loss2 = -mb_advantages * torch.clamp(ratio, 1 - args.clip_coef, 1 + args.clip_coef)
                pg_loss = torch.max(pg_loss1, pg_loss2).mean()
                newvalue = newvalue.view(-1)
                if args.clip_vloss:
                    v_loss_unclipped = (newvalue - b_returns[mb_inds]) ** 2
                    v_clipped = b_values[mb_inds] + torch.clamp(newvalue - b_values[mb_inds], -args.clip_coef,
                                                                args.clip_coef)
                    v_loss_clipped = (v_clipped - b_returns[mb_inds]) ** 2
                    v_loss_max = torch.max(v_loss_unclipped, v_loss_clipped)
                    v_loss = 0.5 * v_loss_max.mean()
                else:
                    v_loss = 0.5 * ((newvalue - b_returns[mb_inds]) ** 2).mean()
                entropy_loss = entropy.mean()
                loss = pg_loss - args.ent_coef * entropy_loss + v_loss * args.vf_coef
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()
                losses.append(loss.item())
            if args.target_kl is not None and approx_kl > args.target_kl:
                break
        y_pred, y_true = b_values.cpu().numpy(), b_returns.cpu().numpy()
        var_y = np.var(y_true)
        explained_var = np.nan if var_y == 0 else 1 - np.var(y_true - y_pred) / var_y
        stats.append([optimizer.param_groups[0]["lr"], v_loss.item(), pg_loss.item(), entropy_loss.item(),
                      old_approx_kl.item(), approx_kl.item(), float(np.mean(clipfracs)), float(explained_var)])
    return {"losses": losses, "metric": [stats, b_actions.numpy()]}
