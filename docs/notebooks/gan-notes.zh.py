# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 用 gankit 读 GAN 学习笔记
#
# 本笔记本按照笔记的顺序展开：先看三种生成器博弈及其代价曲线；再看实例一，用 GAN 学习一维高斯分布；然后在玩具分布上用多个随机种子比较三种博弈；接着是实例二，即笔记里在 MNIST 上训练的 MLP GAN；之后评价生成的样本；最后留几道练习题。每个单元格给出的结论，都在该单元格里用 `assert` 检查过：哪天某个数字不再成立，笔记本会直接报错，而不会继续讲一句错话。
#
# **规模。** 默认按完整规模运行（在较新 CPU 的两个空闲核上约 5 分钟，这是按各部分实测时间估算的；机器较慢或繁忙时会更久）。设置 `GANKIT_NOTEBOOK_SIZE=ci` 则改用测试所用的小规模：种子更少、epoch 更少、评价用的样本更少；这些设置经过挑选，每个单元格依然能说明它要说明的事。训练结果写到一个临时目录；想保留的话，设置 `GANKIT_NOTEBOOK_OUT=目录`。
#
# 笔记中的原程序，用纯 PyTorch 写在一页之内，见 `examples/notes_gan.py`。

# %%
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

import gankit

SIZE = os.environ.get("GANKIT_NOTEBOOK_SIZE", "full")
SIZES = {
    # 一维 epoch 数、圆环种子数、MNIST epoch 数、MNIST 图片数（None 即全部 60000 张）、评价样本数
    "full": dict(g1d_epochs=20, ring_seeds=20, mnist_epochs=6, mnist_limit=None,
                 eval_n=10_000),
    "ci": dict(g1d_epochs=6, ring_seeds=6, mnist_epochs=3, mnist_limit=None, eval_n=2_000),
}
assert SIZE in SIZES, f"GANKIT_NOTEBOOK_SIZE={SIZE!r}: use full or ci"
S = SIZES[SIZE]
OUT = Path(os.environ.get("GANKIT_NOTEBOOK_OUT") or tempfile.mkdtemp(prefix="gankit-nb-"))
print(f"size {SIZE}: {S}; runs go to {OUT}")

# %% [markdown]
# ## 1. 三种生成器博弈与代价曲线
#
# 判别器 D 输出一个 logit，记作 l，D(G(z)) = sigmoid(l)。三种博弈里，生成器对每个假样本的代价 J(G) 如下（gankit.core.losses 中都写成 logit 的函数）：
#
# | 博弈 | G 要最小化的量 | 梯度 dJ/dl |
# |---|---|---|
# | 极小极大（minimax） | log(1 - D(G(z))) | -D(G(z)) |
# | 非饱和（non-saturating） | -log D(G(z)) | -(1 - D(G(z))) |
# | 最大似然（maximum-likelihood） | -exp(l) = -D / (1 - D) | -D / (1 - D) |
#
# 下图画出每种代价及其梯度大小随 D(G(z)) 的变化。训练初期 D(G(z)) 接近 0（D 很容易认出假样本），这时极小极大和最大似然两条曲线都很平，G 几乎得不到梯度，这就是笔记的观察一。最大似然的梯度几乎全部来自曲线右端，于是一个小批量里少数已经骗过 D 的样本主导了整个梯度，这就是观察二：方差大。

# %% tags=["figure"]
gankit.games_plot()

# %% [markdown]
# 换成数字来看。下面直接调用 gankit 自己的损失函数，用自动求导算出代价和梯度：

# %%
from gankit.core.losses import GENERATOR_GAMES, get_game

points = torch.tensor([0.01, 0.5, 0.99], dtype=torch.float64)
rows, slope = [], {}
for name in GENERATOR_GAMES:
    logits = torch.logit(points).requires_grad_(True)
    cost = get_game(name).g_cost(logits)
    (grad,) = torch.autograd.grad(cost.sum(), logits)
    slope[name] = grad.abs()
    rows.append(f"| {name} | " + " | ".join(
        f"{c:.3f} / {abs(g):.3f}" for c, g in zip(cost.tolist(), grad.tolist())) + " |")
display(Markdown("| game | D(G(z)) = 0.01 | 0.5 | 0.99 |\n|---|---|---|---|\n" + "\n".join(rows)
                 + "\n\n(each cell: J(G) / \\|dJ/dl\\|)"))

