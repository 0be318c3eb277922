// The Dirac-GAN view (Mescheder et al. 2018): left, the (θ, ψ) plane with the vector field of
// the training dynamics, the trajectory so far and the equilibrium; right, the 1D picture:
// the real δ₀, the fake δ_θ and the discriminator line D(x) = ψ x. Hover on the line: x, D(x),
// P(real) where the loss shows one, and the push there; hover on δ_θ: its push and |push|.
// Layers: view.d, real, fake, arrows. (Nothing is cut off here: the engine widens the
// extent to hold the whole trajectory.)

import { C, sizes, baseLayout, axis, PLOT_CONFIG, arrowPath, fmt } from "./theme.js";
import { HeldBound } from "./scales.js";
import { createRedraw } from "./redraw.js";
import { layerOn } from "./view1d.js";

// ghost*: after a step while paused, (θ, ψ), D(x) = ψ x and δ_θ before the step (faded)
// fakeEma: the averaged generator δ_θ̄ (g_ema on), dashed
const T = { field: 0, traj: 1, start: 2, eq: 3, now: 4, dline: 5, real: 6, fake: 7, push: 8, ghostNow: 9, ghostLine: 10, ghostFake: 11, fakeEma: 12 };

const PUSH = "push −∂L<sub>G</sub>/∂x";
const HOVER = {
  dScore: `x = %{x:.3f}<br>D(x) = ψ x = %{y:.4g}<br>${PUSH} on a fake here = %{customdata[1]:.3g}<extra></extra>`,
  dProbability: `x = %{x:.3f}<br>D(x) = ψ x = %{y:.4g}<br>P(real) = sigmoid(D(x)) = %{customdata[0]:.4f}<br>${PUSH} on a fake here = %{customdata[1]:.3g}<extra></extra>`,
  fake: `fake δ<sub>θ</sub> at θ = %{customdata[0]:.4g}<br>${PUSH} = %{customdata[1]:.3g}<br>|push| = %{customdata[2]:.3g}<extra></extra>`,
};

