// The 1D view: real density, fake density (KDE from the server), D(x) on its own axis,
// the optimal discriminator p_r / (p_r + p_g) dashed where it is known, and the push
// -dL_G/dx at the fake samples as arrows along the axis.

import { C, sizes, baseLayout, axis, PLOT_CONFIG, ArrowScale, quantileLength, pushLabel, fmt } from "./theme.js";

// ghost*: after a step while paused, the fake density, D and the fakes before the step (faded)
const T = { real: 0, fake: 1, undecided: 2, optimal: 3, d: 4, realRug: 5, fakeRug: 6, arrows: 7, ghostDensity: 8, ghostD: 9, ghostLinks: 10, ghostRug: 11, emaRug: 12 };
const ARROWS_SHOWN = 24;

export function createView1d(div) {
  const scale = new ArrowScale(0.02);
  let ymax = 0;
  let dRange = 0;

  function render(f, ctx) {
    const s = sizes(ctx.lecture);
    const [lo, hi] = f.extent || [-4, 4];
    const span = hi - lo;
    const xs = f.xs ? Array.from(f.xs) : [];
    const rd = f.real_density ? Array.from(f.real_density) : null;
    const fd = f.fake_density ? Array.from(f.fake_density) : [];
    let m = 0;
    for (const v of fd) if (Number.isFinite(v)) m = Math.max(m, v);
    if (rd) for (const v of rd) if (Number.isFinite(v)) m = Math.max(m, v);
    // lanes side by side share the axes and the arrows' scale (scales.js)
    ymax = ctx.shared ? ctx.shared.density : Math.max(m, ymax * 0.97, 1e-3);
    const top = ymax * 1.12;
    const band = top * 0.42;   // room under the axis for samples and arrows

    const prob = f.display === "probability";
    const u = f.undecided ?? (prob ? 0.5 : 0);
    const dl = f.d_line ? Array.from(f.d_line) : [];
    let dr = [0, 1];
    if (!prob) {
      let dm = 0;
      for (const v of dl) if (Number.isFinite(v)) dm = Math.max(dm, Math.abs(v - u));
      dRange = ctx.shared ? ctx.shared.d : Math.max(dm, dRange * 0.97, 1e-3);
      dr = [u - dRange * 1.1, u + dRange * 1.1];
    }

    const data = [];
    data[T.real] = {
      type: "scatter", mode: "lines", name: "real density", x: xs, y: rd || [], fill: "tozeroy",
      fillcolor: "rgba(17, 122, 58, 0.22)", line: { color: C.real, width: s.line * 0.8 }, hoverinfo: "skip", visible: !!rd,
    };
    data[T.fake] = {
      type: "scatter", mode: "lines", name: "fake density", x: xs, y: fd, fill: "tozeroy",
      fillcolor: "rgba(122, 31, 162, 0.2)", line: { color: C.fake, width: s.line * 0.8 }, hoverinfo: "skip",
    };
    data[T.undecided] = {
      type: "scatter", mode: "lines", name: "undecided", showlegend: false, x: [lo, hi], y: [u, u], yaxis: "y2",
      line: { color: "#777", width: 1.5, dash: "dot" }, hoverinfo: "skip",
    };
    const opt = f.d_optimal ? Array.from(f.d_optimal) : [];
    data[T.optimal] = {
      type: "scatter", mode: "lines", name: "optimal D", x: xs, y: opt, yaxis: "y2",
      line: { color: C.optimal, width: s.dash, dash: "dash" }, hoverinfo: "skip", visible: prob && opt.length > 0,
    };
    data[T.d] = {
      type: "scatter", mode: "lines", name: prob ? "D(x)" : "critic D(x)", x: xs, y: dl, yaxis: "y2",
      line: { color: C.dline, width: s.line }, hoverinfo: "skip",
    };

    // rugs: real just under the axis, fakes below them with their arrows
    const real = f.real ? Array.from(f.real) : [];
    const fake = f.fake ? Array.from(f.fake) : [];
    const grad = f.fake_grad ? Array.from(f.fake_grad) : [];
    const yReal = -band * 0.18;
    data[T.realRug] = {
      type: "scatter", mode: "markers", name: "real samples", showlegend: false, x: real, y: real.map(() => yReal), hoverinfo: "skip",
      marker: { symbol: "line-ns", size: s.marker * 2.2, line: { color: C.real, width: s.markerLine + 1 }, color: C.real, opacity: 0.6 },
    };
    // a subset of fakes, each on its own row so the arrows can be told apart
    const n = fake.length;
    const stride = Math.max(1, Math.floor(n / ARROWS_SHOWN));
    const ref = ctx.shared ? ctx.shared.push : scale.update(quantileLength(grad, null, 0.9));
    const k = (0.06 * span) / ref;
    const ax = [], ay = [], fx = [], fy = [];
    const gh = f.ghost && f.ghost.fake && f.ghost.fake.length === n ? f.ghost : null;
    const gx = [], gy = [], lx = [], ly = [];
    let moved = 0;
    const rowH = (band * 0.66) / ARROWS_SHOWN;
    const headY = rowH * 0.4;
    let row = 0;
    const shownPush = [];
    for (let i = 0; i < n; i += stride, row++) {
      const x0 = fake[i];
      shownPush.push(grad[i]);
      const y0 = -band * 0.3 - (row % ARROWS_SHOWN) * rowH;
      fx.push(x0); fy.push(y0);
      if (gh) {
        const xg = gh.fake[i];
        moved = Math.max(moved, Math.abs(x0 - xg) || 0);
        gx.push(xg); gy.push(y0); lx.push(xg, x0, null); ly.push(y0, y0, null);
      }
      const d = grad[i] * k;
      if (!Number.isFinite(d) || Math.abs(d) < 0.004 * span) continue;
      const x1 = x0 + d;
      const h = Math.min(Math.abs(d) * 0.35, 0.015 * span) * Math.sign(d);
      ax.push(x0, x1, null, x1 - h, x1, x1 - h, null);
      ay.push(y0, y0, null, y0 + headY, y0, y0 - headY, null);
    }
    data[T.fakeRug] = {
      type: "scatter", mode: "markers", name: "fake samples", showlegend: false, x: fx, y: fy, hoverinfo: "skip",
      marker: { color: C.fake, size: Math.max(5, s.marker * 0.6), line: { color: "#fff", width: 0.8 } },
    };
    // the averaged generator (g_ema > 0): its samples as open triangles between the rugs
    const ema = f.fake_ema ? Array.from(f.fake_ema) : [];
    data[T.emaRug] = {
      type: "scatter", mode: "markers", name: "averaged G (EMA)", showlegend: false, x: ema, y: ema.map(() => -band * 0.24), hoverinfo: "skip", visible: ema.length > 0,
      marker: { symbol: "triangle-up-open", color: C.fake, size: Math.max(6, s.marker * 0.7), line: { width: 1.5 } },
    };
    data[T.arrows] = {
      type: "scatter", mode: "lines", name: "push on fakes", showlegend: false, x: ax, y: ay, hoverinfo: "skip",
      line: { color: C.arrow, width: s.arrow }, visible: ctx.view.arrows !== false,
    };

    // ---- what the last step did (paused): the picture before it, faded ----
    const g = f.ghost && f.ghost.xs && f.ghost.xs.length === xs.length ? f.ghost : null;
    const showFakes = !!gh && moved > 1e-5 * span;
    let dMoved = 0;
    if (g && g.d_line && f.d_line) for (let i = 0; i < dl.length; i++) dMoved = Math.max(dMoved, Math.abs(dl[i] - g.d_line[i]) || 0);
    const showD = !!g && dMoved > 1e-6 * (prob ? 1 : Math.max(dRange, 1e-3));
    let densMoved = 0;
    if (g && g.fake_density) for (let i = 0; i < fd.length; i++) densMoved = Math.max(densMoved, Math.abs(fd[i] - g.fake_density[i]) || 0);
    const showDens = !!g && densMoved > 1e-4 * ymax;
    data[T.ghostDensity] = {
      type: "scatter", mode: "lines", name: "fake density before the step", x: showDens ? xs : [], y: showDens ? Array.from(g.fake_density) : [],
      line: { color: "rgba(91, 15, 134, 0.5)", width: s.line * 0.7, dash: "dot" }, hoverinfo: "skip", visible: showDens, showlegend: showDens,
    };
    data[T.ghostD] = {
      type: "scatter", mode: "lines", name: "D before the step", x: showD ? xs : [], y: showD ? Array.from(g.d_line) : [], yaxis: "y2",
      line: { color: "rgba(20, 20, 20, 0.35)", width: s.line, dash: "dot" }, hoverinfo: "skip", visible: showD, showlegend: showD,
    };
    data[T.ghostLinks] = {
      type: "scatter", mode: "lines", name: "moved by the step", showlegend: false, x: showFakes ? lx : [], y: showFakes ? ly : [], hoverinfo: "skip",
      line: { color: "rgba(91, 15, 134, 0.5)", width: ctx.lecture ? 2 : 1.2 }, visible: showFakes,
    };
    data[T.ghostRug] = {
      type: "scatter", mode: "markers", name: "fakes before the step", showlegend: showFakes, x: showFakes ? gx : [], y: showFakes ? gy : [], hoverinfo: "skip",
      marker: { color: "rgba(255,255,255,0.4)", size: Math.max(5, s.marker * 0.6), line: { color: "rgba(91, 15, 134, 0.55)", width: 1.5 } }, visible: showFakes,
    };

    // the D axis is placed so that its `undecided` level is well above the sample band
    const y1range = [-band, top];
    let y2range;
    if (prob) {
      const frac = band / (top + band);           // share of the height under zero
      const lo2 = -frac / (1 - frac) * 1.08;      // so that D = 0 sits on the density zero line
      y2range = [lo2, 1.08];
    } else {
      const frac = band / (top + band);
      const span2 = dr[1] - dr[0];
      y2range = [dr[0] - frac / (1 - frac) * span2, dr[1]];
    }
    const layout = {
      ...baseLayout(ctx.lecture),
      margin: { l: ctx.lecture ? 80 : 60, r: ctx.lecture ? 90 : 70, t: ctx.compact ? 12 : ctx.lecture ? 50 : 40, b: ctx.lecture ? 60 : 46 },
      // side by side (lanes), the page's legend row names the curves instead
      showlegend: !ctx.compact,
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", font: { size: s.tick }, bgcolor: "rgba(255,255,255,0)" },
      xaxis: axis(ctx.lecture, {
        range: [lo, hi], zeroline: false,
        title: { text: `x      <span style="font-size:0.85em"><span style="color:${C.arrow}">━➤</span> ${ctx.compact ? `median push ≈ ${fmt(quantileLength(shownPush, null, 0.5), 2)}` : `push on fakes, ${pushLabel(quantileLength(shownPush, null, 0.5))}`}</span>`, font: { size: s.title } },
      }),
      yaxis: axis(ctx.lecture, { range: y1range, title: { text: "density", font: { size: s.title } }, zeroline: true, zerolinewidth: 2, zerolinecolor: "#444", showgrid: true, tickvals: niceTicks(0, top) }),
      yaxis2: axis(ctx.lecture, {
        range: y2range, overlaying: "y", side: "right", showgrid: false, zeroline: false, mirror: false,
        title: { text: prob ? "D(x) = P(real)" : "critic score D(x)", font: { size: s.title } },
        tickvals: prob ? [0, 0.25, 0.5, 0.75, 1] : undefined,
      }),
      annotations: [],
      datarevision: f.seq ?? Date.now(),
    };
    Plotly.react(div, data, layout, PLOT_CONFIG);
  }

  return { div, render, resetScale() { scale.reset(); ymax = 0; dRange = 0; }, traceIndex: T };
}

function niceTicks(lo, hi) {
  const span = hi - lo;
  if (!(span > 0)) return [0];
  const raw = span / 4;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((st) => st >= raw) || raw;
  const out = [];
  for (let v = 0; v <= hi + 1e-12; v += step) out.push(+v.toPrecision(6));
  return out;
}