# 观察一：D(G(z)) = 0.01 处，非饱和博弈的梯度约是另外两种的 100 倍
assert slope["non-saturating"][0] > 50 * slope["minimax"][0]
assert slope["non-saturating"][0] > 50 * slope["maximum-likelihood"][0]
# 观察二：从 0.01 到 0.99，最大似然的梯度增大约一万倍
assert slope["maximum-likelihood"][2] > 5_000 * slope["maximum-likelihood"][0]

# %% [markdown]
# 表中每格是「J(G) / |dJ/dl|」。在 D(G(z)) = 0.01 处，非饱和博弈的梯度是 0.99，另外两种只有 0.01 左右；到了 0.99 处，最大似然的梯度约为 99，是它在左端的一万倍。
#
# 想在训练过程中看这些曲线，可以在终端里运行 `gankit lab`：它在玩具数据上并排训练三种博弈，每一帧都把生成样本画在这张图上，极小极大代价在哪里变平、非饱和代价为什么不会变平，一眼就能看到（见 docs/lab.md）。
#
# ## 2. 实例一：GAN 学习一维高斯分布
#
# 笔记的第一个实例（来自「50 行代码实现 GAN」一文）：真实数据服从 N(4, 0.5²)，G 把噪声变成数，D 负责把它们和真实数据区分开。`toy` 预设训练两个小型 MLP，`data="gaussian1d"` 选定这个目标分布。下图是训练结束时的快照：真实数据的密度、G 的样本，以及 D(x)。
#
# G 固定时，最优判别器是 D*(x) = p_data(x) / (p_data(x) + p_g(x))（理论指南的式 (2)；`toy` 预设训练 D 时真样本的标签取 1，不做标签平滑）。一旦 G 学到了数据分布，p_g = p_data，于是处处 D*(x) = 1/2：D 只能瞎猜。

# %% tags=["figure"]
g1d = gankit.train("toy", OUT / "gaussian1d", data="gaussian1d", epochs=S["g1d_epochs"],
                   log=lambda line: None)
g1d

# %% [markdown]
# 左图是每个 epoch 结束时 D 在真样本上的平均输出 D(x) 和在假样本上的平均输出 D(G(z))，两者都趋于 1/2。右图是从检查点里读出的 D 本身，在数据所在区间上的取值。

# %% tags=["figure"]
from gankit.config import build_config
from gankit.core.models import build_models
from gankit.runs.checkpoint import load_valid

epochs = [m["epoch"] for m in g1d.metrics]
d_real = [m["d_real"] for m in g1d.metrics]
d_fake = [m["d_fake"] for m in g1d.metrics]

state = load_valid(g1d.checkpoints[-1])
cfg = g1d.config.model
_, D = build_models(cfg, tuple(state["sample_shape"]))
D.load_state_dict(state["d"])
D.eval()
x = torch.linspace(2.0, 6.0, 201).unsqueeze(1)  # 均值 4 左右各 4 个标准差
with torch.no_grad():
    d_of_x = torch.sigmoid(D(x)).reshape(-1)

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
left.plot(epochs, d_real, "o-", label="D(x), real")
left.plot(epochs, d_fake, "s-", label="D(G(z)), fake")
left.axhline(0.5, color="grey", ls=":")
left.set(xlabel="epoch", ylabel="mean D output", ylim=(0, 1), title="D's outputs per epoch")
left.legend()
right.plot(x.squeeze(1), d_of_x, label="D(x)")
right.axhline(0.5, color="grey", ls=":")
right.set(xlabel="x", ylim=(0, 1), title="D over the data's range, last epoch")
right.legend()
plt.show()

last = g1d.metrics[-1]
print(f"last epoch: D(x) {last['d_real']:.3f}, D(G(z)) {last['d_fake']:.3f}; "
      f"D over [2, 6] between {d_of_x.min():.3f} and {d_of_x.max():.3f}")
assert abs(last["d_real"] - 0.5) < 0.05 and abs(last["d_fake"] - 0.5) < 0.05
assert (d_of_x - 0.5).abs().max() < 0.1  # D*(x) = 1/2：D 已经分不出真假