export function createViewDirac(div) {
  const rHold = new HeldBound();
  const redraw = createRedraw(div);

  function render(f, ctx) {
    const s = sizes(ctx.lecture);
    const show = { d: layerOn(ctx.view, "d"), real: layerOn(ctx.view, "real"), fake: layerOn(ctx.view, "fake"), arrows: layerOn(ctx.view, "arrows") };
    const [dlo, dhi] = f.dirac_extent || f.extent || [-2, 2];
    const data = [];

    const arrows = fieldArrows(f);
    data[T.field] = { type: "scatter", mode: "lines", name: "field", showlegend: false, x: arrows.x, y: arrows.y, xaxis: "x", yaxis: "y", hoverinfo: "skip", line: { color: "rgba(60,60,70,0.55)", width: s.fieldLine } };

    const tr = f.trajectory || [];
    const tx = [], ty = [];
    for (let i = 0; i < tr.length; i += 2) { tx.push(tr[i]); ty.push(tr[i + 1]); }
    if (Number.isFinite(f.theta)) { tx.push(f.theta); ty.push(f.psi); }
    data[T.traj] = { type: "scatter", mode: "lines", name: "trajectory", x: tx, y: ty, xaxis: "x", yaxis: "y", hoverinfo: "skip", line: { color: C.fake, width: s.line * 0.9 } };
    data[T.start] = { type: "scatter", mode: "markers", name: "start", x: tx.slice(0, 1), y: ty.slice(0, 1), xaxis: "x", yaxis: "y", hoverinfo: "skip", marker: { symbol: "circle-open", size: s.marker + 6, color: C.fake, line: { width: 2.5, color: C.fake } } };
    data[T.eq] = { type: "scatter", mode: "markers", name: "equilibrium", x: [0], y: [0], xaxis: "x", yaxis: "y", hoverinfo: "skip", marker: { symbol: "star", size: s.marker + 12, color: C.real, line: { color: "#fff", width: 1.5 } } };
    data[T.now] = { type: "scatter", mode: "markers", name: "(θ, ψ) now", x: [f.theta], y: [f.psi], xaxis: "x", yaxis: "y", hovertemplate: "θ = %{x:.4g}, ψ = %{y:.4g}<extra></extra>", marker: { size: s.marker + 10, color: C.fake, line: { color: "#fff", width: 2.5 } } };

    // ---- the 1D picture ----
    const [lo, hi] = f.extent || [-2, 2];
    const psi = Number.isFinite(f.psi) ? f.psi : 0;
    const theta = Number.isFinite(f.theta) ? f.theta : 0;
    // the D axis holds still (scales.js) instead of following ψ every frame
    const yR = rHold.update(Math.max(1.2, Math.abs(psi) * Math.max(Math.abs(lo), Math.abs(hi))));
    // the line through the frame's xs, so that a hover anywhere on it reads D, P(real) and the push there
    const xs = f.xs && f.xs.length ? Array.from(f.xs) : [lo, hi];
    const prob = f.display === "probability";
    const dl = f.d_line && f.d_line.length === xs.length ? f.d_line : null;
    const gl = f.g_grad_line && f.g_grad_line.length === xs.length ? f.g_grad_line : null;
    data[T.dline] = {
      type: "scatter", mode: "lines", name: "D(x) = ψ x", x: xs, y: xs.map((x) => psi * x), xaxis: "x2", yaxis: "y2", visible: show.d,
      customdata: xs.map((_, i) => [dl ? dl[i] : NaN, gl ? gl[i] : NaN]), hovertemplate: prob ? HOVER.dProbability : HOVER.dScore, line: { color: C.dline, width: s.line },
    };
    const h = yR * 0.55;
    data[T.real] = { type: "scatter", mode: "lines+markers", name: "real δ₀", x: [0, 0], y: [0, h], xaxis: "x2", yaxis: "y2", hoverinfo: "skip", visible: show.real, line: { color: C.real, width: s.line * 1.3 }, marker: { size: [0, s.marker + 8], symbol: "triangle-up", color: C.real } };
    // push on θ: the θ component of the field at the current point, drawn at the fake
    const push = f.fake_grad && f.fake_grad.length ? f.fake_grad[0] : 0;
    const fc = [theta, push, Math.abs(push)];
    data[T.fake] = { type: "scatter", mode: "lines+markers", name: "fake δ_θ", x: [theta, theta], y: [0, h * 0.8], xaxis: "x2", yaxis: "y2", visible: show.fake, customdata: [fc, fc], hovertemplate: HOVER.fake, line: { color: C.fake, width: s.line * 1.3 }, marker: { size: [0, s.marker + 8], symbol: "triangle-up", color: C.fake } };
    const pl = Math.sign(push) * Math.min(Math.abs(push) * 0.5, (hi - lo) * 0.25);
    const pa = Math.abs(pl) > 0.02 * (hi - lo) ? [theta, theta + pl, null, theta + pl - Math.sign(pl) * Math.min(Math.abs(pl) * 0.35, 0.08 * (hi - lo)), theta + pl, theta + pl - Math.sign(pl) * Math.min(Math.abs(pl) * 0.35, 0.08 * (hi - lo))] : [];
    const py = h * 0.8 + yR * 0.08;
    data[T.push] = { type: "scatter", mode: "lines", name: "push on θ", x: pa, y: pa.length ? [py, py, null, py + yR * 0.05, py, py - yR * 0.05] : [], xaxis: "x2", yaxis: "y2", hoverinfo: "skip", visible: show.arrows, line: { color: C.arrow, width: s.arrow } };

    // ---- the step just made (paused): where (θ, ψ) was, faded ----
    const g = f.ghost && Number.isFinite(f.ghost.theta) && Number.isFinite(f.ghost.psi) ? f.ghost : null;
    const gOn = !!g && (Math.abs(g.theta - theta) > 1e-9 || Math.abs(g.psi - psi) > 1e-9);
    const faded = "rgba(91, 15, 134, 0.45)";
    data[T.ghostNow] = { type: "scatter", mode: "markers", name: "before the step", showlegend: gOn, x: gOn ? [g.theta] : [], y: gOn ? [g.psi] : [], xaxis: "x", yaxis: "y", hoverinfo: "skip", visible: gOn, marker: { size: s.marker + 10, color: "rgba(255,255,255,0.5)", line: { color: faded, width: 2.5 } } };
    const gpsi = gOn ? g.psi : 0;
    data[T.ghostLine] = { type: "scatter", mode: "lines", name: "D before", showlegend: false, x: gOn ? [lo, hi] : [], y: gOn ? [gpsi * lo, gpsi * hi] : [], xaxis: "x2", yaxis: "y2", hoverinfo: "skip", visible: gOn && show.d, line: { color: "rgba(20,20,20,0.35)", width: s.line, dash: "dot" } };
    data[T.ghostFake] = { type: "scatter", mode: "lines", name: "δ_θ before", showlegend: false, x: gOn ? [g.theta, g.theta] : [], y: gOn ? [0, h * 0.8] : [], xaxis: "x2", yaxis: "y2", hoverinfo: "skip", visible: gOn && show.fake, line: { color: faded, width: s.line, dash: "dot" } };

    // ---- the averaged generator (g_ema > 0): δ at θ̄, dashed ----
    const emaOn = !!(f.fake_ema && f.fake_ema.length && Number.isFinite(f.fake_ema[0]));
    const tEma = emaOn ? f.fake_ema[0] : 0;
    data[T.fakeEma] = { type: "scatter", mode: "lines+markers", name: "averaged G δ_θ̄ (EMA)", showlegend: emaOn, visible: emaOn && show.fake, x: emaOn ? [tEma, tEma] : [], y: emaOn ? [0, h * 0.65] : [], xaxis: "x2", yaxis: "y2", hoverinfo: "skip", line: { color: C.fake, width: s.line * 1.3, dash: "dash" }, marker: { size: [0, s.marker + 6], symbol: "triangle-up-open", color: C.fake } };

    const { evText, verdict, stepText } = eigenText(f);

    const layout = {
      ...baseLayout(ctx.lecture),
      hoverlabel: { font: { size: s.tick }, align: "left" },   // lecture mode: large enough to read
      showlegend: true,
      legend: { orientation: "h", x: 0.5, xanchor: "center", y: 0.01, yanchor: "bottom", yref: "container", font: { size: s.tick } },
      margin: { l: ctx.lecture ? 80 : 60, r: 25, t: ctx.lecture ? 150 : 120, b: ctx.lecture ? 150 : 110 },
      xaxis: axis(ctx.lecture, { domain: [0, 0.5], range: [dlo, dhi], constrain: "domain", title: { text: "θ (generator)", font: { size: s.title } }, zeroline: true, zerolinecolor: "#bbb" }),
      yaxis: axis(ctx.lecture, { domain: [0, 1], range: [dlo, dhi], scaleanchor: "x", scaleratio: 1, constrain: "domain", title: { text: "ψ (discriminator)", font: { size: s.title } }, zeroline: true, zerolinecolor: "#bbb" }),
      xaxis2: axis(ctx.lecture, { domain: [0.63, 1], range: [lo, hi], anchor: "y2", title: { text: "x", font: { size: s.title } }, zeroline: false }),
      yaxis2: axis(ctx.lecture, { domain: [0, 1], range: [-yR, yR], anchor: "x2", title: { text: "D(x) = ψ x", font: { size: s.title } }, zeroline: true, zerolinecolor: "#666", zerolinewidth: 1.5 }),
      annotations: [
        { xref: "x domain", yref: "paper", x: 0, y: 1, yanchor: "bottom", xanchor: "left", yshift: 8, showarrow: false, align: "left",
          text: `<b>parameter space</b>   θ = ${fmt(f.theta)}, ψ = ${fmt(f.psi)}<br>flow eigenvalues at (0, 0): ${evText}${verdict ? `<br><i>${verdict}</i>` : ""}${stepText ? `<br>${stepText}` : ""}`, font: { size: s.tick } },
        { xref: "x2 domain", yref: "paper", x: 0, y: 1, yanchor: "bottom", xanchor: "left", yshift: 8, showarrow: false,
          text: "<b>data space</b><br>real δ₀, fake δ<sub>θ</sub>, D(x) = ψ x", align: "left", font: { size: s.tick } },
      ],
      datarevision: f.seq ?? Date.now(),
    };
    if (ctx.compact) compactLayout(layout, data, f, s);
    return redraw.draw(data, layout, PLOT_CONFIG);
  }

  return { div, render, redraw, resetScale() { rHold.reset(); }, traceIndex: T };
}

