import itertools, torch

torch.set_num_threads(1)


def lin(x, W, b):
    if W.shape[1] == 1:  # out = 1: a product per row, as the batched product rounds it by L
        return (x * W.transpose(1, 2).squeeze(-1).unsqueeze(1)).sum(-1, keepdim=True) + b.unsqueeze(
            1
        )
    return torch.baddbmm(b.unsqueeze(1), x, W.transpose(1, 2))


torch.manual_seed(0)
bad = []
for n, i, o, L in itertools.product((1, 2, 9, 64, 128, 512), (1, 2, 7, 64), (1, 2, 7, 64), (2, 4)):
    x = torch.randn(L, n, i, requires_grad=True)
    W = torch.randn(L, o, i, requires_grad=True)
    b = torch.randn(L, o, requires_grad=True)
    g = torch.randn(L, n, o)
    y = lin(x, W, b)
    (gx,) = torch.autograd.grad((y * g).sum(), x, create_graph=True)
    (gx.pow(2).sum() + (y * g).sum()).backward()
    k = L - 1
    x1 = x[k:].detach().clone().requires_grad_()
    W1 = W[k:].detach().clone().requires_grad_()
    b1 = b[k:].detach().clone().requires_grad_()
    y1 = lin(x1, W1, b1)
    (gx1,) = torch.autograd.grad((y1 * g[k:]).sum(), x1, create_graph=True)
    (gx1.pow(2).sum() + (y1 * g[k:]).sum()).backward()
    ok = [
        torch.equal(y[k], y1[0]),
        torch.equal(gx[k], gx1[0]),
        torch.equal(x.grad[k], x1.grad[0]),
        torch.equal(W.grad[k], W1.grad[0]),
        torch.equal(b.grad[k], b1.grad[0]),
    ]
    if not all(ok):
        bad.append(((n, i, o, L), ok))
print(len(bad), "shapes differ of", 6 * 4 * 4 * 2)
for b_ in bad[:30]:
    print(b_)
