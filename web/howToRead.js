// The "how to read this" layer: what the picture shows, in words that follow the run's loss
// and view kind: the colours of D (a probability or a critic score, and where "undecided"
// is), the arrows, the faded points, the manifold lines, the field. A toggle in the row of
// view options opens it above the plot; the `?` help holds the same text. Every sentence is checked against the code
// that draws it (view2d.js, view1d.js, viewDirac.js, scales.js) or computes it (gan_core:
// losses.py, probes.py).

// Why white sits where it does, for the built-in losses (their docstrings in losses.py).
// A plug-in loss gets the general sentence of its kind only.
const BEST_IS_RATIO = "For the current fakes the best D is p<sub>r</sub> / (p<sub>r</sub> + p<sub>g</sub>): 0.5 wherever real and fake are equally dense.";
const WHY_WHITE = {
  minimax: BEST_IS_RATIO,
  nonsaturating: BEST_IS_RATIO,
  feature_matching: BEST_IS_RATIO,
  fgan_reverse_kl: `D's score is a logit here too (its best value is log(p<sub>r</sub> / p<sub>g</sub>)). ${BEST_IS_RATIO}`,
  lsgan: "LSGAN regresses D onto 1 for real samples and 0 for fakes: 0.5 is halfway, and the best D for the current fakes is p<sub>r</sub> / (p<sub>r</sub> + p<sub>g</sub>) on this scale.",
  hinge: "0 is the hinge's boundary: D stops learning from a real sample once its score is above +1, and from a fake once it is below −1.",
  fgan_kl: "The best score for the current fakes is 1 + log(p<sub>r</sub> / p<sub>g</sub>): 1 where real and fake are equally dense.",
  fgan_pearson: "The best score for the current fakes is 2 (p<sub>r</sub> / p<sub>g</sub> − 1): 0 where real and fake are equally dense.",
  fgan_hellinger: "The best score for the current fakes is log(p<sub>r</sub> / p<sub>g</sub>) / 2: 0 where real and fake are equally dense.",
  wgan: "Only differences of the score mean anything: adding a constant to D changes neither player's gradient.",
  rsgan: "Only differences of the score mean anything: both losses compare D(x) with D(G(z)).",
  ebgan: "D is an autoencoder and its score is minus its reconstruction energy: high where it reconstructs well, as it learns to on real data.",
};

const num = (v) => String(+Number(v).toPrecision(3));

/** What D's colours (2D) or D's line (1D) mean for this loss. info: the schema's entry for
 * the loss ({shows_probability, undecided}); undecided null: the midpoint of the scores. */
function dMeaning(loss, info, kind) {
  const why = WHY_WHITE[loss] ? ` ${WHY_WHITE[loss]}` : "";
  const oneD = kind === "1d";
  const w = oneD
    ? { what: "The black line (right axis) is", real: "above the dotted line", fake: "below it", at: "the dotted line" }
    : { what: "The colour is", real: "green", fake: "purple", at: "white" };
  if (info?.shows_probability) {
    return `${w.what} sigmoid(D(x)), the probability D gives that x is real: ${w.real} towards 1 (looks real), ${w.fake} towards 0 (looks fake), ${w.at} at 0.5, where D is undecided. Fixed scale, 0 to 1.${why}`;
  }
  const scale = oneD
    ? " The right axis reaches at least the farthest score on the line."
    : " Each side of white reaches at least the farthest score on the plot (the colour bar gives the numbers).";
  if (info && info.undecided === null) {
    return `${w.what} D's raw critic score D(x), not a probability. This loss has no fixed undecided level, so ${w.at} is halfway between D's mean scores on the real and on the fake samples shown: ${w.real} is more real than that, ${w.fake} more fake.${why}${scale}`;
  }
  const u = info && Number.isFinite(info.undecided) ? num(info.undecided) : "the loss's undecided level";
  return `${w.what} D's raw critic score D(x), not a probability: ${w.real} says real, ${w.fake} says fake, ${w.at} is D(x) = ${u}, where this loss cannot tell.${why}${scale}`;
}

