// The lecture gallery: every preset of GET /api/presets as a card with its title and a small
// picture of its typical moment (web/thumbs/NAME.png, made by tools/make_thumbnails.py).
// thumbs/index.json (written by the same script) lists the pictures there are, so a preset
// added later gets a title-only card without a request for a missing file (no 404 in the
// console); an <img> is only shown once it has loaded, so never as a broken-image icon.

const el = (tag, props = {}, ...kids) => {
  const n = Object.assign(document.createElement(tag), props);
  n.append(...kids.filter((k) => k !== null && k !== undefined));
  return n;
};

/**
 * createGallery(slot, {onPick(name), collapsed}) -> {load(), setCurrent(name), setCollapsed(bool), presets}
 */
export function createGallery(slot, { onPick, collapsed = false } = {}) {
  let presets = [];
  let current = null;
  const toggle = el("button", { className: "gallery-toggle", type: "button", id: "gallery-toggle" });
  const grid = el("div", { className: "gallery-grid", id: "gallery-grid", role: "list" });
  const root = el("section", { className: "gallery", id: "gallery" }, toggle, grid);
  root.setAttribute("aria-label", "lecture gallery");
  toggle.setAttribute("aria-controls", "gallery-grid");
  slot.replaceChildren(root);
  toggle.addEventListener("click", () => {
    const open = root.classList.contains("collapsed");
    setCollapsed(!open);
    // bring the cards into view inside the side panel (not the whole page)
    const panel = root.closest("#side");
    if (open && panel) panel.scrollTo({ top: Math.max(0, toggle.offsetTop - 8), behavior: "smooth" });
  });

  function label() {
    const open = !root.classList.contains("collapsed");
    toggle.innerHTML = "";
    toggle.append(
      el("span", { className: "gallery-caret", textContent: open ? "▾" : "▸" }),
      el("span", { className: "gallery-name", textContent: "Lecture gallery" }),
      el("span", { className: "gallery-count", textContent: presets.length ? String(presets.length) : "" }),
    );
    toggle.setAttribute("aria-expanded", String(open));
    toggle.title = open ? "Hide the presets" : "Show all presets";
  }

  function setCollapsed(c) {
    root.classList.toggle("collapsed", !!c);
    grid.hidden = !!c;
    label();
  }

  let thumbs = new Set();

  function card(p) {
    const b = el("button", { type: "button", className: "gcard no-thumb", title: p.note || p.title || p.name });
    b.dataset.preset = p.name;
    b.setAttribute("role", "listitem");
    const pic = el("span", { className: "gcard-pic" });
    if (thumbs.has(p.name)) {
      const img = el("img", { alt: "", width: 240, height: 160, decoding: "async", draggable: false });
      img.hidden = true;
      img.addEventListener("load", () => { img.hidden = false; b.classList.remove("no-thumb"); });
      img.addEventListener("error", () => img.remove());
      img.src = `thumbs/${encodeURIComponent(p.name)}.png`;
      pic.append(img);
    }
    b.append(pic, el("span", { className: "gcard-title", textContent: p.title || p.name }));
    b.addEventListener("click", () => onPick?.(p.name));
    return b;
  }

  async function load() {
    const [list, index] = await Promise.all([
      fetch("/api/presets").then((r) => (r.ok ? r.json() : [])).catch(() => []),
      fetch("thumbs/index.json").then((r) => (r.ok ? r.json() : {})).catch(() => ({})),
    ]);
    presets = Array.isArray(list) ? list : [];
    thumbs = new Set(Object.keys(index.thumbs || {}));
    grid.replaceChildren(...presets.map(card));
    if (!presets.length) grid.append(el("p", { className: "muted", textContent: "No presets on this server." }));
    setCurrent(current);
    label();
    return presets;
  }

  function setCurrent(name) {
    current = name;
    for (const b of grid.querySelectorAll(".gcard")) {
      const on = b.dataset.preset === name;
      b.classList.toggle("current", on);
      b.setAttribute("aria-current", on ? "true" : "false");
    }
  }

  setCollapsed(collapsed);
  return { root, load, setCurrent, setCollapsed, get presets() { return presets; }, get collapsed() { return root.classList.contains("collapsed"); } };
}
