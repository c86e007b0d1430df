// Small DOM helpers the view's modules share: elements, buttons that say what they do, numbers.

/** A formatter made once (toLocaleString makes one per call). */
export const numbers = new Intl.NumberFormat("en-US");

export function el(tag, props = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/** A small tool button: its words show, `title` says what it does (tooltip and aria-label). */
export function button(label, title, onClick) {
  const b = el("button", { type: "button", className: "miosa-tool", textContent: label, title });
  b.setAttribute("aria-label", title);
  b.addEventListener("click", onClick);
  return b;
}