/** Lanes side by side: each panel is the (θ, ψ) plane with its own field and, beside it,
 * its numbers in short lines; the data-space picture and the legend are left out. */
function compactLayout(layout, data, f, s) {
  const { evText, maxMod, stepVerdict } = eigenText(f);
  for (const t of data) if (t.xaxis === "x2") t.visible = false;
  layout.showlegend = false;
  layout.margin = { ...layout.margin, t: 12, b: 50, r: 8 };
  layout.xaxis.domain = [0, 0.6];
  layout.xaxis2 = { ...layout.xaxis2, visible: false };
  layout.yaxis2 = { ...layout.yaxis2, visible: false };
  layout.annotations = [{
    xref: "paper", yref: "paper", x: 0.64, y: 1, xanchor: "left", yanchor: "top", showarrow: false, align: "left",
    text: `θ = ${fmt(f.theta)}<br>ψ = ${fmt(f.psi)}<br><br>flow λ at (0, 0):<br>${evText}${Number.isFinite(maxMod) ? `<br><br>one step:<br>max |λ| = ${maxMod.toFixed(3)}<br><i>${stepVerdict}</i>` : ""}`,
    font: { size: s.tick },
  }];
}

/** The (θ, ψ) field of a frame as arrows, lengths compressed (sqrt) so both slow and fast regions read. */
export function fieldArrows(f) {
  const [dlo, dhi] = f.dirac_extent || f.extent || [-2, 2];
  const dspan = dhi - dlo;
  const fx = [], fy = [], fu = [], fv = [];
  if (f.dirac_field && f.shapes?.dirac_field) {
    const g = f.shapes.dirac_field[0];
    const cell = dspan / (g - 1);
    let mx = 0;
    for (let i = 0; i < g * g; i++) mx = Math.max(mx, Math.hypot(f.dirac_field[2 * i], f.dirac_field[2 * i + 1]) || 0);
    for (let i = 0; i < g; i++) for (let j = 0; j < g; j++) {
      const u = f.dirac_field[(i * g + j) * 2], v = f.dirac_field[(i * g + j) * 2 + 1];
      const l = Math.hypot(u, v);
      if (!(l > 0) || !(mx > 0)) continue;
      const L = 0.8 * cell * Math.sqrt(l / mx);
      fx.push(dlo + cell * j); fy.push(dlo + cell * i); fu.push((u / l) * L); fv.push((v / l) * L);
    }
  }
  return arrowPath(fx, fy, fu, fv, { head: 0.4, maxHead: 0.3 * dspan / 20 });
}

