// 1D lanes in one plot (the overlay of docs: e.g. the GAN, LSGAN and hinge D curves of
// lsgan_and_hinge beside each other): the real density once, and per lane its fake density
// (solid) and its D(x) (dashed, on one D axis that spans every lane's values: a probability
// for the losses that show one, the raw score for the others), in the lane's colour. Hover on
// a D curve: the lane, x, D(x) and the push there. Round ticks; the axes hold still (scales.js).

import { C, sizes, baseLayout, axis, PLOT_CONFIG } from "./theme.js";
import { HeldBound, niceTicks } from "./scales.js";
import { createRedraw } from "./redraw.js";
import { layerOn } from "./view1d.js";

const HOVER_D = "%{fullData.name}<br>x = %{x:.3f}<br>D(x) = %{y:.4g}<br>push −∂L<sub>G</sub>/∂x on a fake here = %{customdata:.3g}<extra></extra>";

export function createView1dLanes(div) {
  const redraw = createRedraw(div);
  const yHold = new HeldBound(), loHold = new HeldBound(), hiHold = new HeldBound();
  let ymax = 0;
  let dlo = 0, dhi = 1;

  /** items: [{frame, color, name}] in lane order (lane 1 first). */
  function render(items, ctx) {
    const s = sizes(ctx.lecture);
    const first = items[0]?.frame;
    if (!first) return;
    const [lo, hi] = first.extent || [-4, 4];
    let m = 0, dmin = Infinity, dmax = -Infinity;
    for (const { frame: f } of items) {
      for (const v of f.fake_density || []) if (Number.isFinite(v)) m = Math.max(m, v);
      for (const v of f.real_density || []) if (Number.isFinite(v)) m = Math.max(m, v);
      for (const v of f.d_line || []) if (Number.isFinite(v)) { dmin = Math.min(dmin, v); dmax = Math.max(dmax, v); }
    }
    ymax = yHold.update(m);
    if (Number.isFinite(dmin)) {
      // the D axis holds 0..1 at least (a probability); each end holds still (scales.js)
      dlo = Math.min(0, -loHold.update(Math.max(0, -dmin)));
      dhi = Math.max(1, hiHold.update(dmax));
    }
    const show = { d: layerOn(ctx.view, "d"), real: layerOn(ctx.view, "real"), fake: layerOn(ctx.view, "fake") };
    const pad = 0.08 * (dhi - dlo);
    const data = [{
      type: "scatter", mode: "lines", name: "real density", x: first.xs ? Array.from(first.xs) : [], y: first.real_density ? Array.from(first.real_density) : [],
      fill: "tozeroy", fillcolor: "rgba(17, 122, 58, 0.18)", line: { color: C.real, width: s.line * 0.8 }, hoverinfo: "skip", legendgroup: "real", visible: show.real,
    }];
    for (const { frame: f, color, name } of items) {
      const xs = f.xs ? Array.from(f.xs) : [];
      data.push({
        type: "scatter", mode: "lines", name: `${name}: fakes`, x: xs, y: f.fake_density ? Array.from(f.fake_density) : [],
        line: { color, width: s.line * 0.75 }, hoverinfo: "skip", legendgroup: name, meta: { lane: f.lane ?? null, series: "fake_density" }, visible: show.fake,
      });
      data.push({
        type: "scatter", mode: "lines", name: `${name}: D(x)`, x: xs, y: f.d_line ? Array.from(f.d_line) : [], yaxis: "y2", visible: show.d,
        customdata: f.g_grad_line && f.g_grad_line.length === xs.length ? Array.from(f.g_grad_line) : xs.map(() => NaN), hovertemplate: HOVER_D,
        line: { color, width: s.line, dash: "dash" }, legendgroup: name, meta: { lane: f.lane ?? null, series: "d_line" },
      });
    }
    const anyProb = items.some((i) => i.frame.display === "probability");
    const anyScore = items.some((i) => i.frame.display !== "probability");
    const dTitle = anyProb && anyScore ? "D(x): P(real), or the raw score" : anyProb ? "D(x) = P(real)" : "critic score D(x)";
    const layout = {
      ...baseLayout(ctx.lecture),
      margin: { l: ctx.lecture ? 80 : 60, r: ctx.lecture ? 90 : 70, t: 10, b: ctx.lecture ? 60 : 46 },
      hoverlabel: { font: { size: s.tick }, align: "left" },   // lecture mode: large enough to read
      showlegend: true,
      legend: { orientation: "h", x: 0, y: -0.14, yanchor: "top", font: { size: s.tick }, bgcolor: "rgba(255,255,255,0)" },
      xaxis: axis(ctx.lecture, { range: [lo, hi], zeroline: false, title: { text: "x", font: { size: s.title }, standoff: 2 } }),
      yaxis: axis(ctx.lecture, { range: [0, ymax], title: { text: "density (solid)", font: { size: s.title } }, zeroline: true, zerolinecolor: "#444", tickvals: niceTicks(0, ymax) }),
      yaxis2: axis(ctx.lecture, {
        range: [dlo - pad, dhi + pad], overlaying: "y", side: "right", showgrid: false, zeroline: true, zerolinecolor: "#bbb", mirror: false, tickvals: niceTicks(dlo - pad, dhi + pad, 5),
        title: { text: `${dTitle} (dashed)`, font: { size: s.title } },
      }),
      datarevision: items.map((i) => i.frame.seq).join(","),
    };
    return redraw.draw(data, layout, PLOT_CONFIG);
  }

  return { div, render, redraw, resetScale() { yHold.reset(); loHold.reset(); hiHold.reset(); ymax = 0; dlo = 0; dhi = 1; }, overlay: true };
}
