"""CleanRL's soft actor-critic for continuous actions: https://github.com/vwxyzjn/cleanrl
(cleanrl/sac_continuous_action.py; MIT License), on Pendulum.

Twin soft Q-networks fed ``torch.cat([x, a], 1)``, target networks loaded with ``load_state_dict`` and
Polyak-averaged through ``target_param.data.copy_(tau * param.data + (1 - tau) * target_param.data)``, a squashed
Gaussian actor (``tanh``-bounded log-std, ``Normal(mean, std).rsample()`` drawn from the seeded generator,
``log_prob`` minus the ``tanh`` change-of-variables term with ``-=``, ``action_scale``/``action_bias`` buffers),
the soft Bellman target under ``no_grad`` with ``torch.min`` of the twins, one Adam over two networks'
parameter lists, delayed policy updates, and automatic entropy tuning of a ``log_alpha`` leaf with
``-torch.prod(torch.Tensor(shape))`` as the target entropy. Adapted: gymnasium's Pendulum-v1 written out (same
dynamics and reward), the replay buffer and the warm-up actions drawn by NumPy, hidden size 32, 48 steps with
learning from step 16, batch 8.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

from _harness import Args


class Pendulum:
    """gymnasium's Pendulum-v1: swing a pendulum up with a torque in [-2, 2]."""

    max_speed, max_torque, dt, g, m, l = 8.0, 2.0, 0.05, 10.0, 1.0, 1.0
    low, high, obs_dim, act_dim = np.array([-2.0], np.float32), np.array([2.0], np.float32), 3, 1

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def reset(self):
        self.state, self.t = self.rng.uniform([-np.pi, -1.0], [np.pi, 1.0]), 0
        return self._obs()

    def _obs(self):
        th, thdot = self.state
        return np.array([np.cos(th), np.sin(th), thdot], dtype=np.float32)

    def step(self, u):
        th, thdot = self.state
        u = np.clip(u, -self.max_torque, self.max_torque)[0]
        costs = ((th + np.pi) % (2 * np.pi) - np.pi) ** 2 + 0.1 * thdot ** 2 + 0.001 * u ** 2
        newthdot = thdot + (3 * self.g / (2 * self.l) * np.sin(th) + 3.0 / (self.m * self.l ** 2) * u) * self.dt
        newthdot = np.clip(newthdot, -self.max_speed, self.max_speed)
        self.state, self.t = np.array([th + newthdot * self.dt, newthdot]), self.t + 1
        return self._obs(), -costs, False, self.t >= 200


