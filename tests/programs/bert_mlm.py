"""BERT-style masked-language-model pretraining after Hugging Face transformers' run_mlm_no_trainer.py and
DataCollatorForLanguageModeling (examples/pytorch/language-modeling/run_mlm_no_trainer.py,
src/transformers/data/data_collator.py; Apache-2.0): https://github.com/huggingface/transformers

The collator's masking as written there (``torch.full`` probabilities, ``masked_fill_`` of special tokens,
labels -100 where nothing is masked, 80% [MASK], 10% random words, 10% kept), padding to the longest
sequence with an attention mask; a BertForMaskedLM-shaped model (word + position + token-type embeddings,
LayerNorm, an encoder, the prediction head's dense/GELU/LayerNorm transform and a decoder whose weight is
tied to the word embeddings plus its own bias); the script's AdamW groups (no decay for bias and LayerNorm
weights), ``get_linear_schedule_with_warmup`` (a LambdaLR), gradient accumulation, and the evaluation's
perplexity ``math.exp`` of the mean loss (the eval logits compared at every position: torch's encoder runs
inference on nested tensors, leaving zeros at padded positions). Adapted: the encoder is
``nn.TransformerEncoder`` (post-norm GELU layers with a ``src_key_padding_mask``) instead of BertEncoder; a
synthetic corpus and a 40-token vocabulary instead of a tokenizer; hidden 32, 2 layers, 4 heads, dropout 0;
the Bernoulli and random-word draws come from NumPy; 12 batches of 8, accumulation 2.
"""
import math

import numpy as np
import torch
from torch import nn

PAD, CLS, SEP, MASK = 0, 1, 2, 3
VOCAB = 40


class DataCollatorForLanguageModeling:
    def __init__(self, mlm_probability=0.15, seed=0):
        self.mlm_probability = mlm_probability
        self.rng = np.random.default_rng(seed)

    def bernoulli(self, probs):
        return torch.tensor(self.rng.random(tuple(probs.shape)) < probs.numpy())

    def __call__(self, examples):
        longest = max(len(e) for e in examples)
        input_ids = torch.full((len(examples), longest), PAD, dtype=torch.long)
        attention_mask = torch.zeros((len(examples), longest), dtype=torch.long)
        for i, e in enumerate(examples):
            input_ids[i, :len(e)] = torch.tensor(e)
            attention_mask[i, :len(e)] = 1
        special_tokens_mask = (input_ids == PAD) | (input_ids == CLS) | (input_ids == SEP)
        inputs, labels = self.torch_mask_tokens(input_ids, special_tokens_mask)
        return {"input_ids": inputs, "attention_mask": attention_mask, "labels": labels}

    def torch_mask_tokens(self, inputs, special_tokens_mask):
        labels = inputs.clone()
        # We sample a few tokens in each sequence for MLM training (with probability `self.mlm_probability`)
        probability_matrix = torch.full(labels.shape, self.mlm_probability)
        special_tokens_mask = special_tokens_mask.bool()
        probability_matrix.masked_fill_(special_tokens_mask, value=0.0)
        masked_indices = self.bernoulli(probability_matrix).bool()
        labels[~masked_indices] = -100  # We only compute loss on masked tokens
        # 80% of the time, we replace masked input tokens with tokenizer.mask_token ([MASK])
        indices_replaced = self.bernoulli(torch.full(labels.shape, 0.8)).bool() & masked_indices
        inputs[indices_replaced] = MASK
        # 10% of the time, we replace masked input tokens with random word
        indices_random = self.bernoulli(torch.full(labels.shape, 0.5)).bool() & masked_indices & ~indices_replaced
        random_words = torch.tensor(self.rng.integers(0, VOCAB, tuple(labels.shape)))
        inputs[indices_random] = random_words[indices_random]
        # The rest of the time (10% of the time) we keep the masked input tokens unchanged
        return inputs, labels


class BertEmbeddings(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=PAD)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(2, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=1e-12)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.register_buffer("position_ids", torch.arange(config.max_position_embeddings).expand((1, -1)),
                             persistent=False)

    def forward(self, input_ids):
        seq_length = input_ids.size(1)
        position_ids = self.position_ids[:, :seq_length]
        token_type_ids = torch.zeros(input_ids.size(), dtype=torch.long)
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class BertLMPredictionHead(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.transform_act_fn = nn.GELU()
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=1e-12)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.decoder.bias = self.bias

    def forward(self, hidden_states):
        hidden_states = self.LayerNorm(self.transform_act_fn(self.dense(hidden_states)))
        return self.decoder(hidden_states)