# %% [markdown]
# ## 3. 在玩具分布上比较三种博弈（多个种子）
#
# 笔记用 KL 散度的不对称来解释模式坍塌：非饱和博弈实际最小化的是 KL(p_g || p_data) - 2 JS，它重罚「不像真的」样本，却轻罚「漏掉的模式」。`ring2d` 是圆周上的 8 个高斯分布，正好可以数一数 G 覆盖了几个模式。`gankit.compare` 在同一预算下（`toy-ring` 预设：隐藏层宽 64 的两层 MLP、batch 64、20 个 epoch）用种子 0、1、…… 分别训练每种博弈，同一博弈的各个种子合成一个批量模型一起训练。
#
# **实测结果。** 20 个种子（即这里的完整规模；命令行为 `gankit compare --data ring2d --seeds 20`）训练结束时覆盖的模式数（满分 8，均值 ± 95% 置信区间半宽）：极小极大 6.30 ± 0.53，非饱和 4.05 ± 0.84，最大似然 0.35 ± 0.73。在另一种 CPU 上，非饱和测得 4.65 ± 0.88：这类数字会随 CPU 型号和线程数变化，幅度大致如此。
#
# 这个排序和代价曲线给人的直觉不一样，但曲线并没有错。观察一说的是 D **过早获胜**的情形：D 把 D(G(z)) 压到 0 附近，而极小极大代价在那里是平的。在圆环这个预算下，D 并没有压过极小极大的 G（它的 D(G(z)) 停在 0.4 上下，那里极小极大代价的斜率足够用），所以极小极大并不缺梯度。真正被 D 压垮的是最大似然：它的 D(G(z)) 掉到百分之几，那里这个博弈的梯度 D / (1 - D) 极小，G 就不再动了。它在这里几乎覆盖不了模式，原因在此，而不在 KL 的方向。圆环测的是有限预算下的模式覆盖；在这个指标上，非饱和博弈坍缩到的模式比极小极大少。`gankit lab` 的「三种博弈并排」视图可以实时看到同样的过程：它在圆环上同时训练三种博弈，并随时数出各自覆盖了几个模式。

# %%
ring = gankit.compare("ring2d", seeds=S["ring_seeds"], out=OUT / "ring2d",
                      log=lambda line: None)
display(Markdown(ring.table))

# %% tags=["figure"]
ring.samples()  # 每种博弈最终的样本：每行一种博弈，每列一个种子