class SoftQNetwork(nn.Module):
    def __init__(self, env, hidden=256):
        super().__init__()
        self.fc1 = nn.Linear(env.obs_dim + env.act_dim, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, 1)

    def forward(self, x, a):
        x = torch.cat([x, a], 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


LOG_STD_MAX = 2
LOG_STD_MIN = -5


class Actor(nn.Module):
    def __init__(self, env, hidden=256):
        super().__init__()
        self.fc1 = nn.Linear(env.obs_dim, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc_mean = nn.Linear(hidden, env.act_dim)
        self.fc_logstd = nn.Linear(hidden, env.act_dim)
        self.register_buffer("action_scale", torch.tensor((env.high - env.low) / 2.0, dtype=torch.float32))
        self.register_buffer("action_bias", torch.tensor((env.high + env.low) / 2.0, dtype=torch.float32))

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        mean = self.fc_mean(x)
        log_std = self.fc_logstd(x)
        log_std = torch.tanh(log_std)
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (log_std + 1)  # from SpinUp / Denis Yarats
        return mean, log_std

    def get_action(self, x):
        mean, log_std = self(x)
        std = log_std.exp()
        normal = torch.distributions.Normal(mean, std)
        x_t = normal.rsample()  # reparameterisation trick: mean + std * N(0, 1)
        y_t = torch.tanh(x_t)
        action = y_t * self.action_scale + self.action_bias
        log_prob = normal.log_prob(x_t)
        # enforcing the action bound
        log_prob -= torch.log(self.action_scale * (1 - y_t.pow(2)) + 1e-6)
        log_prob = log_prob.sum(1, keepdim=True)
        mean = torch.tanh(mean) * self.action_scale + self.action_bias
        return action, log_prob, mean


def main(init):
    args = Args(seed=1, total_timesteps=48, buffer_size=1000, gamma=0.99, tau=0.005, batch_size=8,
                learning_starts=16, policy_lr=3e-4, q_lr=1e-3, policy_frequency=2, target_network_frequency=1,
                autotune=True, hidden=32)
    torch.manual_seed(args.seed)  # rsample's draws: ember's generator gives torch's stream
    rng = np.random.default_rng(args.seed)
    env = Pendulum(args.seed)
    actor = init(torch, Actor(env, args.hidden), "actor")
    qf1 = init(torch, SoftQNetwork(env, args.hidden), "qf1")
    qf2 = init(torch, SoftQNetwork(env, args.hidden), "qf2")
    qf1_target = SoftQNetwork(env, args.hidden)
    qf2_target = SoftQNetwork(env, args.hidden)
    qf1_target.load_state_dict(qf1.state_dict())
    qf2_target.load_state_dict(qf2.state_dict())
    q_optimizer = optim.Adam(list(qf1.parameters()) + list(qf2.parameters()), lr=args.q_lr)
    actor_optimizer = optim.Adam(list(actor.parameters()), lr=args.policy_lr)
    target_entropy = -torch.prod(torch.Tensor((env.act_dim,))).item()
    log_alpha = torch.zeros(1, requires_grad=True)
    alpha = log_alpha.exp().item()
    a_optimizer = optim.Adam([log_alpha], lr=args.q_lr)
    buf = {k: np.zeros((args.buffer_size, n), np.float32)
           for k, n in (("obs", 3), ("next_obs", 3), ("actions", 1), ("rewards", 1), ("dones", 1))}
    obs, size, losses = env.reset(), 0, []
    for global_step in range(args.total_timesteps):
        if global_step < args.learning_starts:
            actions = rng.uniform(env.low, env.high).astype(np.float32)
        else:
            actions, _, _ = actor.get_action(torch.Tensor(obs).unsqueeze(0))
            actions = actions.detach().cpu().numpy()[0]
        next_obs, reward, termination, truncation = env.step(actions)
        for k, v in (("obs", obs), ("next_obs", next_obs), ("actions", actions), ("rewards", reward),
                     ("dones", termination)):
            buf[k][size] = v
        size += 1
        obs = next_obs
        if global_step > args.learning_starts:
            idx = rng.integers(0, size, args.batch_size)
            data = Args(**{k: torch.tensor(v[idx]) for k, v in buf.items()})
            with torch.no_grad():
                next_state_actions, next_state_log_pi, _ = actor.get_action(data.next_obs)
                qf1_next_target = qf1_target(data.next_obs, next_state_actions)
                qf2_next_target = qf2_target(data.next_obs, next_state_actions)
                min_qf_next_target = torch.min(qf1_next_target, qf2_next_target) - alpha * next_state_log_pi
                next_q_value = data.rewards.flatten() + (1 - data.dones.flatten()) * args.gamma * (
                    min_qf_next_target).view(-1)
            qf1_a_values = qf1(data.obs, data.actions).view(-1)
            qf2_a_values = qf2(data.obs, data.actions).view(-1)
            qf1_loss = F.mse_loss(qf1_a_values, next_q_value)
            qf2_loss = F.mse_loss(qf2_a_values, next_q_value)
            qf_loss = qf1_loss + qf2_loss
            q_optimizer.zero_grad()
            qf_loss.backward()
            q_optimizer.step()
            step_losses = [qf_loss.item()]
            if global_step % args.policy_frequency == 0:  # TD3-style delayed update, compensated by repeats
                for _ in range(args.policy_frequency):
                    pi, log_pi, _ = actor.get_action(data.obs)
                    qf1_pi = qf1(data.obs, pi)
                    qf2_pi = qf2(data.obs, pi)
                    min_qf_pi = torch.min(qf1_pi, qf2_pi)
                    actor_loss = ((alpha * log_pi) - min_qf_pi).mean()
                    actor_optimizer.zero_grad()
                    actor_loss.backward()
                    actor_optimizer.step()
                    if args.autotune:
                        with torch.no_grad():
                            _, log_pi, _ = actor.get_action(data.obs)
                        alpha_loss = (-log_alpha.exp() * (log_pi + target_entropy)).mean()
                        a_optimizer.zero_grad()
                        alpha_loss.backward()
                        a_optimizer.step()
                        alpha = log_alpha.exp().item()
                    step_losses += [actor_loss.item(), alpha_loss.item(), alpha]
            if global_step % args.target_network_frequency == 0:
                for param, target_param in zip(qf1.parameters(), qf1_target.parameters()):
                    target_param.data.copy_(args.tau * param.data + (1 - args.tau) * target_param.data)
                for param, target_param in zip(qf2.parameters(), qf2_target.parameters()):
                    target_param.data.copy_(args.tau * param.data + (1 - args.tau) * target_param.data)
            losses.append(step_losses)
    with torch.no_grad():
        _, _, mean_action = actor.get_action(torch.Tensor(obs).unsqueeze(0))
    return {"losses": losses, "metric": [mean_action.item(), qf1_target.fc3.bias.item(), alpha]}