/** The eigenvalues of a Dirac-GAN frame in words: the continuous flow's at (0, 0), its
 * verdict, and the one-step map of the discrete update (null where the step is not linear). */
export function eigenText(f) {
  if (f.eigenvalues === null) {  // the engine found no Jacobian at (0, 0): the field jumps there
    const evText = "none: the field jumps at (0, 0)";
    const verdict = "no linearisation there (a penalty of |ψ|, as WGAN-GP's, has a kink at ψ = 0)";
    return { evText, verdict, stepText: "", maxMod: NaN, stepVerdict: "" };
  }
  const ev = f.eigenvalues || [];
  const one = ([re, im]) => `${fmt(re, 3)}${Math.abs(im) > 1e-9 ? ` ${im < 0 ? "−" : "+"} ${fmt(Math.abs(im), 3)}i` : ""}`;
  const conjugate = (e) => e.length === 2 && Math.abs(e[0][0] - e[1][0]) < 1e-9 && Math.abs(e[0][1] + e[1][1]) < 1e-9 && Math.abs(e[0][1]) > 1e-9;
  const listed = (e) => !e.length ? "–" : conjugate(e) ? `${fmt(e[0][0], 3)} ± ${fmt(Math.abs(e[0][1]), 3)}i` : e.map(one).join(",  ");
  const evText = listed(ev);
  const maxRe = ev.length ? Math.max(...ev.map((e) => e[0])) : NaN;
  // about the continuous-time flow; finite steps add their own drift (simultaneous steps spiral out)
  const verdict = !Number.isFinite(maxRe) ? "" : maxRe < -1e-6 ? "Re λ < 0: the flow spirals in" : maxRe > 1e-6 ? "Re λ > 0: the flow spirals out" : "Re λ = 0: the flow circles";
  const sev = f.step_eigenvalues;
  const maxMod = Array.isArray(sev) && sev.length ? Math.max(...sev.map(([re, im]) => Math.hypot(re, im))) : NaN;
  const stepVerdict = !Number.isFinite(maxMod) ? "" : maxMod > 1 + 1e-6 ? "the steps spiral out" : maxMod < 1 - 1e-6 ? "the steps spiral in" : "neither in nor out";
  const stepText = sev === null ? "one step: no fixed map<br>(Adam and RMSprop rescale the step)"
    : !Number.isFinite(maxMod) ? ""
    : `one step of the update: ${listed(sev)}<br><i>max |λ| = ${maxMod.toFixed(4)}: ${stepVerdict}</i>`;
  return { evText, verdict, stepText, maxMod, stepVerdict };
}