# %%
modes = {g: ring.summary[g]["modes_covered"]["mean"] for g in ring.summary}
fake = {g: ring.summary[g]["d_fake"] for g in ring.summary}
print({g: f"{m:.2f} modes, D(G(z)) {fake[g]['mean']:.3f}" for g, m in modes.items()})
# 极小极大和非饱和覆盖的模式都远多于最大似然
assert modes["minimax"] > modes["maximum-likelihood"] + 2
assert modes["non-saturating"] > modes["maximum-likelihood"] + 2
# 在大多数种子上 D 压垮了最大似然的 G，却没有压垮极小极大的 G
ml_fake = sorted(fake["maximum-likelihood"]["values"])
assert ml_fake[len(ml_fake) // 2] < 0.1 and fake["minimax"]["mean"] > 0.25
if SIZE == "full":  # 20 个种子上极小极大覆盖的模式多于非饱和；只用 6 个种子时两者可能互换
    assert modes["minimax"] > modes["non-saturating"]

# %% [markdown]
# ## 4. 实例二：笔记里的 MNIST MLP GAN
#
# 笔记中的 G（100 → 256 → 512 → 1024 → 784，LeakyReLU 0.2，输出层 tanh）和 D（784 → 1024 → 512 → 256 → 1，LeakyReLU 0.2，dropout 0.3，输出层 sigmoid），损失为二元交叉熵，真样本标签取 0.9。笔记训练 400 个 epoch、batch 256（`--preset seed`，在 CPU 上要跑几个小时）。`default` 预设保留笔记的模型和博弈，换了一套几个 epoch 就能学出东西的训练配方：Keras 的初始化、batch 128、D 的学习率 4e-4 和 G 的学习率 1e-3，外加 G 的指数滑动平均（EMA）。每张网格图都用同样 100 个固定的隐向量生成，所以不同 epoch 的图可以直接对比。
#
# （MNIST 在第一次用到时下载并校验；也可以先运行 `gankit data fetch`。）

# %%
mnist = gankit.train("default", OUT / "mnist", epochs=S["mnist_epochs"],
                     limit=S["mnist_limit"], sample_every=1, checkpoint_every=S["mnist_epochs"],
                     progress=False, log=lambda line: None)
for m in mnist.metrics:
    print(f"epoch {m['epoch']}: D(x) {m['d_real']:.2f}, D(G(z)) {m['d_fake']:.2f}, "
          f"health alarms: {m['alarms'] or 'none'}")
last = mnist.metrics[-1]
assert not last["alarms"]  # gankit 的健康检查没有报警（没有坍塌，D 也没有压垮 G）
assert 0.1 < last["d_fake"] < 0.9  # D 没有获胜：G 仍有梯度

# %% tags=["figure"]
mnist.grid(1)  # 第 1 个 epoch 之后

# %% tags=["figure"]
mnist.grid()  # 最后一个 epoch 之后

# %% [markdown]
# ## 5. 评价生成的样本
#
# 这些数字写得怎么样？`gankit.evaluate` 从 G 采样，在 gankit 自带的一个小型 MNIST 分类器的特征空间里打分：FID 和 KID（与 MNIST 测试集的距离，越小越好）、类似 Inception Score 的分类器得分（最高 10）、覆盖的类别数、精确率和召回率。每一项旁边都列出真实数据的下限（用同样方法给真实训练图片打分，这是能指望的最好成绩）。正式报告的数字用 n = 10000 个样本。

# %%
g = mnist.generator("cpu")
scores = gankit.evaluate(g, n=S["eval_n"], device="cpu")
scores

# %% tags=["figure"]
fig, ax = plt.subplots(figsize=(6, 2.5))
ax.bar(range(10), scores.histogram)
ax.axhline(0.1, color="grey", ls=":", label="uniform")
ax.set(xticks=range(10), xlabel="class the classifier reads", ylabel="share of samples")
ax.legend()
plt.show()

untrained = build_models(build_config("default").model, (1, 28, 28))[0].eval()
base = gankit.evaluate(gankit.Samples(untrained(g.latents(S["eval_n"])).detach()), device="cpu")
print(f"FID {scores['fid']:.1f} (untrained G: {base['fid']:.1f}, real data: "
      f"{scores.floor['fid']:.1f}); {scores['classes_covered']:.0f} classes covered; "
      f"largest class share {max(scores.histogram):.2f}")
assert scores["classes_covered"] == 10  # 十个数字都出现了：没有模式坍塌
assert max(scores.histogram) < 0.4  # 也没有哪一类独占
assert scores["fid"] < base["fid"] / 3  # 比起点（未训练的 G）离 MNIST 近得多

# %% [markdown]
# 柱状图是分类器读出的各类别所占比例，虚线是均匀分布的 0.1。
#
# ## 6. 练习
#
# **1.** 在 D(G(z)) = 0.01 处，非饱和博弈的梯度 dJ/dl 是极小极大的多少倍？先从第 1 节的表里读出来，再用手算一遍。
#
# <details><summary>答案</summary>
#
# 非饱和博弈的 dJ/dl = -(1 - D)，极小极大的是 -D：0.99 对 0.01，相差 99 倍。若对 D 求导，则是 -1/D = -100 对 -1/(1 - D) ≈ -1.01。两者的不动点相同，但 G 很差时推它的力道天差地别。
# </details>
#
# **2.** 笔记训练 D 时真样本的标签取 0.9（单边标签平滑）。这时最优的 D 是什么？G 学会数据分布之后，第 2 节的曲线会停在哪里？可以试试 `gankit.train("toy", data="gaussian1d", real_label=0.9)`。
#
# <details><summary>答案</summary>
#
# D 的代价变为 -E[0.9 log D(x) + 0.1 log(1 - D(x))] - E[log(1 - D(G(z)))]，逐点最小化得 D*(x) = 0.9 p_data / (p_data + p_g)。p_g = p_data 时它等于 0.45，而不是 1/2。所以理论指南中用到 D* = p_data / (p_data + p_g) 的那些等式，只在真样本标签为 1 时成立。
# </details>
#
# **3.** 最大似然博弈跟随的是 KL(p_data || p_g)，这个方向恰恰重罚漏掉的模式。为什么它在第 3 节里几乎一个模式也覆盖不了？
#
# <details><summary>答案</summary>
#
# 因为 D 先赢了：它的 D(G(z)) 掉到百分之几（见表中 D(G(z)) 一列），在那里这个博弈的梯度 D / (1 - D) 几乎为零（观察一），G 还没等 KL 的方向起作用就停止了学习。非饱和博弈在同样的位置还有 1 - D 的梯度。`gankit lesson saturation` 在固定 G 的情况下专门测量了这一点。
# </details>
#
# **4.** 运行 `gankit.compare("grid2d", seeds=4)`（5 × 5 网格上的 25 个模式）。根据第 3 节，你预期会看到什么？实际又如何？
#
# <details><summary>答案</summary>
#
# 在 `toy-grid` 预算下，每种博弈都只找到 25 个模式中的少数几个（20 个种子上：非饱和约 5 个，极小极大不到 2 个，最大似然一个也没有），而且极小极大和非饱和的排序与圆环上相反。这个预算很短；理论指南第 6 节展示了实例噪声（`--preset toy-grid-noise`）如何找到大部分模式。
# </details>