/** The items of the layer for a loss and a view kind: [{key, term, text}]. */
export function readingFor({ loss, info, kind }) {
  if (kind === "dirac") {
    return [
      { key: "plane", term: "(θ, ψ) plane", text: "G is a point mass δ<sub>θ</sub>, D a line D(x) = ψ x, the real data δ<sub>0</sub>. Grey arrows: the training dynamics (dθ/dt, dψ/dt) = (−∂L<sub>G</sub>/∂θ, −∂L<sub>D</sub>/∂ψ) at each (θ, ψ), lengths compressed (square root) so slow and fast regions both read; purple line: the path so far; star: the equilibrium (0, 0)." },
      { key: "colours", term: "D", text: "Beside the plane: D(x) = ψ x as its raw score (not a probability), with δ<sub>0</sub> (green) and δ<sub>θ</sub> (purple); the orange arrow is the push on θ, the θ part of the field." },
      { key: "faded", term: "faded", text: "After Step, Step D or Step G while paused: (θ, ψ), the line D and δ<sub>θ</sub> before the step, faded or dotted." },
    ];
  }
  const oneD = kind === "1d";
  const items = [
    { key: "colours", term: oneD ? "D(x)" : "D's colours", text: dMeaning(loss, info, kind) },
    {
      key: "arrows", term: "arrows",
      text: `−∂L<sub>G</sub>/∂x at a fake sample (the gradient of its own term of L<sub>G</sub>): where that sample would move to lower L<sub>G</sub> fastest; G follows only through its weights. One scale for every arrow of a frame: a typical push (the 90th percentile; it rises at once and falls back slowly) is drawn as ${oneD ? "6 % of the axis" : "7 % of the plot's width"}; the note ${oneD ? "under the axis" : "above the plot"} states the median push (L<sub>G</sub> per unit of x).${oneD ? " Drawn at every k-th fake, about two dozen, a row each." : " At most 256 are drawn (every k-th fake beyond; the note says so)."}`,
    },
    {
      key: "faded", term: "faded points",
      text: oneD
        ? "After Step, Step D or Step G while paused: the fake density and D(x) before the step (dotted) and the fakes before it (hollow, a line to where each went). Playing drops them."
        : "After Step, Step D or Step G while paused: the fakes before the step, hollow, each with a thin line to where it went; after a step that moved D (Step, Step D) also D's white line before (dotted) and after (solid). Playing drops them.",
    },
    { key: "samples", term: "dots", text: `Green: real samples; purple: fakes, G(z) for one fixed batch of z, so the same fakes move from frame to frame${oneD ? "" : " (trails: their last positions); samples outside the plot are triangles on its edge"}.` },
  ];
  if (!oneD) {
    items.push(
      { key: "manifold", term: "manifold lines", text: "G on a grid of the first two latent coordinates (−2 to 2 for Gaussian noise, −1 to 1 for uniform, any others 0), drawn as the grid's lines, z₁ = const in blue and z₂ = const in orange, each from light (its lowest value) to dark (its highest): where they bunch G squeezes the latent space, where they fold different z land on the same place." },
      { key: "field", term: "gradient field", text: "The push −∂L<sub>G</sub>/∂x a fake would get at each point of a grid, against the current fakes, at the arrows' scale (each capped at 0.9 of the grid spacing)." },
    );
  }
  return items;
}

const asHtml = (items) => `<dl class="how-to-read-list">${items.map((it) => `<div data-key="${it.key}"><dt>${it.term}</dt><dd>${it.text}</dd></div>`).join("")}</dl>`;

/**
 * The layer: a toggle button at the end of `toggleIn` (the view options' row), a panel
 * inserted before `before` (the views), and the same text in `help` (the `?` overlay). update({loss, info, kind}) redraws the text when the loss
 * or the view kind changed; it is cheap to call every frame.
 */
export function createHowToRead({ toggleIn, before, help }) {
  if (!document.querySelector('link[href="howToRead.css"]')) {
    document.head.append(Object.assign(document.createElement("link"), { rel: "stylesheet", href: "howToRead.css" }));
  }
  const toggle = Object.assign(document.createElement("button"), { id: "btn-how-to-read", type: "button", className: "how-to-read-toggle" });
  toggle.setAttribute("aria-controls", "how-to-read");
  toggle.title = "How to read this: what the colours, arrows, faded points, lines and field show (also in the ? help)";
  const panel = Object.assign(document.createElement("section"), { id: "how-to-read", className: "how-to-read", hidden: true });
  panel.setAttribute("aria-label", "how to read this");
  toggleIn.append(toggle);
  before.before(panel);
  let key = "";
  const show = (open) => {
    panel.hidden = !open;
    toggle.textContent = open ? "▾ How to read" : "▸ How to read";   // short: it shares the options' row
    toggle.setAttribute("aria-expanded", String(open));
  };
  toggle.addEventListener("click", () => show(panel.hidden));
  show(false);

  function update({ loss, info, kind }) {
    const now = `${loss}|${kind}|${info?.shows_probability}|${info?.undecided}`;
    if (now === key) return false;
    key = now;
    const html = asHtml(readingFor({ loss, info, kind }));
    panel.innerHTML = html;
    panel.dataset.loss = loss ?? "";
    if (help) { help.innerHTML = html; help.dataset.loss = loss ?? ""; }
    return true;
  }

  return { update, show, get open() { return !panel.hidden; } };
}