class BertForMaskedLM(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        layer = nn.TransformerEncoderLayer(config.hidden_size, config.num_attention_heads,
                                           config.intermediate_size, dropout=config.hidden_dropout_prob,
                                           activation="gelu", layer_norm_eps=1e-12, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.num_hidden_layers)
        self.cls = BertLMPredictionHead(config)
        self.apply(self._init_weights)
        self.tie_weights()

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=self.config.initializer_range)
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(mean=0.0, std=self.config.initializer_range)
            if module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)

    def tie_weights(self):
        self.cls.decoder.weight = self.embeddings.word_embeddings.weight

    def forward(self, input_ids, attention_mask=None, labels=None):
        hidden = self.embeddings(input_ids)
        hidden = self.encoder(hidden, src_key_padding_mask=attention_mask == 0)
        prediction_scores = self.cls(hidden)
        masked_lm_loss = None
        if labels is not None:
            loss_fct = nn.CrossEntropyLoss()  # -100 index = padding token
            masked_lm_loss = loss_fct(prediction_scores.view(-1, self.config.vocab_size), labels.view(-1))
        return masked_lm_loss, prediction_scores


class Config:
    vocab_size = VOCAB
    hidden_size = 32
    num_hidden_layers = 2
    num_attention_heads = 4
    intermediate_size = 64
    hidden_dropout_prob = 0.0
    max_position_embeddings = 32
    initializer_range = 0.02


def get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps, last_epoch=-1):
    def lr_lambda(current_step: int):
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        return max(0.0, float(num_training_steps - current_step)
                   / float(max(1, num_training_steps - num_warmup_steps)))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda, last_epoch)


def corpus(n, seed):
    """Sentences with structure: each word mostly follows from the one before; lengths 6..14."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        words = [int(rng.integers(4, VOCAB))]
        for _ in range(int(rng.integers(4, 13))):
            words.append(4 + (words[-1] * 3 + 1) % (VOCAB - 4) if rng.random() < 0.85 else int(rng.integers(4, VOCAB)))
        out.append([CLS] + words + [SEP])
    return out


def main(init):
    collator = DataCollatorForLanguageModeling(mlm_probability=0.15, seed=0)
    train_dataset, eval_dataset = corpus(96, 1), corpus(16, 2)
    train_dataloader = torch.utils.data.DataLoader(train_dataset, shuffle=False, collate_fn=collator, batch_size=8)
    eval_dataloader = torch.utils.data.DataLoader(eval_dataset, collate_fn=collator, batch_size=8)
    model = init(torch, BertForMaskedLM(Config()))
    assert model.cls.decoder.weight is model.embeddings.word_embeddings.weight
    no_decay = ["bias", "LayerNorm.weight"]
    optimizer_grouped_parameters = [
        {"params": [p for n, p in model.named_parameters() if not any(nd in n for nd in no_decay)],
         "weight_decay": 0.01},
        {"params": [p for n, p in model.named_parameters() if any(nd in n for nd in no_decay)],
         "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(optimizer_grouped_parameters, lr=1e-3)
    gradient_accumulation_steps = 2
    max_train_steps = math.ceil(len(train_dataloader) / gradient_accumulation_steps)
    lr_scheduler = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=2, num_training_steps=max_train_steps)
    losses, lrs = [], []
    model.train()
    for step, batch in enumerate(train_dataloader):
        loss, _ = model(**batch)
        losses.append(loss.item())
        loss = loss / gradient_accumulation_steps
        loss.backward()
        if step % gradient_accumulation_steps == 0 or step == len(train_dataloader) - 1:
            optimizer.step()
            lr_scheduler.step()
            optimizer.zero_grad()
            lrs.append(lr_scheduler.get_last_lr()[0])
    model.eval()
    eval_losses, scores = [], []
    for step, batch in enumerate(eval_dataloader):
        with torch.no_grad():
            loss, logits = model(**batch)
        eval_losses.append(loss.repeat(8))
        scores.append(logits.numpy())
    eval_losses = torch.cat(eval_losses)
    try:
        perplexity = math.exp(torch.mean(eval_losses))
    except OverflowError:
        perplexity = float("inf")
    return {"losses": losses, "metric": [lrs, perplexity, scores]}
