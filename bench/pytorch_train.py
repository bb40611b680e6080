# The PyTorch side of `npm run bench -- training`: the same architectures as bench/training.ts,
# trained with the same batch size on the same input shapes, on one CPU thread (as the
# WebAssembly backend runs), reporting samples per second as JSON on stdout.
import json, sys, time
import torch
from torch import nn

torch.set_num_threads(1)
torch.manual_seed(0)


class Transformer(nn.Module):
    def __init__(self, vocab, length, d, heads, layers, ff, classes):
        super().__init__()
        self.tokens = nn.Embedding(vocab, d)
        self.positions = nn.Embedding(length, d)
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, heads, ff, dropout=0.1, batch_first=True), layers)
        self.out = nn.Linear(d, classes)

    def forward(self, x):
        positions = torch.arange(x.shape[1]).unsqueeze(0).expand_as(x)
        return self.out(self.encoder(self.tokens(x) + self.positions(positions))[:, 0])


class Text(nn.Module):
    def __init__(self, vocab, length, d, kind, units, kernel, classes):
        super().__init__()
        self.embedding = nn.Embedding(vocab, d)
        self.kind = kind
        if kind == 'conv1d':
            self.encoder = nn.Conv1d(d, units, kernel)
        else:
            self.encoder = (nn.LSTM if kind == 'lstm' else nn.GRU)(d, units, batch_first=True)
        self.out = nn.Linear(units, classes)

    def forward(self, x):
        e = self.embedding(x)
        if self.kind == 'conv1d':
            h = torch.relu(self.encoder(e.transpose(1, 2))).max(dim=2).values
        else:
            h = self.encoder(e)[0][:, -1]
        return self.out(h)


class Mf(nn.Module):
    # r̂(u, i) = m + b_u + b_i + p_u·q_i, as Concord's mf family (src/model/families/mf.ts).
    def __init__(self, users, items, factors, middle):
        super().__init__()
        self.p, self.q = nn.Embedding(users, factors), nn.Embedding(items, factors)
        self.bu, self.bi = nn.Embedding(users, 1), nn.Embedding(items, 1)
        self.middle = middle

    def forward(self, x):
        u, i = x[:, 0], x[:, 1]
        return self.middle + self.bu(u)[:, 0] + self.bi(i)[:, 0] + (self.p(u) * self.q(i)).sum(1)


MF_USERS = 1000  # as bench/training.ts


def model(spec):
    f = spec['family']
    if f == 'mlp':
        widths = [784] + spec['hidden'] + [spec['classes']]
        layers = []
        for i in range(1, len(widths)):
            layers.append(nn.Linear(widths[i - 1], widths[i]))
            if i < len(widths) - 1:
                layers.append(nn.ReLU())
        return nn.Sequential(nn.Flatten(), *layers), (spec['inputShape'], 'float')
    if f == 'cnn':
        h, w, c = spec['inputShape']
        layers = []
        for b in spec['conv']:
            layers += [nn.Conv2d(c, b['filters'], b['kernelSize'], padding=b['kernelSize'] // 2), nn.ReLU()]
            if b.get('pool', 1) > 1:
                layers.append(nn.MaxPool2d(b['pool']))
                h, w = h // b['pool'], w // b['pool']
            c = b['filters']
        width = h * w * c
        layers.append(nn.Flatten())
        for units in spec.get('dense', []):
            layers += [nn.Linear(width, units), nn.ReLU()]
            width = units
        layers.append(nn.Linear(width, spec['classes']))
        return nn.Sequential(*layers), ([spec['inputShape'][2], spec['inputShape'][0], spec['inputShape'][1]], 'float')
    if f == 'text':
        enc = spec['encoder']
        units = enc.get('filters', enc.get('units'))
        return Text(spec['vocabSize'], spec['sequenceLength'], spec['embeddingDim'], enc['type'], units, enc.get('kernelSize', 5), spec['classes']), ([spec['sequenceLength']], spec['vocabSize'])
    if f == 'transformer':
        return Transformer(spec['vocabSize'], spec['sequenceLength'], spec['embeddingDim'], spec['heads'], spec['layers'], spec['feedForward'], spec['classes']), ([spec['sequenceLength']], spec['vocabSize'])
    if f == 'mf':
        lo, hi = spec['ratingRange']
        return Mf(MF_USERS, spec['items'], spec['factors'], (lo + hi) / 2), ([2], 'pairs')
    raise ValueError(f)


def throughput(spec, batch, seconds):
    net, (shape, kind) = model(spec)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    if kind == 'pairs':
        # (user, item) pairs rated 1-5, squared error (weight decay l2 as the learner's).
        opt = torch.optim.SGD(net.parameters(), lr=0.01, weight_decay=spec.get('l2', 0.02))
        loss_fn = nn.MSELoss()
        x = torch.stack([torch.randint(0, MF_USERS, [batch]), torch.randint(0, spec['items'], [batch])], 1)
        y = torch.randint(1, 6, [batch]).float()
    else:
        loss_fn = nn.CrossEntropyLoss()
        x = torch.rand([batch] + shape) if kind == 'float' else torch.randint(2, kind, [batch] + shape)
        y = torch.randint(0, spec['classes'], [batch])

    def step():
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        steps += 1
    return steps * batch / (time.perf_counter() - start)


request = json.loads(sys.stdin.read())
print(json.dumps([throughput(s, request['batch'], request['seconds']) for s in request['specs']]))
