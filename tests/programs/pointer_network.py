"""Pointer network learning to sort, after shirgur/PointerNet (PointerNet.py; read only):
https://github.com/shirgur/PointerNet

An LSTM encoder; a decoder that steps an ``nn.LSTMCell``-style hand-written cell (gates from two linears,
``chunk(4, 1)``), attends with ``V^T tanh(W1 e + W2 d)`` whose scores for already chosen inputs are set by
``masked_fill`` (the repo's ``self.inf``), picks the pointer with ``max(1)``, marks it in the mask with
``one_hot`` products, and feeds the chosen input's embedding (``gather`` of the embedded inputs through an
expanded index) as the next decoder input; the loss is the NLL of the pointer distributions against
``argsort``. Adapted: sequences of 5 numbers in [0, 1) from NumPy instead of convex-hull points; embedding 8,
hidden 16, one encoder layer, no dropout; 6 Adam steps.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Encoder(nn.Module):
    def __init__(self, embedding_dim, hidden_dim):
        super(Encoder, self).__init__()
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, 1, batch_first=True)

    def forward(self, embedded_inputs, hidden):
        return self.lstm(embedded_inputs, hidden)

    def init_hidden(self, embedded_inputs, hidden_dim):
        batch_size = embedded_inputs.size(0)
        h_0 = embedded_inputs.new_zeros(1, batch_size, hidden_dim)
        return h_0, h_0.clone()


class Attention(nn.Module):
    def __init__(self, input_dim, hidden_dim):
        super(Attention, self).__init__()
        self.input_linear = nn.Linear(input_dim, hidden_dim)
        self.context_linear = nn.Conv1d(input_dim, hidden_dim, 1, 1)
        self.V = nn.Parameter(torch.FloatTensor(hidden_dim), requires_grad=True)
        self._inf = nn.Parameter(torch.FloatTensor([float('-inf')]), requires_grad=False)
        nn.init.uniform_(self.V, -1, 1)

    def forward(self, input, context, mask):
        inp = self.input_linear(input).unsqueeze(2).expand(-1, -1, context.size(1))
        context = context.permute(0, 2, 1)
        ctx = self.context_linear(context)
        V = self.V.unsqueeze(0).expand(context.size(0), -1).unsqueeze(1)
        att = torch.bmm(V, torch.tanh(inp + ctx)).squeeze(1)
        if len(att[mask]) > 0:
            att[mask] = self.inf[mask]
        alpha = F.softmax(att, dim=1)
        hidden_state = torch.bmm(ctx, alpha.unsqueeze(2)).squeeze(2)
        return hidden_state, alpha

    def init_inf(self, mask_size):
        self.inf = self._inf.unsqueeze(1).expand(*mask_size)


class Decoder(nn.Module):
    def __init__(self, embedding_dim, hidden_dim):
        super(Decoder, self).__init__()
        self.hidden_dim = hidden_dim
        self.input_to_hidden = nn.Linear(embedding_dim, 4 * hidden_dim)
        self.hidden_to_hidden = nn.Linear(hidden_dim, 4 * hidden_dim)
        self.hidden_out = nn.Linear(hidden_dim * 2, hidden_dim)
        self.att = Attention(hidden_dim, hidden_dim)

    def forward(self, embedded_inputs, decoder_input, hidden, context):
        batch_size, input_length = embedded_inputs.size(0), embedded_inputs.size(1)
        mask = torch.ones(batch_size, input_length)
        self.att.init_inf(mask.size())
        runner = torch.arange(input_length).unsqueeze(0).expand(batch_size, -1).long()
        outputs, pointers = [], []

        def step(x, hidden):
            h, c = hidden
            gates = self.input_to_hidden(x) + self.hidden_to_hidden(h)
            input, forget, cell, out = gates.chunk(4, 1)
            input, forget, cell, out = torch.sigmoid(input), torch.sigmoid(forget), torch.tanh(cell), \
                torch.sigmoid(out)
            c_t = (forget * c) + (input * cell)
            h_t = out * torch.tanh(c_t)
            hidden_t, output = self.att(h_t, context, torch.eq(mask, 0))
            hidden_t = torch.tanh(self.hidden_out(torch.cat((hidden_t, h_t), 1)))
            return hidden_t, c_t, output

        for _ in range(input_length):
            h_t, c_t, outs = step(decoder_input, hidden)
            hidden = (h_t, c_t)
            masked_outs = outs * mask
            max_probs, indices = masked_outs.max(1)
            one_hot_pointers = (runner == indices.unsqueeze(1).expand(-1, outs.size()[1])).float()
            mask = mask * (1 - one_hot_pointers)
            embedding_mask = one_hot_pointers.unsqueeze(2).expand(-1, -1, embedded_inputs.size(2)).byte()
            decoder_input = embedded_inputs[embedding_mask.data.bool()].view(batch_size, embedded_inputs.size(2))
            outputs.append(outs.unsqueeze(0))
            pointers.append(indices.unsqueeze(1))
        outputs = torch.cat(outputs).permute(1, 0, 2)
        pointers = torch.cat(pointers, 1)
        return (outputs, pointers), hidden


class PointerNet(nn.Module):
    def __init__(self, embedding_dim, hidden_dim):
        super(PointerNet, self).__init__()
        self.hidden_dim = hidden_dim
        self.embedding = nn.Linear(1, embedding_dim)
        self.encoder = Encoder(embedding_dim, hidden_dim)
        self.decoder = Decoder(embedding_dim, hidden_dim)
        self.decoder_input0 = nn.Parameter(torch.FloatTensor(embedding_dim), requires_grad=False)
        nn.init.uniform_(self.decoder_input0, -1, 1)

    def forward(self, inputs):
        batch_size, input_length = inputs.size(0), inputs.size(1)
        decoder_input0 = self.decoder_input0.unsqueeze(0).expand(batch_size, -1)
        inputs = inputs.view(batch_size * input_length, -1)
        embedded_inputs = self.embedding(inputs).view(batch_size, input_length, -1)
        encoder_hidden0 = self.encoder.init_hidden(embedded_inputs, self.hidden_dim)
        encoder_outputs, encoder_hidden = self.encoder(embedded_inputs, encoder_hidden0)
        decoder_hidden0 = (encoder_hidden[0][-1], encoder_hidden[1][-1])
        (outputs, pointers), decoder_hidden = self.decoder(embedded_inputs, decoder_input0, decoder_hidden0,
                                                           encoder_outputs)
        return outputs, pointers


def main(init):
    rng = np.random.default_rng(0)
    model = init(torch, PointerNet(8, 16))
    optimizer = torch.optim.Adam(filter(lambda p: p.requires_grad, model.parameters()), lr=1e-2)
    losses = []
    for step in range(6):
        x = torch.from_numpy(rng.random((8, 5, 1)).astype(np.float32))
        target = x.squeeze(-1).argsort(1)
        o, p = model(x)
        o = o.contiguous().view(-1, o.size()[-1])
        loss = F.nll_loss(torch.log(o + 1e-12), target.view(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        x = torch.from_numpy(rng.random((4, 5, 1)).astype(np.float32))
        o, p = model(x)
    return {"losses": losses, "metric": [o.numpy(), p.numpy(), (p == x.squeeze(-1).argsort(1)).float().mean().item()]}
