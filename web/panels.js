// The lanes as small multiples: one panel per lane (a head with the lane's colour, title and
// iteration above its own plot), all of one kind, laid out in a grid; or one panel with every
// lane drawn in it (the overlay of 1D lanes and of Dirac-GAN trajectories).
// Panel 0 holds the page's first plot divs (#view2d, #view1d, #viewDirac, #viewOverlay1d,
// #viewOverlayDirac); the others are made here when a lane needs them and kept for reuse.

const KINDS = ["2d", "1d", "dirac", "overlay1d", "overlayDirac"];
const DIV_ID = { "2d": "view2d", "1d": "view1d", dirac: "viewDirac", overlay1d: "viewOverlay1d", overlayDirac: "viewOverlayDirac" };

/** factories: {kind: (div) => view} for every kind above. onSelect(laneId) on a click on a head. */
export function createPanels(wrap, factories, { onSelect } = {}) {
  const panels = [];   // [{el, head, views: {kind: view}}]

  function panel(pos) {
    while (panels.length <= pos) {
      const i = panels.length;
      let el = wrap.querySelector(`.lane-panel[data-pos="${i}"]`);
      if (!el) {
        el = document.createElement("div");
        el.className = "lane-panel";
        el.dataset.pos = String(i);
        el.innerHTML = `<div class="lane-head"></div>`;
        wrap.append(el);
      }
      const head = el.querySelector(".lane-head");
      head.addEventListener("click", () => { if (head.dataset.lane) onSelect?.(+head.dataset.lane); });
      panels.push({ el, head, views: {} });
    }
    return panels[pos];
  }

  function view(pos, kind) {
    const p = panel(pos);
    if (!p.views[kind]) {
      let div = pos === 0 ? document.getElementById(DIV_ID[kind]) : null;
      if (!div) {
        div = document.createElement("div");
        div.className = "plot view";
        div.dataset.kind = kind;
        div.id = `${DIV_ID[kind]}-${pos + 1}`;
        p.el.append(div);
      }
      p.views[kind] = factories[kind](div);
    }
    return p.views[kind];
  }

  /**
   * Show `count` panels of `kind` (an overlay kind: one panel). Returns the views by position.
   * heads: [{lane, color, title, detail, selected}] by position.
   */
  function arrange(kind, heads) {
    const overlay = kind.startsWith("overlay");
    const n = overlay ? 1 : Math.max(1, heads.length);
    wrap.dataset.lanes = String(n);
    wrap.classList.toggle("multi", n > 1);
    wrap.classList.toggle("one-plot", overlay && heads.length > 1);
    const views = [];
    for (let i = 0; i < Math.max(n, panels.length); i++) {
      const p = panel(i);
      p.el.hidden = i >= n;
      if (i >= n) continue;
      const v = view(i, kind);
      views.push(v);
      for (const k of KINDS) if (p.views[k]) p.views[k].div.hidden = k !== kind;
      for (const k of KINDS) {
        const d = p.el.querySelector(`.plot.view[data-kind="${k}"]`);
        if (d && !p.views[k]) d.hidden = true;
      }
      const h = overlay ? null : heads[i];
      p.head.hidden = !h || heads.length < 2;
      const key = h ? JSON.stringify([h, i]) : "";
      if (h && key !== p.headKey) {
        p.headKey = key;
        p.head.dataset.lane = String(h.lane);
        p.head.style.setProperty("--lane", h.color);
        p.head.classList.toggle("selected", !!h.selected);
        p.head.innerHTML = "";
        const sw = Object.assign(document.createElement("span"), { className: "lane-num", textContent: String(i + 1) });
        const title = Object.assign(document.createElement("span"), { className: "lane-title", textContent: h.title });
        const it = Object.assign(document.createElement("span"), { className: "lane-it", textContent: h.detail });
        p.head.append(sw, title, it);
        p.head.title = `Lane ${i + 1}: ${h.title}${h.selected ? " (the settings panel edits it)" : " — click to edit its settings"}`;
      }
    }
    return views;
  }

  return {
    arrange,
    /** every view made so far (for a resize) */
    all: () => panels.flatMap((p) => Object.values(p.views)),
    view,
  };
}
